//! The questions: each function answers one family of KPIs over the read models for a time
//! range. Durations come back in seconds (`f64`, microsecond precision), money in minor units,
//! enums as their protobuf numbers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::{Dimension, Granularity, Range};

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
    sqlx::query_as(
        "WITH o AS (
             SELECT f.order_id, f.placed_at,
                 (f.cancelled_at IS NOT NULL OR f.rejected_at IS NOT NULL) AS cancelled,
                 CASE WHEN $6 = '' THEN f.units ELSE (SELECT COALESCE(sum(l.quantity), 0)
                     FROM order_lines l WHERE l.order_id = f.order_id AND l.sku = $6) END AS units,
                 CASE WHEN $6 = '' THEN f.total_minor ELSE (SELECT COALESCE(sum(l.line_total_minor), 0)
                     FROM order_lines l WHERE l.order_id = f.order_id AND l.sku = $6) END AS gross,
                 (SELECT COALESCE(sum(m.amount_minor), 0) FROM money_moves m
                     WHERE m.order_id = f.order_id AND m.kind = 'refunded'
                       AND m.currency_code = f.currency_code) AS refunds
             FROM order_facts f
             WHERE f.placed_at >= $1 AND f.placed_at < $2 AND f.currency_code = $3
               AND ($5 = 0 OR f.channel = $5)
               AND ($6 = '' OR EXISTS (SELECT 1 FROM order_lines l
                     WHERE l.order_id = f.order_id AND l.sku = $6))
         ),
         b AS (
             SELECT gs AS local_start FROM generate_series(
                 date_trunc($4, $1 AT TIME ZONE $7),
                 ($2 AT TIME ZONE $7) - interval '1 microsecond',
                 ('1 ' || $4)::interval) gs
         )
         SELECT b.local_start AT TIME ZONE $7 AS bucket_start,
             count(o.order_id) AS order_count,
             count(o.order_id) FILTER (WHERE o.cancelled) AS cancelled_count,
             COALESCE(sum(o.units), 0)::bigint AS units,
             COALESCE(sum(o.gross), 0)::bigint AS gross_minor,
             COALESCE(sum(o.refunds), 0)::bigint AS refunds_minor,
             COALESCE(sum(o.gross) FILTER (WHERE NOT o.cancelled), 0)::bigint AS kept_gross_minor
         FROM b LEFT JOIN o ON date_trunc($4, o.placed_at AT TIME ZONE $7) = b.local_start
         GROUP BY b.local_start
         ORDER BY b.local_start",
    )
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
    sqlx::query_as(
        "SELECT channel, count(*) AS order_count, COALESCE(sum(total_minor), 0)::bigint AS revenue_minor,
             count(*) FILTER (WHERE completed_at IS NOT NULL) AS completed_count,
             count(*) FILTER (WHERE cancelled_at IS NOT NULL OR rejected_at IS NOT NULL) AS cancelled_count
         FROM order_facts
         WHERE placed_at >= $1 AND placed_at < $2 AND currency_code = $3
         GROUP BY channel
         ORDER BY order_count DESC, channel",
    )
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

