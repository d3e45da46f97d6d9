//! `ordercycle-bench analytics`: the dashboard questions of analytics against a million orders
//! (issue 11), beside the naive PostgreSQL GROUP BY over the same rows in the same run.
//!
//! It fills a scratch database (`ordercycle_bench_analytics`, dropped and recreated, migrated
//! like the service's) straight with read-model rows made by `generate_series` — orders over a
//! year, their lines, fulfillments, parcels, shipments, some refunds, surveys — rather than
//! replaying events: projecting a million orders' events would take far longer than the
//! questions do and measures the consumers, not the queries. Then it asks each question
//! in-process through `analytics::grpc::AnalyticsApi` (no network), `--runs` times, for the
//! dashboard's range (the last `--days` days), and prints p50/p95 as one JSON object. The rows
//! go in through the fact tables' triggers like the service's writes, and the rollups are
//! refreshed once after the load, as the service's refresher would.

use std::sync::Arc;
use std::time::{Duration, Instant};

use analytics::grpc::AnalyticsApi;
use anyhow::Context as _;
use clap::Parser;
use contracts::analytics::{
    GetChannelMixRequest, GetCustomerCohortsRequest, GetCycleTimesRequest,
    GetFeedbackSummaryRequest, GetFulfillmentKpisRequest, GetOrderKpisRequest,
    GetReturnStatsRequest, GetSalesBreakdownRequest, GetSalesTrendsRequest, Granularity,
    SalesDimension, TimeRange,
};
use serde_json::{Value, json};
use sqlx::{Connection as _, Executor as _, PgConnection, PgPool};

use crate::output;
use crate::sys::round;

/// The scratch database; dropped and recreated for every run.
const DATABASE: &str = "ordercycle_bench_analytics";

#[derive(Parser, Debug)]
#[command(
    name = "ordercycle-bench analytics",
    about = "Analytics' dashboard questions over N orders, beside a plain GROUP BY"
)]
pub struct Cli {
    /// Orders to load, spread evenly over the year before now.
    #[arg(long, default_value_t = 1_000_000)]
    orders: i64,
    /// The dashboard's range: the last this many days.
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Times each question is asked (after one unmeasured warm-up).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// The PostgreSQL server (no database).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    database_url: String,
    /// Keep the loaded database from an earlier run.
    #[arg(long)]
    no_load: bool,
}

/// The read-model rows of `$1` orders placed over the year before `$2`: order `n` is placed at
/// an even step, its customer is one of n/3 (so customers repeat), channel, country and
/// payment method rotate; nine in ten are delivered and completed, one in twenty cancelled,
/// one in fifty refunded in part.
const LOAD: &str = "
INSERT INTO order_facts (order_id, order_number, customer_id, channel, fulfillment_mode,
    country_code, region, currency_code, total_minor, units, line_count, payment_method, status,
    placed_at, confirmed_at, dispatched_at, delivered_at, accepted_at, completed_at,
    cancelled_at, cancel_reason, held_at, decided_at, decision)
SELECT 'o' || n, 'OC-' || n, 'c' || (n % ($1 / 3 + 1)), 1 + n % 6, 1, (ARRAY['DE','FR','AT','NL'])[1 + n % 4],
    'R' || n % 7, 'EUR', 1000 + (n % 50) * 100, 1 + n % 3, 1 + n % 2, 1 + n % 5,
    CASE WHEN n % 20 = 0 THEN 14 WHEN n % 10 = 1 THEN 9 ELSE 13 END,
    p, p + interval '20 minutes',
    CASE WHEN n % 20 <> 0 THEN p + interval '5 hours' END,
    CASE WHEN n % 20 <> 0 THEN p + interval '30 hours' END,
    CASE WHEN n % 20 <> 0 AND n % 10 <> 1 THEN p + interval '54 hours' END,
    CASE WHEN n % 20 <> 0 AND n % 10 <> 1 THEN p + interval '55 hours' END,
    CASE WHEN n % 20 = 0 THEN p + interval '1 hour' END,
    CASE WHEN n % 20 = 0 THEN 2 END,
    CASE WHEN n % 25 = 0 THEN p END, CASE WHEN n % 25 = 0 THEN p + interval '2 hours' END,
    CASE WHEN n % 25 = 0 THEN 'approved' END
