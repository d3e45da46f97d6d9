//! `ordercycle-bench`: the benchmark harness of issue 13 (`docs/BENCHMARKS.md`).
//!
//! Against a running platform (`ordercycle up`): seeds a catalog and stock, drives PlaceOrder
//! with N closed-loop clients or at a fixed rate, records latency in HDR histograms, follows
//! every order to CONFIRMED (and COMPLETED) on NATS, and runs the raw baseline
//! (`bench/order_tx.sql` under pgbench, same server, same concurrency) to print the ratio.
//! With `--warehouse-workers N` it also plays the warehouse (`warehouse`), so orders run the
//! whole cycle and `cycles_completed_per_s` can be measured.

mod analytics;
mod baseline;
mod events;
mod load;
mod output;
mod seed;
mod svg;
mod sys;
mod warehouse;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::sys::round;

#[derive(Parser, Debug)]
#[command(
    name = "ordercycle-bench",
    version,
    about = "Benchmark PlaceOrder against the raw PostgreSQL baseline"
)]
struct Cli {
    /// Orders' gRPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    target: String,
    /// Inventory's gRPC endpoint, for seeding.
    #[arg(long, default_value = "http://127.0.0.1:50052")]
    inventory: String,
    /// Fulfillment's gRPC endpoint, for the warehouse workers.
    #[arg(long, default_value = "http://127.0.0.1:50054")]
    fulfillment: String,
    /// Play the warehouse with N pick/pack/hand-over workers during the load and the drain
    /// (0: nobody does, orders stop at IN_FULFILLMENT).
    #[arg(long, default_value_t = 0)]
    warehouse_workers: u32,
    /// Fulfillments per pick wave (at most 200).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=200))]
    wave_size: u16,
    #[arg(long, env = "OC_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// The platform's subject root (`OC_SUBJECT_ROOT` of the platform under test).
    #[arg(long, default_value = "bench")]
    subject_root: String,
    /// The PostgreSQL server (no database): the baseline's, and where orders' database is.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    database_url: String,
    /// Orders' database on that server (`bench/platform.sh` gives the bench its own).
    #[arg(long, default_value = "ordercycle_bench_orders")]
    orders_database: String,
    /// Closed loop: concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: u32,
    /// Open loop: orders per second (overrides --clients for the platform run).
    #[arg(long)]
    rate: Option<f64>,
    /// Open loop: most requests open at once.
    #[arg(long, default_value_t = 2048)]
    max_in_flight: u32,
    /// Closed-loop concurrency levels to run one after another (e.g. 1,4,16,32), for the chart.
    #[arg(long, value_delimiter = ',')]
    sweep: Vec<u32>,
    /// Write the throughput-against-p99 chart of the levels here (SVG).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Measured seconds per platform run.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Unmeasured seconds before each platform run.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Seconds to wait after a run for its orders to reach CONFIRMED (COMPLETED with
    /// --warehouse-workers).
    #[arg(long, default_value_t = 10)]
    drain: u64,
    /// Catalog size (the baseline draws from as many SKUs).
    #[arg(long, default_value_t = 50)]
    skus: u32,
    /// Do not seed (the catalog is there from an earlier run).
    #[arg(long)]
    no_seed: bool,
    /// Seconds of pgbench for the raw baseline; 0 skips it.
    #[arg(long, default_value_t = 20)]
    baseline_secs: u64,
    /// Use this baseline instead of running pgbench (from an earlier run).
    #[arg(long)]
    baseline_tps: Option<f64>,
    /// pgbench clients (default: --clients).
    #[arg(long)]
    baseline_clients: Option<u32>,
    #[arg(long, default_value_t = 2)]
    baseline_threads: u32,
    #[arg(long, default_value = "bench/order_tx.sql")]
    pgbench_script: PathBuf,
    #[arg(long)]
    pgbench: Option<PathBuf>,
    /// Pid of the `ordercycle up` process, for its resident memory.
    #[arg(long)]
    platform_pid: Option<u32>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // `ordercycle-bench analytics …` is analytics' query benchmark, with its own flags.
    if std::env::args().nth(1).as_deref() == Some("analytics") {
        let cli = analytics::Cli::parse_from(std::env::args().skip(1));
        return match analytics::run(cli).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                output::progress(&format!("{err:#}"));
                std::process::ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            output::progress(&format!("{err:#}"));
            std::process::ExitCode::FAILURE
        }
    }
}