/// Duration statistics per stage, over the stages that ended in `range`.
pub async fn cycle_times(
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
    let key = |warehouse: String, overall: i32| (overall == 0).then_some(warehouse);

    let rows: Vec<(String, i32, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT COALESCE(warehouse_id, ''), GROUPING(warehouse_id),
             count(*) FILTER (WHERE created_at >= $1 AND created_at < $2),
             COALESCE(sum(units_picked) FILTER (WHERE picked_at >= $1 AND picked_at < $2), 0)::bigint,
             COALESCE(sum(units_short) FILTER (WHERE picked_at >= $1 AND picked_at < $2), 0)::bigint,
             count(*) FILTER (WHERE ready_at >= $1 AND ready_at < $2),
             count(*) FILTER (WHERE picked_up_at >= $1 AND picked_up_at < $2)
         FROM fulfillment_facts WHERE $3 = '' OR warehouse_id = $3
         GROUP BY GROUPING SETS ((warehouse_id), ())",
    )
    .bind(range.start)
    .bind(range.end)
    .bind(warehouse_id)
    .fetch_all(pool)
    .await?;
    for (warehouse, overall, created, picked, short, ready, collected) in rows {
        let k = out.entry(key(warehouse, overall)).or_default();
        k.fulfillments_created = created;
        k.units_picked = picked;
        k.units_short_picked = short;
        k.pickups_ready = ready;
        k.pickups_collected = collected;
    }

    /// (warehouse, overall, packed, mean weight, handed over, dispatch p50, dispatch p90)
    type ParcelRow = (String, i32, i64, Option<f64>, i64, Option<f64>, Option<f64>);
    let rows: Vec<ParcelRow> = sqlx::query_as(
        "SELECT COALESCE(p.warehouse_id, ''), GROUPING(p.warehouse_id),
             count(*) FILTER (WHERE p.packed_at >= $1 AND p.packed_at < $2),
             (avg(p.weight_grams) FILTER (WHERE p.packed_at >= $1 AND p.packed_at < $2))::float8,
             count(*) FILTER (WHERE p.handed_over_at >= $1 AND p.handed_over_at < $2),
             percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM p.handed_over_at - o.confirmed_at)::float8)
                 FILTER (WHERE p.handed_over_at >= $1 AND p.handed_over_at < $2 AND o.confirmed_at IS NOT NULL),
             percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM p.handed_over_at - o.confirmed_at)::float8)
                 FILTER (WHERE p.handed_over_at >= $1 AND p.handed_over_at < $2 AND o.confirmed_at IS NOT NULL)
         FROM parcel_facts p LEFT JOIN order_facts o ON o.order_id = p.order_id
         WHERE $3 = '' OR p.warehouse_id = $3
         GROUP BY GROUPING SETS ((p.warehouse_id), ())",
    )
    .bind(range.start)
    .bind(range.end)
    .bind(warehouse_id)
    .fetch_all(pool)
    .await?;
    for (warehouse, overall, packed, weight, handed, p50, p90) in rows {
        let k = out.entry(key(warehouse, overall)).or_default();
        k.parcels_packed = packed;
        k.average_parcel_weight_grams = weight.map_or(0, |w| w.round() as i64);
        k.parcels_handed_over = handed;
        k.dispatch_p50 = p50;
        k.dispatch_p90 = p90;
    }

    let rows: Vec<(String, i32, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT COALESCE(s.warehouse_id, ''), GROUPING(s.warehouse_id),
             count(*),
             count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM delivery_failures d
                 WHERE d.shipment_id = s.shipment_id AND d.failed_at < s.delivered_at)),
             count(*) FILTER (WHERE s.first_eta IS NOT NULL),
             count(*) FILTER (WHERE s.delivered_at <= s.first_eta)
         FROM shipment_facts s
         WHERE s.direction = 1 AND s.delivered_at >= $1 AND s.delivered_at < $2
           AND ($3 = '' OR s.warehouse_id = $3)
         GROUP BY GROUPING SETS ((s.warehouse_id), ())",
    )
    .bind(range.start)
    .bind(range.end)
    .bind(warehouse_id)
    .fetch_all(pool)
    .await?;
    for (warehouse, overall, delivered, first, with_eta, on_time) in rows {
        let k = out.entry(key(warehouse, overall)).or_default();
        k.shipments_delivered = delivered;
        k.delivered_first_attempt = first;
        k.delivered_with_eta = with_eta;
        k.delivered_on_time = on_time;
    }

    let rows: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT COALESCE(s.warehouse_id, ''), GROUPING(s.warehouse_id), count(*)
         FROM delivery_failures d JOIN shipment_facts s ON s.shipment_id = d.shipment_id
         WHERE s.direction = 1 AND d.failed_at >= $1 AND d.failed_at < $2
           AND ($3 = '' OR s.warehouse_id = $3)
         GROUP BY GROUPING SETS ((s.warehouse_id), ())",
    )
    .bind(range.start)
    .bind(range.end)
    .bind(warehouse_id)
    .fetch_all(pool)
    .await?;
    for (warehouse, overall, failures) in rows {
        out.entry(key(warehouse, overall))
            .or_default()
            .delivery_failures = failures;
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
    let delivered_units: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(l.quantity), 0)::bigint FROM order_facts f
         JOIN order_lines l ON l.order_id = f.order_id
         WHERE f.delivered_at >= $1 AND f.delivered_at < $2 AND ($3 = '' OR l.sku = $3)",
    )
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
         delivered AS (
             SELECT l.sku, sum(l.quantity)::bigint AS units FROM order_facts f
             JOIN order_lines l ON l.order_id = f.order_id
             WHERE f.delivered_at >= $1 AND f.delivered_at < $2 GROUP BY l.sku
         )
         SELECT returned.sku, COALESCE(delivered.units, 0), returned.units
         FROM returned LEFT JOIN delivered ON delivered.sku = returned.sku
         ORDER BY returned.units DESC, returned.sku LIMIT $4"
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
             FROM survey_facts",
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
         FROM case_facts",
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
    const ORDERS: &str = "SELECT * FROM order_facts f
        WHERE f.placed_at >= $1 AND f.placed_at < $2 AND ($3 = 0 OR f.channel = $3)";
    let kpis: OrderKpis = sqlx::query_as(&format!(
        "SELECT count(*) AS order_count,
             count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered_count,
             count(*) FILTER (WHERE delivered_at IS NOT NULL AND cancelled_at IS NULL
                 AND units_short_picked = 0 AND problem_reported_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM return_facts r WHERE r.order_id = o.order_id)
                 AND NOT EXISTS (SELECT 1 FROM shipment_facts s WHERE s.order_id = o.order_id
                     AND s.direction = 1 AND s.delivered_at > s.first_eta)) AS perfect_count,
             count(*) FILTER (WHERE cancelled_at IS NOT NULL OR rejected_at IS NOT NULL) AS cancelled_count,
             count(*) FILTER (WHERE shortage_at IS NOT NULL) AS shortage_count,
             count(*) FILTER (WHERE held_at IS NOT NULL) AS held_count,
             count(*) FILTER (WHERE held_at IS NOT NULL AND decision = 'approved') AS approved_count,
             count(*) FILTER (WHERE held_at IS NOT NULL AND decision = 'rejected') AS rejected_count,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM decided_at - held_at)::float8)
                 FILTER (WHERE decided_at >= held_at) AS decision_p50,
             percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM decided_at - held_at)::float8)
                 FILTER (WHERE decided_at >= held_at) AS decision_p90,
             count(DISTINCT NULLIF(customer_id, '')) AS customer_count,
             (SELECT count(*) FROM (
                 SELECT c.customer_id FROM order_facts c
                 WHERE c.customer_id IN (SELECT NULLIF(customer_id, '') FROM ({ORDERS}) x)
                   AND c.placed_at < $2
                 GROUP BY c.customer_id HAVING count(*) > 1) r) AS repeat_customer_count
         FROM ({ORDERS}) o"
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(channel)
    .fetch_one(pool)
    .await?;
    let reasons: Vec<(i32, i64)> = sqlx::query_as(&format!(
        "SELECT cancel_reason, count(*) FROM ({ORDERS}) o
         WHERE cancelled_at IS NOT NULL AND cancel_reason IS NOT NULL
         GROUP BY cancel_reason ORDER BY 2 DESC, 1"
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(channel)
    .fetch_all(pool)
    .await?;
    let methods: Vec<MethodRow> = sqlx::query_as(&format!(
        "SELECT o.payment_method, count(*),
             COALESCE(sum((SELECT count(*) FROM payment_facts p
                 WHERE p.order_id = o.order_id AND p.authorized_at IS NOT NULL)), 0)::bigint,
             COALESCE(sum((SELECT count(*) FROM payment_facts p
                 WHERE p.order_id = o.order_id AND p.declined_at IS NOT NULL)), 0)::bigint
         FROM ({ORDERS}) o
         GROUP BY o.payment_method ORDER BY 2 DESC, 1"
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
    let sql = match dimension {
        Dimension::Sku => {
            "SELECT l.sku AS key, count(DISTINCT f.order_id) AS order_count,
                 sum(l.quantity)::bigint AS units, sum(l.line_total_minor)::bigint AS revenue_minor,
                 (sum(sum(l.line_total_minor)) OVER ())::bigint AS all_revenue_minor
             FROM order_facts f JOIN order_lines l ON l.order_id = f.order_id
             WHERE f.placed_at >= $1 AND f.placed_at < $2 AND f.currency_code = $3
             GROUP BY l.sku ORDER BY revenue_minor DESC, key LIMIT $4"
        }
        Dimension::Channel => {
            "SELECT channel::text AS key, count(*) AS order_count, sum(units)::bigint AS units,
                     sum(total_minor)::bigint AS revenue_minor,
                     (sum(sum(total_minor)) OVER ())::bigint AS all_revenue_minor
                 FROM order_facts WHERE placed_at >= $1 AND placed_at < $2 AND currency_code = $3
                 GROUP BY 1 ORDER BY revenue_minor DESC, key LIMIT $4"
        }
        Dimension::Country => {
            "SELECT country_code AS key, count(*) AS order_count, sum(units)::bigint AS units,
                     sum(total_minor)::bigint AS revenue_minor,
                     (sum(sum(total_minor)) OVER ())::bigint AS all_revenue_minor
                 FROM order_facts WHERE placed_at >= $1 AND placed_at < $2 AND currency_code = $3
                 GROUP BY 1 ORDER BY revenue_minor DESC, key LIMIT $4"
        }
        Dimension::Region => {
            "SELECT country_code || '/' || region AS key, count(*) AS order_count,
                     sum(units)::bigint AS units, sum(total_minor)::bigint AS revenue_minor,
                     (sum(sum(total_minor)) OVER ())::bigint AS all_revenue_minor
                 FROM order_facts WHERE placed_at >= $1 AND placed_at < $2 AND currency_code = $3
                 GROUP BY 1 ORDER BY revenue_minor DESC, key LIMIT $4"
        }
    };
    sqlx::query_as(sql)
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
    let row: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(confirmed_at), count(dispatched_at), count(delivered_at),
             count(accepted_at), count(completed_at)
         FROM order_facts WHERE placed_at >= $1 AND placed_at < $2",
    )
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
/// orders up to the range end by month.
pub async fn customer_cohorts(pool: &PgPool, range: &Range) -> Result<Vec<CohortRow>, sqlx::Error> {
    sqlx::query_as(
        "WITH firsts AS (
             SELECT customer_id, min(placed_at) AS first_at, count(*) AS orders
             FROM order_facts
             WHERE customer_id <> '' AND placed_at < $2
             GROUP BY customer_id
         ),
         cohort AS (
             SELECT customer_id, first_at, orders,
                 date_trunc('month', first_at AT TIME ZONE 'UTC') AS month
             FROM firsts
             WHERE first_at >= $1
         )
         SELECT month AT TIME ZONE 'UTC' AS month_start, -1 AS offset,
             count(*) AS customers, count(*) FILTER (WHERE orders > 1) AS repeat_customers
         FROM cohort
         GROUP BY month
         UNION ALL
         SELECT c.month AT TIME ZONE 'UTC',
             ((extract(year FROM m.month) - extract(year FROM c.month)) * 12
                 + extract(month FROM m.month) - extract(month FROM c.month))::int,
             count(DISTINCT o.customer_id), 0
         FROM cohort c
         JOIN order_facts o ON o.customer_id = c.customer_id
             AND o.placed_at > c.first_at AND o.placed_at < $2
         CROSS JOIN LATERAL (SELECT date_trunc('month', o.placed_at AT TIME ZONE 'UTC') AS month) m
         GROUP BY 1, 2
         ORDER BY 1, 2",
    )
    .bind(range.start)
    .bind(range.end)
    .fetch_all(pool)
    .await
}
