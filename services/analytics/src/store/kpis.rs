//! The questions: each function answers one family of KPIs over the read models for a time
//! range. Durations come back in seconds (`f64`, microsecond precision), money in minor units,
//! enums as their protobuf numbers.
//!
//! Counts and sums come from the rollups ([`rollup`]: stored hourly or daily rows for the whole
//! clean buckets of the range, the rest computed from the facts in the same statement).
//! Percentiles are exact (`percentile_cont` over the facts) while a range holds at most
//! [`EXACT_SAMPLES`] durations, and read from the rollups' histograms (within 1 %) above that.
//! Distinct customers come from `customer_orders`, one scan of the range's orders.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::rollup;
use crate::domain::{Dimension, Granularity, Histogram, Range};

/// Up to this many durations in a range, percentiles are computed exactly from the facts.
pub const EXACT_SAMPLES: i64 = 2_000;

/// Whether Postgres knows the IANA time zone `name`.
pub async fn time_zone_exists(pool: &PgPool, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)")
        .bind(name)
        .fetch_one(pool)
        .await
}

/// When the first order in the read models was placed.
pub async fn earliest_order(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT min(placed_at) FROM order_facts")
        .fetch_one(pool)
        .await
}

#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct SalesRow {
    pub bucket_start: Option<DateTime<Utc>>,
    pub order_count: i64,
    pub cancelled_count: i64,
    pub units: i64,
    pub gross_minor: i64,
    pub refunds_minor: i64,
    /// Gross of the orders neither cancelled nor rejected.
    pub kept_gross_minor: i64,
}

/// Which orders a sales question covers.
#[derive(Debug, Clone)]
pub struct SalesFilter<'a> {
    pub currency: &'a str,
    /// 0 for every channel.
    pub channel: i32,
    /// Empty for every SKU; else units and sales count this SKU's lines only.
    pub sku: &'a str,
}

/// Sales per bucket of `granularity` in `time_zone`, every bucket of the range, oldest first.
/// Refunds are the orders' refunds in the same currency (with a SKU filter too: refunds are
/// not attributed to lines).
pub async fn sales_trend(
    pool: &PgPool,
    range: &Range,
    granularity: Granularity,
    time_zone: &str,
    filter: &SalesFilter<'_>,
) -> Result<Vec<SalesRow>, sqlx::Error> {
    let stored = rollup::aligned_to_hours(pool, time_zone, range.start, range.end).await?;
    let (source, sku) = if filter.sku.is_empty() {
        (rollup::SALES.source("s", stored), "$6 = ''")
    } else {
        (rollup::SKU_SALES.source("s", stored), "s.sku = $6")
    };
    sqlx::query_as(&format!(
        "WITH {source},
         o AS (
             SELECT date_trunc($4, s.bucket AT TIME ZONE $7) AS local_start,
                 sum(s.orders) AS orders, sum(s.cancelled) AS cancelled, sum(s.units) AS units,
                 sum(s.gross_minor) AS gross, sum(s.refunds_minor) AS refunds,
                 sum(s.kept_minor) AS kept
             FROM s
             WHERE s.currency_code = $3 AND ($5 = 0 OR s.channel = $5) AND {sku}
             GROUP BY 1
         ),
         b AS (
             SELECT gs AS local_start FROM generate_series(
                 date_trunc($4, $1 AT TIME ZONE $7),
                 ($2 AT TIME ZONE $7) - interval '1 microsecond',
                 ('1 ' || $4)::interval) gs
         )
         SELECT b.local_start AT TIME ZONE $7 AS bucket_start,
             COALESCE(o.orders, 0)::bigint AS order_count,
             COALESCE(o.cancelled, 0)::bigint AS cancelled_count,
             COALESCE(o.units, 0)::bigint AS units,
             COALESCE(o.gross, 0)::bigint AS gross_minor,
             COALESCE(o.refunds, 0)::bigint AS refunds_minor,
             COALESCE(o.kept, 0)::bigint AS kept_gross_minor
         FROM b LEFT JOIN o ON o.local_start = b.local_start
         ORDER BY b.local_start"
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(filter.currency)
    .bind(granularity.as_pg())
    .bind(filter.channel)
    .bind(filter.sku)
    .bind(time_zone)
    .fetch_all(pool)
    .await
}

/// The start of the bucket of `granularity` in `time_zone` holding each of `times`, in order
/// (the buckets [`sales_trend`] uses, for orders read from elsewhere).
pub async fn bucket_starts(
    pool: &PgPool,
    granularity: Granularity,
    time_zone: &str,
    times: &[DateTime<Utc>],
) -> Result<Vec<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT date_trunc($1, u.t AT TIME ZONE $2) AT TIME ZONE $2
         FROM unnest($3::timestamptz[]) WITH ORDINALITY AS u(t, i)
         ORDER BY u.i",
    )
    .bind(granularity.as_pg())
    .bind(time_zone)
    .bind(times)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelRow {
    pub channel: i32,
    pub order_count: i64,
    pub revenue_minor: i64,
    pub completed_count: i64,
    pub cancelled_count: i64,
}

/// Orders per channel, most orders first.
pub async fn channel_mix(
    pool: &PgPool,
    range: &Range,
    currency: &str,
) -> Result<Vec<ChannelRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH {}
         SELECT channel, sum(orders)::bigint AS order_count,
             sum(gross_minor)::bigint AS revenue_minor, sum(completed)::bigint AS completed_count,
             sum(cancelled)::bigint AS cancelled_count
         FROM s WHERE currency_code = $3
         GROUP BY channel
         ORDER BY order_count DESC, channel",
        rollup::SALES.source("s", true)
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(currency)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DurationRow {
    pub stage: i32,
    pub sample_count: i64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub max: f64,
}

/// Which orders a cycle-time question covers (0 / empty: all).
#[derive(Debug, Clone)]
pub struct CycleFilter<'a> {
    pub channel: i32,
    pub fulfillment_mode: i32,
    pub warehouse_id: &'a str,
}