FROM generate_series(1, $1) n,
     LATERAL (SELECT $2::timestamptz - interval '365 days' + (interval '365 days' * n / $1) AS p) t;

INSERT INTO order_lines (order_id, line_id, sku, quantity, unit_price_minor, line_total_minor)
SELECT order_id, 'L' || k, 'SKU-' || ((hashtext(order_id) & 1023) + k), 1, total_minor / line_count,
    total_minor / line_count
FROM order_facts, generate_series(1, line_count) k;

INSERT INTO fulfillment_facts (fulfillment_id, order_id, warehouse_id, fulfillment_mode, units,
    created_at, picked_at, units_picked)
SELECT 'f' || order_id, order_id, 'W' || channel % 3, 1, units, confirmed_at,
    confirmed_at + interval '2 hours', units
FROM order_facts WHERE dispatched_at IS NOT NULL;

INSERT INTO parcel_facts (parcel_id, fulfillment_id, order_id, warehouse_id, shipment_id,
    weight_grams, packed_at, handed_over_at)
SELECT 'p' || order_id, 'f' || order_id, order_id, 'W' || channel % 3, 's' || order_id, 800,
    dispatched_at - interval '1 hour', dispatched_at
FROM order_facts WHERE dispatched_at IS NOT NULL;

INSERT INTO shipment_facts (shipment_id, order_id, direction, warehouse_id, carrier, first_eta,
    created_at, handed_over_at, delivered_at)
SELECT 's' || order_id, order_id, 1, 'W' || channel % 3, 'sim', dispatched_at + interval '24 hours',
    dispatched_at - interval '1 hour', dispatched_at, delivered_at
FROM order_facts WHERE dispatched_at IS NOT NULL;

INSERT INTO payment_facts (payment_id, order_id, method, authorized_at)
SELECT 'pay' || order_id, order_id, payment_method, confirmed_at FROM order_facts;

INSERT INTO money_moves (transaction_id, kind, payment_id, order_id, currency_code, amount_minor,
    occurred_at)
SELECT 'r' || order_id, 'refunded', 'pay' || order_id, order_id, 'EUR', total_minor / 2,
    delivered_at + interval '3 days'
FROM order_facts WHERE delivered_at IS NOT NULL AND hashtext(order_id) % 50 = 0;

INSERT INTO survey_facts (survey_id, order_id, invited_at, submitted_at, csat, nps)
SELECT 'sv' || order_id, order_id, delivered_at + interval '1 day',
    CASE WHEN hashtext(order_id) % 3 = 0 THEN delivered_at + interval '2 days' END,
    1 + abs(hashtext(order_id)) % 5, abs(hashtext(order_id)) % 11
FROM order_facts WHERE delivered_at IS NOT NULL AND hashtext(order_id) % 4 = 0;
";