fn ms(h: &Histogram<u64>, q: f64) -> Value {
    if h.is_empty() {
        Value::Null
    } else {
        json!(round(h.value_at_quantile(q) as f64 / 1000.0, 2))
    }
}

fn server_parts(url: &str) -> (String, u16, String) {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let (user, hostport) = rest.split_once('@').unwrap_or(("postgres", rest));
    let hostport = hostport.split('/').next().unwrap_or(hostport);
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    let user = user.split(':').next().unwrap_or(user);
    (
        host.to_owned(),
        port.parse().unwrap_or(5432),
        user.to_owned(),
    )
}

async fn run_baseline(cli: &Cli, clients: u32) -> anyhow::Result<Value> {
    let pgbench = cli
        .pgbench
        .clone()
        .or_else(baseline::find_pgbench)
        .context("pgbench not found (PATH or /usr/lib/postgresql/*/bin); pass --pgbench")?;
    let script = baseline::script_path(&cli.pgbench_script)?;
    output::progress(&format!("baseline: preparing {}", baseline::DATABASE));
    baseline::prepare(&cli.database_url, cli.skus).await?;
    let (host, port, user) = server_parts(&cli.database_url);
    let run = baseline::Run {
        pgbench: &pgbench,
        script: &script,
        host: &host,
        port,
        user: &user,
        clients,
        threads: cli.baseline_threads,
        duration: Duration::from_secs(cli.baseline_secs),
        skus: cli.skus,
    };
    output::progress(&format!(
        "baseline: pgbench {}s, {clients} clients",
        cli.baseline_secs
    ));
    let before = sys::pg_counters(&cli.database_url).await?;
    let cpu_before = sys::cpu_seconds();
    let outcome = baseline::run(&run).await?;
    let cpu = sys::cpu_since(&sys::cpu_seconds(), &cpu_before, cli.baseline_secs as f64);
    let counters = sys::pg_counters(&cli.database_url).await?.since(before);
    let orders = outcome
        .transactions
        .map_or(outcome.tps * cli.baseline_secs as f64, |t| t as f64);
    Ok(json!({
        "tps": round(outcome.tps, 1),
        "transactions": outcome.transactions,
        "failed": outcome.failed,
        "latency_avg_ms": outcome.latency_avg_ms,
        "command": outcome.command,
        "postgres": counters.json(orders),
        "cpu_cores_used": cpu,
    }))
}