/// Statistics of one series of durations, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationStats {
    pub samples: i64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub max: f64,
}

impl DurationStats {
    fn of(h: &Histogram) -> Option<Self> {
        Some(Self {
            samples: h.samples(),
            mean: h.mean()?,
            p50: h.quantile(0.5)?,
            p90: h.quantile(0.9)?,
            p95: h.quantile(0.95)?,
            max: h.max()?,
        })
    }
}

/// Durations of [`rollup::DURATIONS`] in the range, by (series, key) and by series alone (key
/// `None`). `filter` narrows the rows (`d.series`, `d.channel`, `d.dim`; `$3` is `param`), `key`
/// is a text expression over them. From the histograms when any series holds more than
/// [`EXACT_SAMPLES`], else exact from the facts.
async fn durations(
    pool: &PgPool,
    range: &Range,
    filter: &str,
    key: &str,
    param: &str,
) -> Result<BTreeMap<(i32, Option<String>), DurationStats>, sqlx::Error> {
    let rows: Vec<(i32, String, i32, i64, i64)> = sqlx::query_as(&format!(
        "WITH {}
         SELECT d.series, {key}, d.bin, sum(d.samples)::bigint, sum(d.micros)::bigint
         FROM d WHERE {filter}
         GROUP BY 1, 2, 3",
        rollup::DURATIONS.source("d", true)
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(param)
    .fetch_all(pool)
    .await?;
    let mut histograms: BTreeMap<(i32, Option<String>), Histogram> = BTreeMap::new();
    for (series, key, bin, samples, micros) in rows {
        for key in [Some(key), None] {
            histograms
                .entry((series, key))
                .or_default()
                .add(bin, samples, micros);
        }
    }
    if histograms.values().any(|h| h.samples() > EXACT_SAMPLES) {
        return Ok(histograms
            .iter()
            .filter_map(|(k, h)| Some((k.clone(), DurationStats::of(h)?)))
            .collect());
    }
    type ExactRow = (i32, Option<String>, i64, f64, f64, f64, f64, f64);
    let rows: Vec<ExactRow> = sqlx::query_as(&format!(
        "WITH exact_w (lo, hi) AS (SELECT $1::timestamptz, $2::timestamptz)
         SELECT d.series, {key}, count(*),
             avg(d.micros)::float8 / 1e6,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY d.micros) / 1e6,
             percentile_cont(0.9) WITHIN GROUP (ORDER BY d.micros) / 1e6,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY d.micros) / 1e6,
             max(d.micros)::float8 / 1e6
         FROM ({}) d WHERE {filter}
         GROUP BY GROUPING SETS ((1, 2), (1))",
        rollup::windowed(rollup::DURATION_SAMPLES, "exact_w")
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(param)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(series, key, samples, mean, p50, p90, p95, max)| {
            let stats = DurationStats {
                samples,
                mean,
                p50,
                p90,
                p95,
                max,
            };
            ((series, key), stats)
        })
        .collect())
}

