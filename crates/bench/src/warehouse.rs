//! The warehouse the platform does not have: fulfillment's pick, pack and hand-over are operator
//! RPCs, so without someone playing the warehouse no order gets past IN_FULFILLMENT and the whole
//! cycle cannot be measured.
//!
//! One *waver* task pages through the PENDING ship fulfillments of the seeded warehouse
//! (`ListFulfillments`, oldest first), puts them in pick waves of up to `wave_size`
//! (`CreatePickWave` with the ids) and queues the waved fulfillments; `workers` tasks take them
//! from the queue and, per fulfillment, confirm the pick from the allocated bins (`ConfirmPick`),
//! pack one parcel (`PackParcel`, which books the shipment) and hand it over (`HandOver`). Every
//! request id carries the run id, so a second run against the same platform never replays a
//! first run's answers.
//!
//! The worker has its own connections and its own histograms: its RPCs never reach the
//! PlaceOrder histogram (they do share the machine's CPU with the platform).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::common::{Dimensions, FulfillmentMode};
use contracts::fulfillment::fulfillment_service_client::FulfillmentServiceClient;
use contracts::fulfillment::{
    ConfirmPickRequest, CreatePickWaveRequest, Fulfillment, FulfillmentStatus, HandOverRequest,
    ListFulfillmentsRequest, PackParcelRequest, ParcelLine,
};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, watch};
use tonic::transport::Channel as GrpcChannel;

use crate::load::{histogram, record};
use crate::seed;
use crate::sys::round;

type Client = FulfillmentServiceClient<GrpcChannel>;

/// ListFulfillments' largest page.
const PAGE_SIZE: i32 = 200;
/// Fulfillments listed per round before waving them (the rest waits for the next round).
const MAX_PER_ROUND: usize = 1_000;
/// How long the waver waits when nothing is pending.
const IDLE: Duration = Duration::from_millis(200);
/// Packaging added to the catalog weight of the contents (inside fulfillment's tolerance).
const PACKAGING_GRAMS: i32 = 50;

#[derive(Debug, Clone)]
pub struct Config {
    /// Fulfillment's gRPC endpoint.
    pub target: String,
    pub workers: u32,
    pub warehouse_id: String,
    /// Fulfillments per pick wave (CreatePickWave takes at most 200).
    pub wave_size: usize,
    /// Unique per run; every request id starts with it.
    pub run_id: String,
}

/// The request ids of one run: `bench-<run>-<what>-<key>`.
fn request_id(run_id: &str, what: &str, key: &str) -> String {
    format!("bench-{run_id}-{what}-{key}")
}

/// What the warehouse did, and how long fulfillment took to answer it.
pub struct Stats {
    pub waves: u64,
    pub waved: u64,
    pub picked: u64,
    pub packed: u64,
    pub handed_over: u64,
    /// `<Rpc> <code>` → count.
    pub errors: BTreeMap<String, u64>,
    /// Per RPC name.
    pub latency: BTreeMap<&'static str, Histogram<u64>>,
}

impl Stats {
    fn new() -> Self {
        Self {
            waves: 0,
            waved: 0,
            picked: 0,
            packed: 0,
            handed_over: 0,
            errors: BTreeMap::new(),
            latency: BTreeMap::new(),
        }
    }

    fn merge(&mut self, other: Self) {
        self.waves += other.waves;
        self.waved += other.waved;
        self.picked += other.picked;
        self.packed += other.packed;
        self.handed_over += other.handed_over;
        for (key, n) in other.errors {
            *self.errors.entry(key).or_default() += n;
        }
        for (rpc, h) in other.latency {
            let _ = self.latency.entry(rpc).or_insert_with(histogram).add(&h);
        }
    }

    /// Times one RPC; an error is counted by RPC and gRPC code and comes back as `None`.
    async fn timed<T>(
        &mut self,
        rpc: &'static str,
        call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Option<T> {
        let sent = Instant::now();
        let result = call.await;
        record(
            self.latency.entry(rpc).or_insert_with(histogram),
            sent.elapsed(),
        );
        match result {
            Ok(response) => Some(response.into_inner()),
            Err(status) => {
                *self
                    .errors
                    .entry(format!("{rpc} {:?}", status.code()))
                    .or_default() += 1;
                None
            }
        }
    }

    /// The `warehouse` object of the report; `secs` is how long the warehouse ran.
    pub fn json(&self, config: &Config, secs: f64) -> Value {
        let ms = |h: &Histogram<u64>, q: f64| round(h.value_at_quantile(q) as f64 / 1000.0, 2);
        let rpc: serde_json::Map<String, Value> = self
            .latency
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(name, h)| {
                (
                    (*name).to_owned(),
                    json!({"calls": h.len(), "p50_ms": ms(h, 0.5), "p99_ms": ms(h, 0.99), "max_ms": ms(h, 1.0)}),
                )
            })
            .collect();
        json!({
            "workers": config.workers,
            "wave_size": config.wave_size,
            "run_id": config.run_id,
            "active_s": round(secs, 1),
            "waves": self.waves,
            "fulfillments_waved": self.waved,
            "picked": self.picked,
            "packed": self.packed,
            "handed_over": self.handed_over,
            "handed_over_per_s": if secs > 0.0 { json!(round(self.handed_over as f64 / secs, 1)) } else { Value::Null },
            "errors_by_rpc": self.errors,
            "rpc": rpc,
        })
    }
}