/// Waits until orders' catalog read model holds the seeded SKUs.
async fn wait_for_catalog(cli: &Cli) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let url = format!(
        "{}/{}",
        cli.database_url.trim_end_matches('/'),
        cli.orders_database
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let count = async {
            let mut conn = sqlx::PgConnection::connect(&url).await?;
            let n: i64 =
                sqlx::query_scalar("SELECT count(*) FROM catalog_items WHERE sku LIKE 'BENCH-%'")
                    .fetch_one(&mut conn)
                    .await?;
            conn.close().await?;
            anyhow::Ok(n)
        }
        .await
        .unwrap_or(0);
        if count >= i64::from(cli.skus) {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "orders' catalog holds {count} of {} bench SKUs after 60 s",
                cli.skus
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One platform run: load, then the drain for confirmations (completions with a warehouse).
async fn run_platform(
    cli: &Cli,
    nats: &async_nats::Client,
    mode: load::Mode,
    run_id: &str,
) -> anyhow::Result<Value> {
    let tracker = events::Tracker::new();
    let subscription = tracker.subscribe(nats, &cli.subject_root).await?;
    let label = match mode {
        load::Mode::Closed { clients } => format!("closed loop, {clients} clients"),
        load::Mode::Open { rate, .. } => format!("open loop, {rate} orders/s"),
    };
    output::progress(&format!(
        "platform: {label}, {}s (+{}s warm-up)",
        cli.duration, cli.warmup
    ));
    let rss_idle = cli.platform_pid.and_then(sys::rss_mib);
    let before = sys::pg_counters(&cli.database_url).await?;
    let cpu_before = sys::cpu_seconds();
    let warehouse_config = (cli.warehouse_workers > 0).then(|| warehouse::Config {
        target: cli.fulfillment.clone(),
        workers: cli.warehouse_workers,
        warehouse_id: seed::WAREHOUSE.into(),
        wave_size: usize::from(cli.wave_size),
        run_id: run_id.to_owned(),
    });
    let warehouse = match &warehouse_config {
        Some(config) => Some(
            warehouse::Warehouse::start(config)
                .await
                .with_context(|| format!("connecting to fulfillment at {}", cli.fulfillment))?,
        ),
        None => None,
    };
    let (measured, window) = load::run(
        &cli.target,
        mode,
        cli.skus,
        Duration::from_secs(cli.warmup),
        Duration::from_secs(cli.duration),
        tracker.clone(),
    )
    .await?;
    let cpu_after = sys::cpu_seconds();
    let counters = sys::pg_counters(&cli.database_url).await?.since(before);
    let rss_after = cli.platform_pid.and_then(sys::rss_mib);
    let secs = window.secs();
    // Counters and CPU cover warm-up too: scale by the whole load time.
    let load_secs = secs + cli.warmup as f64;
    let seen_at_end = tracker.seen();
    let drain_started = Instant::now();
    let drain_deadline = drain_started + Duration::from_secs(cli.drain);
    loop {
        let seen = tracker.seen();
        // Without a warehouse nothing completes: wait for confirmations only.
        let done = if warehouse.is_some() {
            seen.completed_of_window
        } else {
            seen.confirmed_of_window
        };
        if done >= seen.placed_in_window || Instant::now() > drain_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drain_secs = drain_started.elapsed().as_secs_f64();
    let warehouse = match (warehouse, &warehouse_config) {
        (Some(running), Some(config)) => {
            let (stats, ran) = running.stop().await;
            stats.json(config, ran.as_secs_f64())
        }
        _ => Value::Null,
    };
    let seen = tracker.seen();
    subscription.abort();
    let ok = measured.ok.len();
    let place_tps = ok as f64 / secs;
    let orders_in_load = place_tps * load_secs;
    let mut run = json!({
        "mode": label,
        "clients": match mode { load::Mode::Closed { clients } => json!(clients), load::Mode::Open { .. } => Value::Null },
        "offered_rate": match mode { load::Mode::Open { rate, .. } => json!(rate), load::Mode::Closed { .. } => Value::Null },
        "duration_s": round(secs, 1),
        "placed": ok,
        "place_order_tps": round(place_tps, 1),
        "p50_ms": ms(&measured.ok, 0.5),
        "p90_ms": ms(&measured.ok, 0.9),
        "p99_ms": ms(&measured.ok, 0.99),
        "p999_ms": ms(&measured.ok, 0.999),
        "max_ms": if measured.ok.is_empty() { Value::Null } else { json!(round(measured.ok.max() as f64 / 1000.0, 2)) },
        "errors": measured.error_count(),
        "errors_by_code": measured.errors,
        "skipped_at_max_in_flight": measured.skipped,
        "shed_p99_ms": ms(&measured.shed, 0.99),
        "confirmed_tps": round(seen_at_end.confirmed_in_window as f64 / secs, 1),
        "confirmed_of_placed_at_window_end": seen_at_end.confirmed_of_window,
        "confirmed_of_placed_after_drain": seen.confirmed_of_window,
        "placed_in_window": seen.placed_in_window,
        "confirm_lag_p50_ms": ms(&seen.lag, 0.5),
        "confirm_lag_p99_ms": ms(&seen.lag, 0.99),
        "confirm_lag_max_ms": if seen.lag.is_empty() { Value::Null } else { json!(round(seen.lag.max() as f64 / 1000.0, 1)) },
        "drain_s": round(drain_secs, 1),
        // Null when none of this run's orders completed at all; 0.0 when some did, after the window.
        "cycles_completed_per_s": if seen.completed_timeline.iter().sum::<u64>() == 0 { Value::Null } else { json!(round(seen.completed_in_window as f64 / secs, 1)) },
        "cycles_completed_per_s_window_and_drain": if seen.completed_of_window == 0 { Value::Null } else { json!(round(seen.completed_of_window as f64 / (secs + drain_secs), 1)) },
        "completed_of_placed_at_window_end": seen_at_end.completed_of_window,
        "completed_of_placed_after_drain": seen.completed_of_window,
        "completed_events_seen": seen.completed_total,
        "completed_per_second": seen.completed_timeline,
        "completion_lag_p50_ms": ms(&seen.completion_lag, 0.5),
        "completion_lag_p90_ms": ms(&seen.completion_lag, 0.9),
        "completion_lag_p99_ms": ms(&seen.completion_lag, 0.99),
        "completion_lag_max_ms": if seen.completion_lag.is_empty() { Value::Null } else { json!(round(seen.completion_lag.max() as f64 / 1000.0, 1)) },
        "warehouse": warehouse,
        "postgres": counters.json(orders_in_load),
        "cpu_cores_used": sys::cpu_since(&cpu_after, &cpu_before, load_secs),
        "platform_rss_mib": match (rss_idle, rss_after) {
            (Some(idle), Some(after)) => json!({"before": idle.0, "after": after.0, "peak": after.1}),
            _ => Value::Null,
        },
    });
    // Outside the literal above: one more field would exceed json!'s recursion limit.
    run["error_samples"] = json!(measured.error_samples);
    Ok(run)
}

fn field(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let durability = sys::durability(&cli.database_url).await?;
    let baseline_clients = cli.baseline_clients.unwrap_or(cli.clients);
    let baseline = match cli.baseline_tps {
        Some(tps) => json!({ "tps": tps, "command": "given with --baseline-tps" }),
        None if cli.baseline_secs == 0 => Value::Null,
        None => run_baseline(&cli, baseline_clients).await?,
    };
    let baseline_tps = field(&baseline, "tps");

    let nats = async_nats::connect(&cli.nats)
        .await
        .with_context(|| format!("connecting to NATS at {}", cli.nats))?;
    let seeded = if cli.no_seed {
        None
    } else {
        output::progress("seeding the catalog and stock");
        let seeded = seed::seed(&cli.inventory, &nats, &cli.subject_root, cli.skus).await?;
        Some(seeded)
    };
    wait_for_catalog(&cli).await?;

    let modes: Vec<load::Mode> = if let Some(rate) = cli.rate {
        vec![load::Mode::Open {
            rate,
            max_in_flight: cli.max_in_flight,
        }]
    } else if cli.sweep.is_empty() {
        vec![load::Mode::Closed {
            clients: cli.clients,
        }]
    } else {
        cli.sweep
            .iter()
            .map(|&clients| load::Mode::Closed { clients })
            .collect()
    };
    // Request ids of the warehouse worker start with it: unique per run and per level.
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let run_id = run_id.get(..12).unwrap_or(&run_id);
    let mut levels = Vec::new();
    for (level, mode) in modes.into_iter().enumerate() {
        levels.push(run_platform(&cli, &nats, mode, &format!("{run_id}-{level}")).await?);
    }
    // The headline: the run at --clients if the sweep has it, else the last.
    let main = levels
        .iter()
        .find(|l| {
            cli.rate.is_none()
                && l.get("clients").and_then(Value::as_u64) == Some(u64::from(cli.clients))
        })
        .or(levels.last())
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(path) = &cli.svg {
        let points: Vec<svg::Point> = levels
            .iter()
            .filter_map(|l| {
                Some(svg::Point {
                    clients: u32::try_from(l.get("clients")?.as_u64()?).ok()?,
                    tps: field(l, "place_order_tps")?,
                    p99_ms: field(l, "p99_ms")?,
                })
            })
            .collect();
        let chart = svg::chart(
            &points,
            baseline_tps,
            "ordercycle PlaceOrder: throughput against p99 (closed loop)",
        );
        std::fs::write(path, chart).with_context(|| format!("writing {}", path.display()))?;
    }
    let report = report(
        &main,
        &baseline,
        &serde_json::to_value(&durability)?,
        seeded.map(seed::Seeded::as_str),
        &levels,
    );
    if cli.json {
        output::json(&report);
    } else {
        output::line(&summary(&report));
    }
    Ok(())
}

/// The one JSON object: the headline fields of issue 13 from the main run, then the details.
fn report(
    main: &Value,
    baseline: &Value,
    durability: &Value,
    seeded: Option<&str>,
    levels: &[Value],
) -> Value {
    let baseline_tps = field(baseline, "tps");
    let per_baseline = |key: &str| match (field(main, key), baseline_tps) {
        (Some(v), Some(b)) if b > 0.0 => json!(round(v / b, 3)),
        _ => Value::Null,
    };
    let get = |key: &str| main.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "place_order_tps": get("place_order_tps"),
        "baseline_tps": baseline_tps,
        "ratio": per_baseline("place_order_tps"),
        "confirmed_tps": get("confirmed_tps"),
        "confirmed_ratio": per_baseline("confirmed_tps"),
        "p50_ms": get("p50_ms"),
        "p90_ms": get("p90_ms"),
        "p99_ms": get("p99_ms"),
        "p999_ms": get("p999_ms"),
        "confirm_lag_p99_ms": get("confirm_lag_p99_ms"),
        "cycles_completed_per_s": get("cycles_completed_per_s"),
        "completion_lag_p50_ms": get("completion_lag_p50_ms"),
        "completion_lag_p99_ms": get("completion_lag_p99_ms"),
        "errors": get("errors"),
        "seeded_via": seeded,
        "durability": durability,
        "baseline": baseline,
        "runs": levels,
    })
}

fn summary(r: &Value) -> String {
    let show = |key: &str| {
        r.get(key)
            .map_or_else(|| "null".to_owned(), Value::to_string)
    };
    let mut lines = vec![format!(
        "PlaceOrder {} tps | baseline {} tps | ratio {} | confirmed {} tps | p50 {} ms | p99 {} ms | confirm lag p99 {} ms | cycles {} /s (completion lag p99 {} ms) | errors {}",
        show("place_order_tps"),
        show("baseline_tps"),
        show("ratio"),
        show("confirmed_tps"),
        show("p50_ms"),
        show("p99_ms"),
        show("confirm_lag_p99_ms"),
        show("cycles_completed_per_s"),
        show("completion_lag_p99_ms"),
        show("errors"),
    )];
    if let Some(runs) = r.get("runs").and_then(Value::as_array) {
        for run in runs {
            lines.push(format!(
                "  {}: {} tps, p99 {} ms, confirmed {} tps, lag p99 {} ms, cycles {} /s, completion lag p99 {} ms",
                run.get("mode").and_then(Value::as_str).unwrap_or("?"),
                run.get("place_order_tps").unwrap_or(&Value::Null),
                run.get("p99_ms").unwrap_or(&Value::Null),
                run.get("confirmed_tps").unwrap_or(&Value::Null),
                run.get("confirm_lag_p99_ms").unwrap_or(&Value::Null),
                run.get("cycles_completed_per_s").unwrap_or(&Value::Null),
                run.get("completion_lag_p99_ms").unwrap_or(&Value::Null),
            ));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_server_url_for_pgbench() {
        assert_eq!(
            server_parts("postgres://postgres@127.0.0.1:5432"),
            ("127.0.0.1".into(), 5432, "postgres".into())
        );
        assert_eq!(
            server_parts("postgres://bob:pw@db/x"),
            ("db".into(), 5432, "bob".into())
        );
    }

    #[test]
    fn the_report_has_the_fields_issue_13_names() {
        let h = load::histogram();
        let main = json!({
            "place_order_tps": 300.0, "confirmed_tps": 150.0, "p50_ms": 10.0,
            "p99_ms": 40.0, "confirm_lag_p99_ms": ms(&h, 0.99), "cycles_completed_per_s": null,
        });
        let r = report(
            &main,
            &json!({"tps": 600.0}),
            &json!({}),
            None,
            std::slice::from_ref(&main),
        );
        for key in [
            "place_order_tps",
            "baseline_tps",
            "ratio",
            "confirmed_tps",
            "p50_ms",
            "p99_ms",
            "confirm_lag_p99_ms",
            "cycles_completed_per_s",
            "completion_lag_p50_ms",
            "completion_lag_p99_ms",
        ] {
            assert!(r.get(key).is_some(), "{key}");
        }
        assert_eq!(r["ratio"], json!(0.5));
        assert_eq!(r["confirmed_ratio"], json!(0.25));
        assert!(
            r["confirm_lag_p99_ms"].is_null(),
            "an empty histogram is null, not 0"
        );
        assert!(r["cycles_completed_per_s"].is_null());
        assert!(summary(&r).contains("ratio 0.5"));
    }

    #[test]
    fn without_a_baseline_the_ratios_are_null() {
        let r = report(
            &json!({"place_order_tps": 1.0}),
            &Value::Null,
            &json!({}),
            None,
            &[],
        );
        assert!(r["ratio"].is_null() && r["baseline_tps"].is_null());
    }
}