/// Duration statistics per stage, over the stages that ended in `range`.
pub async fn cycle_times(
    pool: &PgPool,
    range: &Range,
    filter: &CycleFilter<'_>,
) -> Result<Vec<DurationRow>, sqlx::Error> {
    let unfiltered =
        filter.channel == 0 && filter.fulfillment_mode == 0 && filter.warehouse_id.is_empty();
    if !unfiltered {
        return cycle_times_filtered(pool, range, filter).await;
    }
    Ok(durations(pool, range, "d.series < 100", "''::text", "")
        .await?
        .into_iter()
        .filter(|((_, key), _)| key.is_none())
        .map(|((stage, _), d)| DurationRow {
            stage,
            sample_count: d.samples,
            mean: d.mean,
            p50: d.p50,
            p90: d.p90,
            p95: d.p95,
            max: d.max,
        })
        .collect())
}

/// [`cycle_times`] of the orders of one channel, fulfilment mode or warehouse: exact, from the
/// facts (the histograms are not kept per filter).
async fn cycle_times_filtered(
    pool: &PgPool,
    range: &Range,
    filter: &CycleFilter<'_>,
) -> Result<Vec<DurationRow>, sqlx::Error> {
    sqlx::query_as(
        "WITH o AS (
             SELECT * FROM order_facts f
             WHERE ($3 = 0 OR f.channel = $3) AND ($4 = 0 OR f.fulfillment_mode = $4)
               AND ($5 = '' OR EXISTS (SELECT 1 FROM fulfillment_facts ff
                     WHERE ff.order_id = f.order_id AND ff.warehouse_id = $5))
         ),
         unfiltered AS (SELECT $3 = 0 AND $4 = 0 AND $5 = '' AS yes),
         samples (stage, started, ended) AS (
             SELECT 1, placed_at, confirmed_at FROM o
             UNION ALL SELECT 2, held_at, decided_at FROM o
             UNION ALL SELECT 3, confirmed_at, dispatched_at FROM o
             UNION ALL SELECT 4, s.handed_over_at, s.delivered_at FROM shipment_facts s
                 WHERE s.direction = 1 AND ($5 = '' OR s.warehouse_id = $5)
                   AND ((SELECT yes FROM unfiltered) OR s.order_id IN (SELECT order_id FROM o))
             UNION ALL SELECT 5, ff.ready_at, ff.picked_up_at FROM fulfillment_facts ff
                 WHERE ($5 = '' OR ff.warehouse_id = $5)
                   AND ((SELECT yes FROM unfiltered) OR ff.order_id IN (SELECT order_id FROM o))
             UNION ALL SELECT 6, delivered_at, accepted_at FROM o
             UNION ALL SELECT 7, placed_at, delivered_at FROM o
             UNION ALL SELECT 8, placed_at, completed_at FROM o
             UNION ALL SELECT 9, r.requested_at, r.closed_at FROM return_facts r
                 WHERE (SELECT yes FROM unfiltered) OR r.order_id IN (SELECT order_id FROM o)
         ),
         d AS (
             SELECT stage, EXTRACT(EPOCH FROM ended - started)::float8 AS secs FROM samples
             WHERE started IS NOT NULL AND ended IS NOT NULL AND ended >= started
               AND ended >= $1 AND ended < $2
         )
         SELECT stage, count(*) AS sample_count, avg(secs) AS mean,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) AS p50,
             percentile_cont(0.9) WITHIN GROUP (ORDER BY secs) AS p90,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY secs) AS p95,
             max(secs) AS max
         FROM d GROUP BY stage ORDER BY stage",
    )
    .bind(range.start)
    .bind(range.end)
    .bind(filter.channel)
    .bind(filter.fulfillment_mode)
    .bind(filter.warehouse_id)
    .fetch_all(pool)
    .await
}