/// A running warehouse; [`Warehouse::stop`] ends it and returns what it did.
pub struct Warehouse {
    stop: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<Stats>,
    started: Instant,
}

async fn connect(target: &str) -> anyhow::Result<Client> {
    let channel = tonic::transport::Endpoint::from_shared(target.to_owned())?
        .tcp_nodelay(true)
        .connect()
        .await?;
    Ok(FulfillmentServiceClient::new(channel))
}

impl Warehouse {
    pub async fn start(config: &Config) -> anyhow::Result<Self> {
        let (stop, stopped) = watch::channel(false);
        // Room for a few waves per worker: the waver stays ahead without hoarding the backlog
        // (a waved fulfillment is PICKING and no longer listed, so whatever sits here is ours).
        let (queue, inbox) =
            mpsc::channel::<Fulfillment>(config.wave_size * 2 * config.workers as usize);
        let inbox = Arc::new(Mutex::new(inbox));
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(wave(
            connect(&config.target).await?,
            config.clone(),
            queue,
            stopped.clone(),
        ));
        for _ in 0..config.workers {
            tasks.spawn(work(
                connect(&config.target).await?,
                config.run_id.clone(),
                inbox.clone(),
                stopped.clone(),
            ));
        }
        Ok(Self {
            stop,
            tasks,
            started: Instant::now(),
        })
    }

    /// Stops after the RPC in flight; fulfillments waved but not worked yet stay PICKING.
    pub async fn stop(mut self) -> (Stats, Duration) {
        let _ = self.stop.send(true);
        let ran = self.started.elapsed();
        let mut total = Stats::new();
        while let Some(done) = self.tasks.join_next().await {
            if let Ok(stats) = done {
                total.merge(stats);
            }
        }
        (total, ran)
    }
}

fn stopping(stopped: &watch::Receiver<bool>) -> bool {
    *stopped.borrow()
}

/// Sleeps `d` unless told to stop first; true if told to stop.
async fn idle(stopped: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = stopped.changed() => true,
        () = tokio::time::sleep(d) => stopping(stopped),
    }
}

/// Up to [`MAX_PER_ROUND`] pending ship fulfillments of the warehouse, oldest first.
async fn list_pending(client: &mut Client, config: &Config, stats: &mut Stats) -> Vec<Fulfillment> {
    let mut found = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListFulfillmentsRequest {
            page_size: PAGE_SIZE,
            page_token: page_token.clone(),
            warehouse_id: config.warehouse_id.clone(),
            order_id: String::new(),
            statuses: vec![FulfillmentStatus::Pending.into()],
            fulfillment_mode: FulfillmentMode::Ship.into(),
        };
        let Some(page) = stats
            .timed("ListFulfillments", client.list_fulfillments(request))
            .await
        else {
            break;
        };
        found.extend(page.fulfillments);
        if page.next_page_token.is_empty() || found.len() >= MAX_PER_ROUND {
            break;
        }
        page_token = page.next_page_token;
    }
    found
}

/// The waver: list, wave in batches, queue for the workers.
async fn wave(
    mut client: Client,
    config: Config,
    queue: mpsc::Sender<Fulfillment>,
    mut stopped: watch::Receiver<bool>,
) -> Stats {
    let mut stats = Stats::new();
    let mut wave_no: u64 = 0;
    'rounds: while !stopping(&stopped) {
        let pending = list_pending(&mut client, &config, &mut stats).await;
        if pending.is_empty() {
            if idle(&mut stopped, IDLE).await {
                break;
            }
            continue;
        }
        for batch in pending.chunks(config.wave_size.clamp(1, 200)) {
            wave_no += 1;
            let request = CreatePickWaveRequest {
                request_id: request_id(&config.run_id, "wave", &wave_no.to_string()),
                warehouse_id: config.warehouse_id.clone(),
                fulfillment_ids: batch.iter().map(|f| f.id.clone()).collect(),
                max_fulfillments: i32::try_from(batch.len()).unwrap_or(200),
            };
            let Some(created) = stats
                .timed("CreatePickWave", client.create_pick_wave(request))
                .await
            else {
                continue;
            };
            let members = created.wave.map(|w| w.fulfillment_ids).unwrap_or_default();
            stats.waves += 1;
            // Only what the wave took: a fulfillment cancelled meanwhile is not in it.
            for f in batch.iter().filter(|f| members.contains(&f.id)) {
                stats.waved += 1;
                tokio::select! {
                    sent = queue.send(f.clone()) => if sent.is_err() { break 'rounds },
                    _ = stopped.changed() => break 'rounds,
                }
            }
        }
    }
    stats
}

