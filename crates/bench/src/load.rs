//! The load: PlaceOrder from N closed-loop clients or at a fixed rate (open loop), latency in
//! HDR histograms, errors by gRPC code, and the placement time of every order for the lag to
//! CONFIRMED.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::common::{Address, Channel, Customer, FulfillmentMode, Money, PaymentMethod};
use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::{NewOrderLine, PaymentInstruction, PlaceOrderRequest};
use hdrhistogram::Histogram;
use tokio::sync::Semaphore;
use tonic::transport::Channel as GrpcChannel;

use crate::events::Tracker;
use crate::seed;

/// Microseconds, 1 µs … 60 s, 3 significant figures.
#[expect(
    clippy::expect_used,
    reason = "constant bounds hdrhistogram always accepts"
)]
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

pub fn record(h: &mut Histogram<u64>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    h.saturating_record(micros);
}

/// The measured window: requests answered inside it count.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn contains(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }

    pub fn secs(&self) -> f64 {
        (self.end - self.start).as_secs_f64()
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// N clients, each sending its next request when the last is answered.
    Closed { clients: u32 },
    /// A request every 1/rate seconds whatever the answers, at most `max_in_flight` open.
    Open { rate: f64, max_in_flight: u32 },
}

/// What the load measured inside the window.
pub struct Measured {
    pub ok: Histogram<u64>,
    pub errors: BTreeMap<String, u64>,
    /// The first answer's message for each error code, to tell what went wrong.
    pub error_samples: BTreeMap<String, String>,
    /// RESOURCE_EXHAUSTED answers: how fast the platform sheds.
    pub shed: Histogram<u64>,
    /// Open loop: requests not sent because `max_in_flight` were open.
    pub skipped: u64,
}

impl Measured {
    fn new() -> Self {
        Self {
            ok: histogram(),
            errors: BTreeMap::new(),
            error_samples: BTreeMap::new(),
            shed: histogram(),
            skipped: 0,
        }
    }

    fn merge(&mut self, other: &Self) {
        let _ = self.ok.add(&other.ok);
        let _ = self.shed.add(&other.shed);
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        for (code, message) in &other.error_samples {
            self.error_samples
                .entry(code.clone())
                .or_insert_with(|| message.clone());
        }
        self.skipped += other.skipped;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// A small xorshift: requests vary without a `rand` dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// 1..=n
    fn pick(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n.max(1))) as u32 + 1
    }
}

/// Customers the orders come from. Each has their own e-mail, phone, street and card token, as
/// real traffic does: orders that all shared one street, phone and card (as the load did until
/// session 5) are a velocity attack, and made risk scoring count every earlier order of the hour.
const CUSTOMERS: u32 = 100_000;

/// Two distinct SKUs of `skus`, 1–2 units each (the lines `bench/order_tx.sql` draws), from one
/// of [`CUSTOMERS`].
#[allow(
    clippy::needless_update,
    reason = "the contract is growing; fields added later keep their defaults"
)]
fn request(rng: &mut Rng, skus: u32) -> PlaceOrderRequest {
    let customer = rng.pick(CUSTOMERS);
    let a = rng.pick(skus);
    let mut b = rng.pick(skus.saturating_sub(1).max(1));
    if skus > 1 && b >= a {
        b += 1;
    }
    let line = |n: u32, quantity: i32| NewOrderLine {
        sku: seed::sku(n),
        quantity,
        unit_price: Some(Money {
            currency_code: "EUR".into(),
            amount_minor: seed::price_minor(n),
        }),
        ..Default::default()
    };
    let mut lines = vec![line(a, rng.pick(2) as i32)];
    if b != a {
        lines.push(line(b, rng.pick(2) as i32));
    }
    PlaceOrderRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        customer: Some(Customer {
            id: format!("bench-{customer}"),
            name: "Bench Customer".into(),
            email: format!("bench-{customer}@example.com"),
            phone: format!("+49 30 {customer:07}"),
        }),
        channel: Channel::Web.into(),
        fulfillment_mode: FulfillmentMode::Ship.into(),
        pickup_store_id: String::new(),
        lines,
        shipping_address: Some(Address {
            recipient: "Bench Customer".into(),
            line1: format!("Benchstraße {customer}"),
            line2: String::new(),
            city: "Berlin".into(),
            region: "BE".into(),
            postal_code: "10117".into(),
            country_code: "DE".into(),
            phone: String::new(),
        }),
        billing_address: None,
        payment: Some(PaymentInstruction {
            method: PaymentMethod::Card.into(),
            token: format!("tok_bench_{customer}"),
            installment_count: 0,
        }),
        // Fields added to the contract later keep their defaults.
        ..Default::default()
    }
}

type Client = OrderServiceClient<GrpcChannel>;

async fn connect(target: &str) -> anyhow::Result<Client> {
    let channel = tonic::transport::Endpoint::from_shared(target.to_owned())?
        .tcp_nodelay(true)
        .connect()
        .await?;
    Ok(OrderServiceClient::new(channel))
}