/// The naive answer: one GROUP BY over the order rows of the range, nothing else.
const NAIVE: &str = "
SELECT date_trunc('day', placed_at) AS day, channel, count(*), sum(total_minor), sum(units)
FROM order_facts WHERE placed_at >= $1 AND placed_at < $2
GROUP BY 1, 2";

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let server = cli.database_url.trim_end_matches('/');
    let url = format!("{server}/{DATABASE}");
    if !cli.no_load {
        load(server, &url, cli.orders).await?;
    }
    let pool = runtime::db::pool(&url, 2)
        .await
        .context("opening the scratch database")?;
    let api = AnalyticsApi {
        pool: pool.clone(),
        clock: runtime::Clock::system(),
        config: Arc::new(analytics::config::Config::default()),
    };
    let now = api.clock.now();
    let start = now - chrono::Duration::days(cli.days);
    let range = Some(TimeRange {
        start: Some(contracts::time::to_timestamp(start)),
        end: Some(contracts::time::to_timestamp(now)),
    });
    let runs = cli.runs.max(1);
    let mut queries = serde_json::Map::new();
    macro_rules! time {
        ($name:literal, $call:expr) => {{
            let timings = measure(runs, || async { $call.await.map(|_| ()) }).await?;
            output::progress(&format!("{}: p95 {} ms", $name, timings["p95_ms"]));
            queries.insert($name.to_owned(), timings);
        }};
    }
    time!(
        "naive_group_by",
        sqlx::query(NAIVE).bind(start).bind(now).fetch_all(&pool)
    );
    time!(
        "GetSalesTrends",
        api.sales_trends(&GetSalesTrendsRequest {
            range,
            granularity: Granularity::Day as i32,
            ..Default::default()
        })
    );
    time!(
        "GetChannelMix",
        api.channel_mix(&GetChannelMixRequest {
            range,
            ..Default::default()
        })
    );
    time!(
        "GetCycleTimes",
        api.cycle_times(&GetCycleTimesRequest {
            range,
            ..Default::default()
        })
    );
    time!(
        "GetFulfillmentKpis",
        api.fulfillment_kpis(&GetFulfillmentKpisRequest {
            range,
            ..Default::default()
        })
    );
    time!(
        "GetReturnStats",
        api.return_stats(&GetReturnStatsRequest {
            range,
            ..Default::default()
        })
    );
    time!(
        "GetFeedbackSummary",
        api.feedback_summary(&GetFeedbackSummaryRequest {
            range,
            ..Default::default()
        })
    );
    time!(
        "GetOrderKpis",
        api.order_kpis(&GetOrderKpisRequest {
            range,
            ..Default::default()
        })
    );
    time!(
        "GetSalesBreakdown",
        api.sales_breakdown(&GetSalesBreakdownRequest {
            range,
            dimension: SalesDimension::Sku as i32,
            ..Default::default()
        })
    );
    time!(
        "GetCustomerCohorts",
        api.customer_cohorts(&GetCustomerCohortsRequest { range })
    );
    let in_range: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM order_facts WHERE placed_at >= $1 AND placed_at < $2",
    )
    .bind(start)
    .bind(now)
    .fetch_one(&pool)
    .await?;
    output::json(&json!({
        "orders": cli.orders,
        "range_days": cli.days,
        "orders_in_range": in_range,
        "runs": runs,
        "queries": Value::Object(queries),
    }));
    Ok(())
}

async fn load(server: &str, url: &str, orders: i64) -> anyhow::Result<()> {
    let admin_url = format!("{server}/postgres");
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .with_context(|| format!("connecting to {admin_url}"))?;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)").as_str())
        .await?;
    admin
        .execute(format!("CREATE DATABASE {DATABASE}").as_str())
        .await?;
    admin.close().await?;
    let pool: PgPool = runtime::db::pool(url, 1).await?;
    let migrator = runtime::db::combined(analytics::SERVICE.migrations);
    runtime::db::migrate(&pool, DATABASE, &migrator).await?;
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    for statement in LOAD.split(";\n").filter(|s| !s.trim().is_empty()) {
        let query = sqlx::query(statement);
        // Only the first statement takes the parameters.
        let query = if statement.contains("$1") {
            query.bind(orders).bind(chrono::Utc::now())
        } else {
            query
        };
        query.execute(&mut *conn).await?;
    }
    output::progress(&format!(
        "loaded {orders} orders in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    // The load marked every hour of the year stale: compute the rollups as the service's
    // refresher would, then let the planner know the tables (and the visibility map, for
    // index-only scans).
    drop(conn);
    let started = Instant::now();
    let hours = analytics::store::rollup::refresh_all(&pool).await?;
    output::progress(&format!(
        "rolled up {hours} hours in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    pool.execute("VACUUM ANALYZE").await?;
    Ok(())
}

/// One unmeasured call, then `runs` measured ones: p50, p95 and max in milliseconds.
async fn measure<F, Fut, E>(runs: usize, call: F) -> anyhow::Result<Value>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Debug,
{
    call().await.map_err(|err| anyhow::anyhow!("{err:?}"))?;
    let mut timings: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        call().await.map_err(|err| anyhow::anyhow!("{err:?}"))?;
        timings.push(started.elapsed());
    }
    timings.sort();
    let at = |q: f64| {
        let i = ((timings.len() as f64 * q).ceil() as usize).clamp(1, timings.len()) - 1;
        round(timings[i].as_secs_f64() * 1000.0, 1)
    };
    Ok(json!({ "p50_ms": at(0.50), "p95_ms": at(0.95), "max_ms": at(1.0) }))
}