/// One parcel with every line; weighed as the catalog says plus the packaging.
fn parcel_request(run_id: &str, f: &Fulfillment) -> PackParcelRequest {
    let units: i32 = f.lines.iter().map(|l| l.quantity).sum();
    PackParcelRequest {
        request_id: request_id(run_id, "pack", &f.id),
        fulfillment_id: f.id.clone(),
        lines: f
            .lines
            .iter()
            .map(|l| ParcelLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect(),
        weight_grams: units * seed::WEIGHT_GRAMS + PACKAGING_GRAMS,
        dimensions: Some(Dimensions {
            length_mm: 300,
            width_mm: 200,
            height_mm: 150,
        }),
        packed_by: "bench-packer".into(),
        preferred_carrier: String::new(),
    }
}

/// A worker: pick, pack and hand over one queued fulfillment after another.
async fn work(
    mut client: Client,
    run_id: String,
    inbox: Arc<Mutex<mpsc::Receiver<Fulfillment>>>,
    mut stopped: watch::Receiver<bool>,
) -> Stats {
    let mut stats = Stats::new();
    loop {
        let next = tokio::select! {
            f = async { inbox.lock().await.recv().await } => f,
            _ = stopped.changed() => None,
        };
        let Some(f) = next else { break };
        let pick = ConfirmPickRequest {
            fulfillment_id: f.id.clone(),
            lines: f.picked_as_allocated(),
            picker_id: "bench-picker".into(),
        };
        if stats
            .timed("ConfirmPick", client.confirm_pick(pick))
            .await
            .is_none()
        {
            continue;
        }
        stats.picked += 1;
        let Some(packed) = stats
            .timed(
                "PackParcel",
                client.pack_parcel(parcel_request(&run_id, &f)),
            )
            .await
        else {
            continue;
        };
        stats.packed += 1;
        let hand_over = HandOverRequest {
            request_id: request_id(&run_id, "handover", &f.id),
            fulfillment_id: f.id.clone(),
            parcel_ids: packed.parcel.map(|p| p.id).into_iter().collect(),
            handed_over_by: "bench-dock".into(),
        };
        if stats
            .timed("HandOver", client.hand_over(hand_over))
            .await
            .is_some()
        {
            stats.handed_over += 1;
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use contracts::common::{BinAllocation, Money};
    use contracts::fulfillment::FulfillmentLine;

    use super::*;

    fn line(id: &str, quantity: i32, bins: &[(&str, i32)]) -> FulfillmentLine {
        FulfillmentLine {
            line_id: id.into(),
            sku: format!("SKU-{id}"),
            quantity,
            unit_price: Some(Money {
                currency_code: "EUR".into(),
                amount_minor: 1000,
            }),
            bins: bins
                .iter()
                .map(|(bin, q)| BinAllocation {
                    bin: (*bin).into(),
                    quantity: *q,
                    pick_sequence: 1,
                })
                .collect(),
            ..Default::default()
        }
    }

    fn fulfillment() -> Fulfillment {
        Fulfillment {
            id: "f-1".into(),
            lines: vec![
                line("l1", 3, &[("A-01", 2), ("A-02", 1)]),
                line("l2", 1, &[]),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn the_pick_takes_each_allocated_bin_and_lines_without_bins_as_listed() {
        let picked = fulfillment().picked_as_allocated();
        let got: Vec<(&str, &str, i32)> = picked
            .iter()
            .map(|p| (p.line_id.as_str(), p.bin.as_str(), p.quantity))
            .collect();
        assert_eq!(got, [("l1", "A-01", 2), ("l1", "A-02", 1), ("l2", "", 1)]);
    }

    #[test]
    fn one_parcel_holds_every_unit_and_weighs_the_catalog_weight_plus_packaging() {
        let p = parcel_request("run7", &fulfillment());
        assert_eq!(p.lines.len(), 2);
        assert_eq!(p.lines.iter().map(|l| l.quantity).sum::<i32>(), 4);
        assert_eq!(p.weight_grams, 4 * seed::WEIGHT_GRAMS + PACKAGING_GRAMS);
        assert_eq!(p.request_id, "bench-run7-pack-f-1");
    }

    #[test]
    fn request_ids_differ_between_runs() {
        assert_ne!(request_id("a", "wave", "1"), request_id("b", "wave", "1"));
    }

    #[test]
    fn the_report_lists_only_rpcs_that_were_called() {
        let mut stats = Stats::new();
        record(
            stats.latency.entry("HandOver").or_insert_with(histogram),
            Duration::from_millis(3),
        );
        stats.latency.insert("PackParcel", histogram());
        stats.handed_over = 10;
        let config = Config {
            target: String::new(),
            workers: 2,
            warehouse_id: "wh".into(),
            wave_size: 50,
            run_id: "r".into(),
        };
        let v = stats.json(&config, 5.0);
        assert_eq!(v["handed_over_per_s"], json!(2.0));
        assert_eq!(v["rpc"]["HandOver"]["calls"], json!(1));
        assert!(v["rpc"].get("PackParcel").is_none());
    }
}