/// One PlaceOrder; `since` is when it was due (open loop) or sent (closed loop).
async fn place_one(
    client: &mut Client,
    req: PlaceOrderRequest,
    since: Instant,
    window: Window,
    tracker: &Tracker,
    m: &mut Measured,
) {
    let result = client.place_order(req).await;
    let done = Instant::now();
    let order_id = match &result {
        Ok(response) => response.get_ref().order.as_ref().map(|o| o.id.clone()),
        Err(_) => None,
    };
    if let Some(id) = order_id {
        tracker.placed(&id, done, window.contains(done));
    }
    if !window.contains(done) {
        return;
    }
    match result {
        Ok(_) => record(&mut m.ok, done - since),
        Err(status) => {
            if status.code() == tonic::Code::ResourceExhausted {
                record(&mut m.shed, done - since);
            }
            let code = format!("{:?}", status.code());
            m.error_samples
                .entry(code.clone())
                .or_insert_with(|| status.message().to_owned());
            *m.errors.entry(code).or_default() += 1;
        }
    }
}

pub async fn run(
    target: &str,
    mode: Mode,
    skus: u32,
    warmup: Duration,
    duration: Duration,
    tracker: Tracker,
) -> anyhow::Result<(Measured, Window)> {
    let start = Instant::now() + warmup;
    let window = Window {
        start,
        end: start + duration,
    };
    tracker.set_window(window);
    let mut tasks = tokio::task::JoinSet::new();
    match mode {
        Mode::Closed { clients } => {
            for c in 0..clients {
                let mut client = connect(target).await?;
                let tracker = tracker.clone();
                tasks.spawn(async move {
                    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15 ^ (u64::from(c) << 32));
                    let mut m = Measured::new();
                    loop {
                        let sent = Instant::now();
                        if sent >= window.end {
                            break;
                        }
                        let req = request(&mut rng, skus);
                        place_one(&mut client, req, sent, window, &tracker, &mut m).await;
                    }
                    m
                });
            }
        }
        Mode::Open {
            rate,
            max_in_flight,
        } => {
            let mut clients = Vec::new();
            for _ in 0..8 {
                clients.push(connect(target).await?);
            }
            let permits = Arc::new(Semaphore::new(max_in_flight as usize));
            let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
            let begin = Instant::now();
            let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
            let mut folded = Measured::new();
            let mut n: u64 = 0;
            loop {
                let due = begin + interval.mul_f64(n as f64);
                if due >= window.end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let client_no = (n % clients.len() as u64) as usize;
                n += 1;
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    if window.contains(due) {
                        folded.skipped += 1;
                    }
                    continue;
                };
                let mut client = clients[client_no].clone();
                let req = request(&mut rng, skus);
                let tracker = tracker.clone();
                tasks.spawn(async move {
                    let mut m = Measured::new();
                    place_one(&mut client, req, due, window, &tracker, &mut m).await;
                    drop(permit);
                    m
                });
                // Fold finished tasks as we go so the set stays small.
                while let Some(done) = tasks.try_join_next() {
                    folded.merge(&done?);
                }
            }
            tasks.spawn(async move { folded });
        }
    }
    let mut total = Measured::new();
    while let Some(m) = tasks.join_next().await {
        total.merge(&m?);
    }
    Ok((total, window))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_two_distinct_catalog_lines_at_catalog_prices() {
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            let req = request(&mut rng, 50);
            assert_eq!(req.lines.len(), 2);
            assert_ne!(req.lines[0].sku, req.lines[1].sku);
            for line in &req.lines {
                let n: u32 = line.sku.trim_start_matches("BENCH-").parse().unwrap();
                assert!((1..=50).contains(&n));
                assert!((1..=2).contains(&line.quantity));
                assert_eq!(
                    line.unit_price.as_ref().unwrap().amount_minor,
                    seed::price_minor(n)
                );
            }
        }
    }

    #[test]
    fn orders_come_from_many_customers_each_with_their_own_street_phone_and_card() {
        let mut rng = Rng::new(11);
        let requests: Vec<_> = (0..1000).map(|_| request(&mut rng, 50)).collect();
        let distinct = |f: &dyn Fn(&PlaceOrderRequest) -> String| {
            requests
                .iter()
                .map(f)
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        let customer = |r: &PlaceOrderRequest| r.customer.as_ref().unwrap().id.clone();
        assert!(distinct(&customer) > 990, "customers repeat too often");
        // One customer, one street, phone and token: as many of each as customers.
        let n = distinct(&customer);
        assert_eq!(
            distinct(&|r| r.shipping_address.as_ref().unwrap().line1.clone()),
            n
        );
        assert_eq!(distinct(&|r| r.customer.as_ref().unwrap().phone.clone()), n);
        assert_eq!(distinct(&|r| r.payment.as_ref().unwrap().token.clone()), n);
    }
}