/// Warehouse figures; `warehouse_id` is `None` for all warehouses together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WarehouseKpis {
    pub fulfillments_created: i64,
    pub units_picked: i64,
    pub units_short_picked: i64,
    pub parcels_packed: i64,
    pub parcels_handed_over: i64,
    pub average_parcel_weight_grams: i64,
    pub dispatch_p50: Option<f64>,
    pub dispatch_p90: Option<f64>,
    pub pickups_ready: i64,
    pub pickups_collected: i64,
    pub shipments_delivered: i64,
    pub delivered_first_attempt: i64,
    pub delivered_with_eta: i64,
    pub delivered_on_time: i64,
    pub delivery_failures: i64,
}

impl WarehouseKpis {
    pub fn has_activity(&self) -> bool {
        self.fulfillments_created
            + self.units_picked
            + self.units_short_picked
            + self.parcels_packed
            + self.parcels_handed_over
            + self.pickups_ready
            + self.pickups_collected
            + self.shipments_delivered
            + self.delivery_failures
            > 0
    }
}

/// Per warehouse (key `Some`) and overall (key `None`, always present).
pub async fn fulfillment_kpis(
    pool: &PgPool,
    range: &Range,
    warehouse_id: &str,
) -> Result<BTreeMap<Option<String>, WarehouseKpis>, sqlx::Error> {
    let mut out: BTreeMap<Option<String>, WarehouseKpis> = BTreeMap::new();
    out.insert(None, WarehouseKpis::default());
    // (warehouse, overall, then the measures of `rollup_warehouse` in its order)
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        i32,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    )> = sqlx::query_as(&format!(
        "WITH {}
             SELECT COALESCE(warehouse_id, ''), GROUPING(warehouse_id),
                 COALESCE(sum(created), 0)::bigint, COALESCE(sum(units_picked), 0)::bigint,
                 COALESCE(sum(units_short), 0)::bigint, COALESCE(sum(pickups_ready), 0)::bigint,
                 COALESCE(sum(pickups_collected), 0)::bigint,
                 COALESCE(sum(parcels_packed), 0)::bigint, COALESCE(sum(weight_grams), 0)::bigint,
                 COALESCE(sum(weighed), 0)::bigint, COALESCE(sum(handed_over), 0)::bigint,
                 COALESCE(sum(delivered), 0)::bigint, COALESCE(sum(first_attempt), 0)::bigint,
                 COALESCE(sum(with_eta), 0)::bigint, COALESCE(sum(on_time), 0)::bigint,
                 COALESCE(sum(failures), 0)::bigint
             FROM wh WHERE $3 = '' OR warehouse_id = $3
             GROUP BY GROUPING SETS ((warehouse_id), ())",
        rollup::WAREHOUSE.source("wh", true)
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(warehouse_id)
    .fetch_all(pool)
    .await?;
    for r in rows {
        let key = (r.1 == 0).then_some(r.0);
        let k = out.entry(key).or_default();
        k.fulfillments_created = r.2;
        k.units_picked = r.3;
        k.units_short_picked = r.4;
        k.pickups_ready = r.5;
        k.pickups_collected = r.6;
        k.parcels_packed = r.7;
        k.average_parcel_weight_grams = if r.9 > 0 {
            (r.8 as f64 / r.9 as f64).round() as i64
        } else {
            0
        };
        k.parcels_handed_over = r.10;
        k.shipments_delivered = r.11;
        k.delivered_first_attempt = r.12;
        k.delivered_with_eta = r.13;
        k.delivered_on_time = r.14;
        k.delivery_failures = r.15;
    }
    let filter = format!(
        "d.series = {} AND ($3 = '' OR d.dim = $3)",
        rollup::DISPATCH_SERIES
    );
    for ((_, warehouse), d) in durations(pool, range, &filter, "d.dim", warehouse_id).await? {
        let k = out.entry(warehouse).or_default();
        k.dispatch_p50 = Some(d.p50);
        k.dispatch_p90 = Some(d.p90);
    }
    Ok(out)
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReturnStats {
    pub return_count: i64,
    pub returned_units: i64,
    pub delivered_units: i64,
    pub refunded_minor: i64,
    pub exchange_count: i64,
    pub rejected_count: i64,
    /// (reason, returns, units), most units first.
    pub by_reason: Vec<(i32, i64, i64)>,
    /// (sku, units delivered, units returned), most returned first.
    pub top_skus: Vec<(String, i64, i64)>,
    /// (problem kind, count).
    pub problems: Vec<(i32, i64)>,
}

/// Returns requested in the range; units delivered in the range as the rate's denominator.
pub async fn return_stats(
    pool: &PgPool,
    range: &Range,
    currency: &str,
    sku: &str,
    top: i64,
) -> Result<ReturnStats, sqlx::Error> {
    const RETURNS: &str = "SELECT r.* FROM return_facts r
        WHERE r.requested_at >= $1 AND r.requested_at < $2
          AND ($3 = '' OR EXISTS (SELECT 1 FROM return_lines l WHERE l.return_id = r.return_id AND l.sku = $3))";
    let (return_count, exchange_count, rejected_count, refunded): (i64, i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT count(*), count(*) FILTER (WHERE resolution = 2), count(*) FILTER (WHERE rejected_at IS NOT NULL),
             COALESCE(sum(refund_minor) FILTER (WHERE refund_currency = $4), 0)::bigint
         FROM ({RETURNS}) r"
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(sku)
    .bind(currency)
    .fetch_one(pool)
    .await?;
    let by_reason: Vec<(i32, i64, i64)> = sqlx::query_as(&format!(
        "SELECT l.reason, count(DISTINCT l.return_id), sum(l.quantity)::bigint
         FROM ({RETURNS}) r JOIN return_lines l ON l.return_id = r.return_id
         WHERE $3 = '' OR l.sku = $3
         GROUP BY l.reason ORDER BY 3 DESC, 1"
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(sku)
    .fetch_all(pool)
    .await?;
    let returned_units = by_reason.iter().map(|(_, _, units)| units).sum();
    let delivered_units: i64 = sqlx::query_scalar(&format!(
        "WITH {}
         SELECT COALESCE(sum(units), 0)::bigint FROM ds WHERE $3 = '' OR sku = $3",
        rollup::DELIVERED_SKUS.source("ds", true)
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(sku)
    .fetch_one(pool)
    .await?;
    let top_skus: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
        "WITH returned AS (
             SELECT l.sku, sum(l.quantity)::bigint AS units FROM ({RETURNS}) r
             JOIN return_lines l ON l.return_id = r.return_id
             WHERE $3 = '' OR l.sku = $3 GROUP BY l.sku
         ),
         {delivered_skus},
         delivered AS (
             SELECT ds.sku, sum(ds.units)::bigint AS units FROM ds
             WHERE ds.sku IN (SELECT sku FROM returned) GROUP BY ds.sku
         )
         SELECT returned.sku, COALESCE(delivered.units, 0), returned.units
         FROM returned LEFT JOIN delivered ON delivered.sku = returned.sku
         ORDER BY returned.units DESC, returned.sku LIMIT $4",
        delivered_skus = rollup::DELIVERED_SKUS.source("ds", true)
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(sku)
    .bind(top)
    .fetch_all(pool)
    .await?;
    let problems: Vec<(i32, i64)> = sqlx::query_as(
        "SELECT kind, count(*) FROM problem_facts WHERE reported_at >= $1 AND reported_at < $2
         GROUP BY kind ORDER BY 2 DESC, 1",
    )
    .bind(range.start)
    .bind(range.end)
    .fetch_all(pool)
    .await?;
    Ok(ReturnStats {
        return_count,
        returned_units,
        delivered_units,
        refunded_minor: refunded,
        exchange_count,
        rejected_count,
        by_reason,
        top_skus,
        problems,
    })
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackStats {
    pub surveys_sent: i64,
    pub surveys_submitted: i64,
    pub average_csat: Option<f64>,
    pub promoters: i64,
    pub passives: i64,
    pub detractors: i64,
    pub reviews_published: i64,
    pub average_rating: Option<f64>,
    /// Count per rating 1–5 (index 0 = one star).
    pub rating_counts: [i64; 5],
    pub cases_opened: i64,
    pub cases_resolved: i64,
    pub sla_breaches: i64,
    pub median_resolution: Option<f64>,
    /// (resolution, count).
    pub resolutions: Vec<(i32, i64)>,
}

pub async fn feedback_stats(
    pool: &PgPool,
    range: &Range,
    sku: &str,
) -> Result<FeedbackStats, sqlx::Error> {
    let (sent, submitted, csat, promoters, passives, detractors): (i64, i64, Option<f64>, i64, i64, i64) =
        sqlx::query_as(
            "SELECT count(*) FILTER (WHERE invited_at >= $1 AND invited_at < $2),
                 count(*) FILTER (WHERE submitted_at >= $1 AND submitted_at < $2),
                 (avg(csat) FILTER (WHERE submitted_at >= $1 AND submitted_at < $2))::float8,
                 count(*) FILTER (WHERE submitted_at >= $1 AND submitted_at < $2 AND nps >= 9),
                 count(*) FILTER (WHERE submitted_at >= $1 AND submitted_at < $2 AND nps BETWEEN 7 AND 8),
                 count(*) FILTER (WHERE submitted_at >= $1 AND submitted_at < $2 AND nps <= 6)
             FROM survey_facts
             WHERE (invited_at >= $1 AND invited_at < $2) OR (submitted_at >= $1 AND submitted_at < $2)",
        )
        .bind(range.start)
        .bind(range.end)
        .fetch_one(pool)
        .await?;
    let ratings: Vec<(i32, i64)> = sqlx::query_as(
        "SELECT rating, count(*) FROM review_facts
         WHERE published_at >= $1 AND published_at < $2 AND ($3 = '' OR sku = $3)
         GROUP BY rating",
    )
    .bind(range.start)
    .bind(range.end)
    .bind(sku)
    .fetch_all(pool)
    .await?;
    let mut rating_counts = [0i64; 5];
    for (rating, count) in &ratings {
        if let Some(slot) = usize::try_from(rating - 1)
            .ok()
            .and_then(|i| rating_counts.get_mut(i))
        {
            *slot += count;
        }
    }
    let reviews_published: i64 = rating_counts.iter().sum();
    let stars: i64 = rating_counts.iter().zip(1..).map(|(c, r)| c * r).sum();
    let (opened, resolved, median): (i64, i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE opened_at >= $1 AND opened_at < $2),
             count(*) FILTER (WHERE resolved_at >= $1 AND resolved_at < $2),
             percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM resolved_at - opened_at)::float8)
                 FILTER (WHERE resolved_at >= $1 AND resolved_at < $2 AND opened_at IS NOT NULL)
         FROM case_facts
         WHERE (opened_at >= $1 AND opened_at < $2) OR (resolved_at >= $1 AND resolved_at < $2)",
    )
    .bind(range.start)
    .bind(range.end)
    .fetch_one(pool)
    .await?;
    let breaches: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sla_breaches WHERE breached_at >= $1 AND breached_at < $2",
    )
    .bind(range.start)
    .bind(range.end)
    .fetch_one(pool)
    .await?;
    let resolutions: Vec<(i32, i64)> = sqlx::query_as(
        "SELECT resolution, count(*) FROM case_facts
         WHERE resolved_at >= $1 AND resolved_at < $2 AND resolution IS NOT NULL
         GROUP BY resolution ORDER BY resolution",
    )
    .bind(range.start)
    .bind(range.end)
    .fetch_all(pool)
    .await?;
    Ok(FeedbackStats {
        surveys_sent: sent,
        surveys_submitted: submitted,
        average_csat: csat,
        promoters,
        passives,
        detractors,
        reviews_published,
        average_rating: (reviews_published > 0).then(|| stars as f64 / reviews_published as f64),
        rating_counts,
        cases_opened: opened,
        cases_resolved: resolved,
        sla_breaches: breaches,
        median_resolution: median,
        resolutions,
    })
}

#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct OrderKpis {
    pub order_count: i64,
    pub delivered_count: i64,
    pub perfect_count: i64,
    pub cancelled_count: i64,
    pub shortage_count: i64,
    pub held_count: i64,
    pub approved_count: i64,
    pub rejected_count: i64,
    pub decision_p50: Option<f64>,
    pub decision_p90: Option<f64>,
    pub customer_count: i64,
    pub repeat_customer_count: i64,
}

/// (payment method, orders, payments authorized, payments declined), most orders first.
pub type MethodRow = (i32, i64, i64, i64);

/// Order-level rates for the orders placed in the range (`channel` 0: all).
pub async fn order_kpis(
    pool: &PgPool,
    range: &Range,
    channel: i32,
) -> Result<(OrderKpis, Vec<(i32, i64)>, Vec<MethodRow>), sqlx::Error> {
    let (order_count, delivered, perfect, cancelled, shortage, held, approved, rejected): (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(&format!(
        "WITH {}
         SELECT COALESCE(sum(orders), 0)::bigint, COALESCE(sum(delivered), 0)::bigint,
             COALESCE(sum(perfect), 0)::bigint, COALESCE(sum(cancelled), 0)::bigint,
             COALESCE(sum(shortage), 0)::bigint, COALESCE(sum(held), 0)::bigint,
             COALESCE(sum(approved), 0)::bigint, COALESCE(sum(rejected), 0)::bigint
         FROM s WHERE $3 = 0 OR channel = $3",
        rollup::SALES.source("s", true)
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(channel)
    .fetch_one(pool)
    .await?;
    // A customer counts once: at their first order of the range (none before it since the
    // start, in this channel when one is asked for); they are a repeat customer if that order
    // had one before it, or is followed by another before the end.
    let (customer_count, repeat_customer_count): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE seq > 1 OR next_placed_at < $2)
         FROM customer_orders
         WHERE placed_at >= $1 AND placed_at < $2 AND ($3 = 0 OR channel = $3)
           AND COALESCE(CASE WHEN $3 = 0 THEN prev_placed_at ELSE prev_channel_placed_at END
                   < $1, true)",
    )
    .bind(range.start)
    .bind(range.end)
    .bind(channel)
    .fetch_one(pool)
    .await?;
    let filter = format!(
        "d.series = {} AND ({channel} = 0 OR d.channel = {channel})",
        rollup::DECISION_SERIES
    );
    let decision = durations(pool, range, &filter, "''::text", "")
        .await?
        .remove(&(rollup::DECISION_SERIES, None));
    let kpis = OrderKpis {
        order_count,
        delivered_count: delivered,
        perfect_count: perfect,
        cancelled_count: cancelled,
        shortage_count: shortage,
        held_count: held,
        approved_count: approved,
        rejected_count: rejected,
        decision_p50: decision.as_ref().map(|d| d.p50),
        decision_p90: decision.as_ref().map(|d| d.p90),
        customer_count,
        repeat_customer_count,
    };
    let reasons: Vec<(i32, i64)> = sqlx::query_as(&format!(
        "WITH {}
         SELECT reason, sum(orders)::bigint FROM c WHERE $3 = 0 OR channel = $3
         GROUP BY reason ORDER BY 2 DESC, 1",
        rollup::CANCELS.source("c", true)
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(channel)
    .fetch_all(pool)
    .await?;
    let methods: Vec<MethodRow> = sqlx::query_as(&format!(
        "WITH {}
         SELECT method, sum(orders)::bigint, sum(authorized)::bigint, sum(declined)::bigint
         FROM m WHERE $3 = 0 OR channel = $3
         GROUP BY method ORDER BY 2 DESC, 1",
        rollup::METHODS.source("m", true)
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(channel)
    .fetch_all(pool)
    .await?;
    Ok((kpis, reasons, methods))
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BreakdownRow {
    pub key: String,
    pub order_count: i64,
    pub units: i64,
    pub revenue_minor: i64,
    /// Revenue of every key in the range, before the limit.
    pub all_revenue_minor: i64,
}

/// Sales of the range by `dimension`, most revenue first.
pub async fn sales_breakdown(
    pool: &PgPool,
    range: &Range,
    dimension: Dimension,
    currency: &str,
    limit: i64,
) -> Result<Vec<BreakdownRow>, sqlx::Error> {
    let (source, key) = match dimension {
        Dimension::Sku => (rollup::SKU_DAYS.source("s", true), "sku"),
        Dimension::Channel => (rollup::SALES.source("s", true), "channel::text"),
        Dimension::Country => (rollup::REGION_DAYS.source("s", true), "country_code"),
        Dimension::Region => (
            rollup::REGION_DAYS.source("s", true),
            "country_code || '/' || region",
        ),
    };
    let revenue = match dimension {
        Dimension::Channel => "gross_minor",
        _ => "revenue_minor",
    };
    let sql = format!(
        "WITH {source}
         SELECT {key} AS key, sum(orders)::bigint AS order_count, sum(units)::bigint AS units,
             sum({revenue})::bigint AS revenue_minor,
             (sum(sum({revenue})) OVER ())::bigint AS all_revenue_minor
         FROM s WHERE currency_code = $3
         GROUP BY 1 ORDER BY revenue_minor DESC, key LIMIT $4"
    );
    sqlx::query_as(&sql)
        .bind(range.start)
        .bind(range.end)
        .bind(currency)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// SKUs whose stock fell low in the range: (sku, warehouses, times, lowest available).
pub async fn stock_lows(
    pool: &PgPool,
    range: &Range,
    limit: i64,
) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT sku, count(DISTINCT warehouse_id), count(*), min(available)
         FROM stock_lows WHERE detected_at >= $1 AND detected_at < $2
         GROUP BY sku ORDER BY min(available), 3 DESC, sku LIMIT $3",
    )
    .bind(range.start)
    .bind(range.end)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// How far the orders placed in the range got: placed, confirmed, dispatched, delivered,
/// accepted, completed.
pub async fn funnel(pool: &PgPool, range: &Range) -> Result<[i64; 6], sqlx::Error> {
    let row: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(&format!(
        "WITH {}
         SELECT COALESCE(sum(orders), 0)::bigint, COALESCE(sum(confirmed), 0)::bigint,
             COALESCE(sum(dispatched), 0)::bigint, COALESCE(sum(delivered), 0)::bigint,
             COALESCE(sum(accepted), 0)::bigint, COALESCE(sum(completed), 0)::bigint
         FROM s",
        rollup::SALES.source("s", true)
    ))
    .bind(range.start)
    .bind(range.end)
    .fetch_one(pool)
    .await?;
    Ok([row.0, row.1, row.2, row.3, row.4, row.5])
}

/// One figure of a customer cohort: `offset` -1 is the cohort itself (`customers` acquired,
/// `repeat_customers` with another order); `offset` k ≥ 0 counts the cohort's customers who
/// ordered again k months after the cohort month.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CohortRow {
    pub month_start: DateTime<Utc>,
    pub offset: i32,
    pub customers: i64,
    pub repeat_customers: i64,
}

/// Customers by the UTC month of their first order (placed in the range), and their later
/// orders up to the range end by month. A later order counts its customer once in its month:
/// when it is the customer's second order, or the previous one was in an earlier month.
pub async fn customer_cohorts(pool: &PgPool, range: &Range) -> Result<Vec<CohortRow>, sqlx::Error> {
    sqlx::query_as(
        "WITH later AS (
             SELECT date_trunc('month', first_placed_at AT TIME ZONE 'UTC') AS cohort,
                 date_trunc('month', placed_at AT TIME ZONE 'UTC') AS month,
                 seq, prev_placed_at, next_placed_at, placed_at
             FROM customer_orders
             WHERE first_placed_at >= $1 AND first_placed_at < $2 AND placed_at < $2
         )
         SELECT cohort AT TIME ZONE 'UTC' AS month_start, -1 AS offset,
             count(*) AS customers, count(*) FILTER (WHERE next_placed_at < $2) AS repeat_customers
         FROM later WHERE seq = 1
         GROUP BY cohort
         UNION ALL
         SELECT cohort AT TIME ZONE 'UTC',
             ((extract(year FROM month) - extract(year FROM cohort)) * 12
                 + extract(month FROM month) - extract(month FROM cohort))::int,
             count(*), 0
         FROM later
         WHERE seq = 2 OR (seq > 2
             AND date_trunc('month', prev_placed_at AT TIME ZONE 'UTC') < month)
         GROUP BY 1, 2
         ORDER BY 1, 2",
    )
    .bind(range.start)
    .bind(range.end)
    .fetch_all(pool)
    .await
}
