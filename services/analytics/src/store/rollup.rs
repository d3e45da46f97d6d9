//! The rollups: hourly (or daily) sums of the facts, which the dashboard questions read instead
//! of every order of their range (migration `20261228000001_rollups.sql` has the tables).
//!
//! Each [`Rollup`] is one table and the one `SELECT` that computes its rows from the facts for a
//! set of time windows. That same `SELECT` serves twice: [`refresh`] runs it for the buckets
//! marked stale and stores the rows; a question runs it, through [`Rollup::source`], for what the
//! stored rows cannot answer — the partial buckets at the ends of its range and every bucket still
//! marked stale — and adds the stored rows of the rest. A question's answer is therefore the same
//! whether the refresher has caught up or not; only its cost differs.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// The size of a rollup's buckets (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Hour,
    Day,
}

impl Grain {
    fn as_pg(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }
}

/// One rollup table and how its rows are computed.
#[derive(Debug)]
pub struct Rollup {
    pub table: &'static str,
    pub grain: Grain,
    /// For a rollup by day: its twin by hour, same columns, read for the whole hours of the
    /// partial days at the ends of a range (so only partial hours are computed from the facts).
    pub hours: Option<&'static str>,
    /// The table's columns in the order `aggregate` yields them, `bucket` first.
    pub columns: &'static str,
    /// A `SELECT` yielding `columns`, grouped by `bucket` = `date_trunc('@grain', time,
    /// 'UTC')` (`@grain` becomes the table's grain) and the key, over the facts whose time falls
    /// in one of the windows `(lo, hi)` (half-open) of a CTE: `@in(table, column)` stands for
    /// the rows of `table` whose `column` falls in a window (see [`windowed`]).
    pub aggregate: &'static str,
}

impl Rollup {
    /// CTEs ending in one named `name` holding this rollup's rows for the range `[$1, $2)`:
    /// stored rows for whole buckets that are not stale, computed rows (from the facts, at exact
    /// times) for the partial buckets at either end and the stale ones. With `stored` false
    /// everything is computed — for buckets that do not align with the rollup's (a time zone
    /// whose offset is not a whole hour).
    pub fn source(&self, name: &str, stored: bool) -> String {
        let aggregate = self.computed(&format!("{name}_w"), Grain::Hour);
        if !stored {
            return format!(
                "{name}_w (lo, hi) AS (SELECT $1::timestamptz, $2::timestamptz),
                 {name} AS ({aggregate})"
            );
        }
        let (columns, table) = (self.columns, self.table);
        let grain = self.grain.as_pg();
        // `x` whole buckets of the grain inside the range: [lo, hi), collapsed to the end when
        // there is none; `h` the same by hour (the whole range when the rollup is by hour).
        let whole = |g: &str| {
            format!(
                "SELECT CASE WHEN lo < hi THEN lo ELSE $2::timestamptz END AS lo,
                        CASE WHEN lo < hi THEN hi ELSE $2::timestamptz END AS hi
                 FROM (SELECT CASE WHEN date_trunc('{g}', $1::timestamptz, 'UTC') = $1::timestamptz
                                   THEN $1::timestamptz
                                   ELSE date_trunc('{g}', $1::timestamptz, 'UTC') + interval '1 {g}' END AS lo,
                              date_trunc('{g}', $2::timestamptz, 'UTC') AS hi) x"
            )
        };
        let hours_rows = self.hours.map_or(String::new(), |hours| {
            format!(
                "UNION ALL SELECT {columns} FROM {hours} r, {name}_h h, {name}_x x
                 WHERE r.bucket >= h.lo AND r.bucket < h.hi
                   AND NOT (r.bucket >= x.lo AND r.bucket < x.hi)
                   AND r.bucket NOT IN (SELECT g FROM {name}_stale_h)"
            )
        });
        format!(
            "{name}_x AS ({x}),
             {name}_h AS ({h}),
             {name}_stale_x AS MATERIALIZED (
                 SELECT DISTINCT date_trunc('{grain}', s.hour, 'UTC') AS g
                 FROM rollup_stale s, {name}_x x
                 WHERE s.hour >= x.lo AND s.hour < x.hi
             ),
             {name}_stale_h AS MATERIALIZED (
                 SELECT DISTINCT s.hour AS g
                 FROM rollup_stale s, {name}_h h, {name}_x x
                 WHERE s.hour >= h.lo AND s.hour < h.hi AND NOT (s.hour >= x.lo AND s.hour < x.hi)
             ),
             {name}_w (lo, hi) AS (
                 SELECT $1::timestamptz, h.lo FROM {name}_h h WHERE $1::timestamptz < h.lo
                 UNION ALL SELECT h.hi, $2::timestamptz FROM {name}_h h WHERE h.hi < $2::timestamptz
                 UNION ALL SELECT s.g, s.g + interval '1 {grain}' FROM {name}_stale_x s
                 UNION ALL SELECT s.g, s.g + interval '1 hour' FROM {name}_stale_h s
             ),
             {name} AS (
                 SELECT {columns} FROM {table} r, {name}_x x
                 WHERE r.bucket >= x.lo AND r.bucket < x.hi
                   AND r.bucket NOT IN (SELECT g FROM {name}_stale_x)
                 {hours_rows}
                 UNION ALL ({aggregate})
             )",
            x = whole(grain),
            h = if self.hours.is_some() {
                whole("hour")
            } else {
                format!("SELECT lo, hi FROM {name}_x")
            },
        )
    }

    /// The aggregate over the windows of the CTE `windows`, bucketed by `grain`.
    fn computed(&self, windows: &str, grain: Grain) -> String {
        windowed(self.aggregate, windows).replace("@grain", grain.as_pg())
    }
}

/// `sql` with each `@in(table, column)` spelled out as the rows of `table` whose `column` falls
/// in a window of the CTE `windows`. Each window is its own index range scan (a lateral
/// subquery the planner may not flatten): the planner cannot know how few rows a window holds
/// and would otherwise scan whole tables.
pub fn windowed(sql: &str, windows: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 256);
    let mut rest = sql;
    while let Some(at) = rest.find("@in(") {
        out.push_str(&rest[..at]);
        let args_end = rest[at..].find(')').map_or(rest.len(), |i| at + i);
        let args = &rest[at + 4..args_end];
        let (table, column) = args.split_once(',').unwrap_or((args, ""));
        let (table, column) = (table.trim(), column.trim());
        out.push_str(&format!(
            "{windows} w CROSS JOIN LATERAL (SELECT * FROM {table} \
             WHERE {column} >= w.lo AND {column} < w.hi OFFSET 0)"
        ));
        rest = &rest[(args_end + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// Orders by placement hour, currency and channel.
pub const SALES: Rollup = Rollup {
    table: "rollup_sales",
    grain: Grain::Hour,
    hours: None,
    columns: "bucket, currency_code, channel, orders, cancelled, completed, units, gross_minor,
        kept_minor, refunds_minor, confirmed, dispatched, delivered, accepted, perfect, shortage,
        held, approved, rejected",
    aggregate: "SELECT date_trunc('hour', f.placed_at, 'UTC') AS bucket, f.currency_code, f.channel,
            count(*) AS orders,
            count(*) FILTER (WHERE f.cancelled_at IS NOT NULL OR f.rejected_at IS NOT NULL) AS cancelled,
            count(f.completed_at) AS completed,
            COALESCE(sum(f.units), 0)::bigint AS units,
            COALESCE(sum(f.total_minor), 0)::bigint AS gross_minor,
            COALESCE(sum(f.total_minor) FILTER (WHERE f.cancelled_at IS NULL AND f.rejected_at IS NULL), 0)::bigint AS kept_minor,
            COALESCE(sum(m.refunds), 0)::bigint AS refunds_minor,
            count(f.confirmed_at) AS confirmed, count(f.dispatched_at) AS dispatched,
            count(f.delivered_at) AS delivered, count(f.accepted_at) AS accepted,
            count(*) FILTER (WHERE f.delivered_at IS NOT NULL AND f.cancelled_at IS NULL
                AND f.units_short_picked = 0 AND f.problem_reported_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM return_facts r WHERE r.order_id = f.order_id)
                AND NOT EXISTS (SELECT 1 FROM shipment_facts s WHERE s.order_id = f.order_id
                    AND s.direction = 1 AND s.delivered_at > s.first_eta)) AS perfect,
            count(f.shortage_at) AS shortage,
            count(f.held_at) AS held,
            count(*) FILTER (WHERE f.held_at IS NOT NULL AND f.decision = 'approved') AS approved,
            count(*) FILTER (WHERE f.held_at IS NOT NULL AND f.decision = 'rejected') AS rejected
        FROM @in(order_facts, placed_at) f
        LEFT JOIN LATERAL (SELECT sum(mm.amount_minor) AS refunds FROM money_moves mm
            WHERE mm.order_id = f.order_id AND mm.kind = 'refunded'
              AND mm.currency_code = f.currency_code) m ON true
        GROUP BY 1, 2, 3",
};

/// Orders holding a SKU, by placement hour: its lines' units and sales, the whole order's
/// refunds (refunds are not attributed to lines).
pub const SKU_SALES: Rollup = Rollup {
    table: "rollup_sku_sales",
    grain: Grain::Hour,
    hours: None,
    columns: "bucket, currency_code, channel, sku, orders, cancelled, units, gross_minor, kept_minor,
        refunds_minor",
    aggregate: "SELECT date_trunc('hour', f.placed_at, 'UTC') AS bucket, f.currency_code, f.channel, l.sku,
            count(*) AS orders,
            count(*) FILTER (WHERE f.cancelled_at IS NOT NULL OR f.rejected_at IS NOT NULL) AS cancelled,
            sum(l.units)::bigint AS units, sum(l.gross)::bigint AS gross_minor,
            COALESCE(sum(l.gross) FILTER (WHERE f.cancelled_at IS NULL AND f.rejected_at IS NULL), 0)::bigint AS kept_minor,
            COALESCE(sum(m.refunds), 0)::bigint AS refunds_minor
        FROM @in(order_facts, placed_at) f
        JOIN LATERAL (SELECT ol.sku, sum(ol.quantity) AS units, sum(ol.line_total_minor) AS gross
            FROM order_lines ol WHERE ol.order_id = f.order_id GROUP BY ol.sku) l ON true
        LEFT JOIN LATERAL (SELECT sum(mm.amount_minor) AS refunds FROM money_moves mm
            WHERE mm.order_id = f.order_id AND mm.kind = 'refunded'
              AND mm.currency_code = f.currency_code) m ON true
        GROUP BY 1, 2, 3, 4",
};

/// Sales by placement day (and hour) and SKU.
pub const SKU_DAYS: Rollup = Rollup {
    table: "rollup_sku_days",
    grain: Grain::Day,
    hours: Some("rollup_sku_hours"),
    columns: "bucket, currency_code, sku, orders, units, revenue_minor",
    aggregate: "SELECT date_trunc('@grain', f.placed_at, 'UTC') AS bucket, f.currency_code, l.sku,
            count(*) AS orders, sum(l.units)::bigint AS units, sum(l.revenue)::bigint AS revenue_minor
        FROM @in(order_facts, placed_at) f
        JOIN LATERAL (SELECT ol.sku, sum(ol.quantity) AS units, sum(ol.line_total_minor) AS revenue
            FROM order_lines ol WHERE ol.order_id = f.order_id GROUP BY ol.sku) l ON true
        GROUP BY 1, 2, 3",
};

/// Sales by placement day (and hour), country and region.
pub const REGION_DAYS: Rollup = Rollup {
    table: "rollup_region_days",
    grain: Grain::Day,
    hours: Some("rollup_region_hours"),
    columns: "bucket, currency_code, country_code, region, orders, units, revenue_minor",
    aggregate: "SELECT date_trunc('@grain', f.placed_at, 'UTC') AS bucket, f.currency_code,
            f.country_code, f.region, count(*) AS orders, sum(f.units)::bigint AS units,
            sum(f.total_minor)::bigint AS revenue_minor
        FROM @in(order_facts, placed_at) f
        GROUP BY 1, 2, 3, 4",
};

/// Cancelled orders by placement day (and hour), channel and reason.
pub const CANCELS: Rollup = Rollup {
    table: "rollup_cancel_days",
    grain: Grain::Day,
    hours: Some("rollup_cancel_hours"),
    columns: "bucket, channel, reason, orders",
    aggregate: "SELECT date_trunc('@grain', f.placed_at, 'UTC') AS bucket, f.channel,
            f.cancel_reason AS reason, count(*) AS orders
        FROM @in(order_facts, placed_at) f
        WHERE f.cancelled_at IS NOT NULL AND f.cancel_reason IS NOT NULL
        GROUP BY 1, 2, 3",
};

/// Orders and their payments by placement day (and hour), channel and payment method.
pub const METHODS: Rollup = Rollup {
    table: "rollup_method_days",
    grain: Grain::Day,
    hours: Some("rollup_method_hours"),
    columns: "bucket, channel, method, orders, authorized, declined",
    aggregate: "SELECT date_trunc('@grain', f.placed_at, 'UTC') AS bucket, f.channel,
            f.payment_method AS method, count(*) AS orders,
            COALESCE(sum(p.authorized), 0)::bigint AS authorized,
            COALESCE(sum(p.declined), 0)::bigint AS declined
        FROM @in(order_facts, placed_at) f
        LEFT JOIN LATERAL (SELECT count(pf.authorized_at) AS authorized,
                count(pf.declined_at) AS declined
            FROM payment_facts pf WHERE pf.order_id = f.order_id) p ON true
        GROUP BY 1, 2, 3",
};

/// Every duration the dashboard reports, one row each: `series`, `at` (the time it counts by),
/// `channel`, `dim`, `micros`, over the facts in the windows of `@in` (see [`DURATIONS`]).
macro_rules! duration_samples {
    () => {
        "
            SELECT 1 AS series, f.confirmed_at AS at, 0 AS channel, '' AS dim,
                rollup_micros(f.confirmed_at - f.placed_at) AS micros
            FROM @in(order_facts, confirmed_at) f
            WHERE f.confirmed_at >= f.placed_at
            UNION ALL SELECT 2, f.decided_at, 0, '', rollup_micros(f.decided_at - f.held_at)
            FROM @in(order_facts, decided_at) f
            WHERE f.decided_at >= f.held_at
            UNION ALL SELECT 3, f.dispatched_at, 0, '', rollup_micros(f.dispatched_at - f.confirmed_at)
            FROM @in(order_facts, dispatched_at) f
            WHERE f.dispatched_at >= f.confirmed_at
            UNION ALL SELECT 4, s.delivered_at, 0, '', rollup_micros(s.delivered_at - s.handed_over_at)
            FROM @in(shipment_facts, delivered_at) s
            WHERE s.direction = 1 AND s.delivered_at >= s.handed_over_at
            UNION ALL SELECT 5, ff.picked_up_at, 0, '', rollup_micros(ff.picked_up_at - ff.ready_at)
            FROM @in(fulfillment_facts, picked_up_at) ff
            WHERE ff.picked_up_at >= ff.ready_at
            UNION ALL SELECT 6, f.accepted_at, 0, '', rollup_micros(f.accepted_at - f.delivered_at)
            FROM @in(order_facts, accepted_at) f
            WHERE f.accepted_at >= f.delivered_at
            UNION ALL SELECT 7, f.delivered_at, 0, '', rollup_micros(f.delivered_at - f.placed_at)
            FROM @in(order_facts, delivered_at) f
            WHERE f.delivered_at >= f.placed_at
            UNION ALL SELECT 8, f.completed_at, 0, '', rollup_micros(f.completed_at - f.placed_at)
            FROM @in(order_facts, completed_at) f
            WHERE f.completed_at >= f.placed_at
            UNION ALL SELECT 9, r.closed_at, 0, '', rollup_micros(r.closed_at - r.requested_at)
            FROM @in(return_facts, closed_at) r
            WHERE r.closed_at >= r.requested_at
            UNION ALL SELECT 101, f.placed_at, f.channel, '', rollup_micros(f.decided_at - f.held_at)
            FROM @in(order_facts, placed_at) f
            WHERE f.decided_at >= f.held_at
            UNION ALL SELECT 201, p.handed_over_at, 0, p.warehouse_id,
                rollup_micros(p.handed_over_at - o.confirmed_at)
            FROM @in(parcel_facts, handed_over_at) p
            JOIN LATERAL (SELECT of.confirmed_at FROM order_facts of
                WHERE of.order_id = p.order_id OFFSET 0) o ON true
            WHERE o.confirmed_at IS NOT NULL
        "
    };
}

/// The durations of [`DURATIONS`], one row each, for exact percentiles of small ranges.
pub const DURATION_SAMPLES: &str = duration_samples!();

/// The review decision's series in [`DURATIONS`] (by placement hour and channel).
pub const DECISION_SERIES: i32 = 101;
/// The dispatch series in [`DURATIONS`] (parcel handed over after the order's confirmation, by
/// warehouse).
pub const DISPATCH_SERIES: i32 = 201;

/// Duration histograms: the cycle stages (series = stage code) by the hour they ended, the review
/// decision by the order's placement hour, dispatch by the hour the parcel was handed over.
pub const DURATIONS: Rollup = Rollup {
    table: "rollup_durations",
    grain: Grain::Hour,
    hours: None,
    columns: "bucket, series, channel, dim, bin, samples, micros",
    aggregate: concat!(
        "SELECT date_trunc('hour', d.at, 'UTC') AS bucket, d.series, d.channel, d.dim,
            rollup_bin(d.micros) AS bin, count(*) AS samples, sum(d.micros)::bigint AS micros
        FROM (",
        duration_samples!(),
        ") d GROUP BY 1, 2, 3, 4, 5"
    ),
};

/// Warehouse work by the hour each step happened.
pub const WAREHOUSE: Rollup = Rollup {
    table: "rollup_warehouse",
    grain: Grain::Hour,
    hours: None,
    columns: "bucket, warehouse_id, created, units_picked, units_short, pickups_ready,
        pickups_collected, parcels_packed, weight_grams, weighed, handed_over, delivered,
        first_attempt, with_eta, on_time, failures",
    aggregate: "SELECT date_trunc('hour', e.at, 'UTC') AS bucket, e.warehouse_id,
            sum(e.created)::bigint, sum(e.units_picked)::bigint, sum(e.units_short)::bigint,
            sum(e.ready)::bigint, sum(e.collected)::bigint, sum(e.packed)::bigint,
            sum(e.weight)::bigint, sum(e.weighed)::bigint, sum(e.handed_over)::bigint,
            sum(e.delivered)::bigint, sum(e.first_attempt)::bigint, sum(e.with_eta)::bigint,
            sum(e.on_time)::bigint, sum(e.failures)::bigint
        FROM (
            SELECT ff.created_at AS at, ff.warehouse_id, 1 AS created, 0::bigint AS units_picked,
                0::bigint AS units_short, 0 AS ready, 0 AS collected, 0 AS packed, 0::bigint AS weight,
                0 AS weighed, 0 AS handed_over, 0 AS delivered, 0 AS first_attempt, 0 AS with_eta,
                0 AS on_time, 0 AS failures
            FROM @in(fulfillment_facts, created_at) ff
            UNION ALL SELECT ff.picked_at, ff.warehouse_id, 0, ff.units_picked, ff.units_short,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            FROM @in(fulfillment_facts, picked_at) ff
            UNION ALL SELECT ff.ready_at, ff.warehouse_id, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            FROM @in(fulfillment_facts, ready_at) ff
            UNION ALL SELECT ff.picked_up_at, ff.warehouse_id, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0
            FROM @in(fulfillment_facts, picked_up_at) ff
            UNION ALL SELECT p.packed_at, p.warehouse_id, 0, 0, 0, 0, 0, 1,
                COALESCE(p.weight_grams, 0), (p.weight_grams IS NOT NULL)::int, 0, 0, 0, 0, 0, 0
            FROM @in(parcel_facts, packed_at) p
            UNION ALL SELECT p.handed_over_at, p.warehouse_id, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0
            FROM @in(parcel_facts, handed_over_at) p
            UNION ALL SELECT s.delivered_at, s.warehouse_id, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                (NOT EXISTS (SELECT 1 FROM delivery_failures d
                    WHERE d.shipment_id = s.shipment_id AND d.failed_at < s.delivered_at))::int,
                (s.first_eta IS NOT NULL)::int, (s.delivered_at <= s.first_eta)::int, 0
            FROM @in(shipment_facts, delivered_at) s
            WHERE s.direction = 1
            UNION ALL SELECT d.failed_at, s.warehouse_id, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
            FROM @in(delivery_failures, failed_at) d
            JOIN LATERAL (SELECT sf.warehouse_id FROM shipment_facts sf
                WHERE sf.shipment_id = d.shipment_id AND sf.direction = 1 OFFSET 0) s ON true
        ) e
        GROUP BY 1, 2",
};

/// Units delivered by the order's delivery day (and hour) and SKU.
pub const DELIVERED_SKUS: Rollup = Rollup {
    table: "rollup_delivered_sku_days",
    grain: Grain::Day,
    hours: Some("rollup_delivered_sku_hours"),
    columns: "bucket, sku, units",
    aggregate: "SELECT date_trunc('@grain', f.delivered_at, 'UTC') AS bucket, l.sku,
            sum(l.units)::bigint AS units
        FROM @in(order_facts, delivered_at) f
        JOIN LATERAL (SELECT ol.sku, sum(ol.quantity) AS units
            FROM order_lines ol WHERE ol.order_id = f.order_id GROUP BY ol.sku) l ON true
        GROUP BY 1, 2",
};

/// Every rollup, in the order a refresh recomputes them.
pub const ALL: [&Rollup; 9] = [
    &SALES,
    &SKU_SALES,
    &SKU_DAYS,
    &REGION_DAYS,
    &CANCELS,
    &METHODS,
    &DURATIONS,
    &WAREHOUSE,
    &DELIVERED_SKUS,
];

/// The tables a rebuild empties besides the read models.
pub fn tables() -> Vec<&'static str> {
    let mut tables = vec!["rollup_stale", "customer_orders"];
    for rollup in ALL {
        tables.push(rollup.table);
        tables.extend(rollup.hours);
    }
    tables
}

/// Only one refresher works at a time (any process).
const REFRESH_LOCK: i64 = 0x6f63_726f_6c6c;

/// Recomputes the buckets of up to `max_hours` stale hours (oldest first) from the facts and
/// clears their marks; returns how many hours it cleared (0 when none are stale, or another
/// refresher is at work).
pub async fn refresh(pool: &PgPool, max_hours: i64) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // One snapshot for the whole run: a mark added after it (a fact changed meanwhile) is not
    // visible, so not cleared, and its bucket is recomputed next time.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(REFRESH_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(0);
    }
    let hours: Vec<DateTime<Utc>> =
        sqlx::query_scalar("SELECT DISTINCT hour FROM rollup_stale ORDER BY hour LIMIT $1")
            .bind(max_hours)
            .fetch_all(&mut *tx)
            .await?;
    if hours.is_empty() {
        return Ok(0);
    }
    for rollup in ALL {
        let tables = std::iter::once((rollup.table, rollup.grain))
            .chain(rollup.hours.map(|hours| (hours, Grain::Hour)));
        for (table, grain) in tables {
            recompute(&mut tx, rollup, table, grain, &hours).await?;
        }
    }
    let cleared = sqlx::query("DELETE FROM rollup_stale WHERE hour = ANY($1)")
        .bind(&hours)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    tracing::debug!(hours = hours.len(), marks = cleared, "rollups refreshed");
    Ok(hours.len() as u64)
}

/// Recomputes the buckets of `table` (by `grain`) holding `hours` from the facts.
async fn recompute(
    tx: &mut sqlx::PgConnection,
    rollup: &Rollup,
    table: &str,
    grain: Grain,
    hours: &[DateTime<Utc>],
) -> Result<(), sqlx::Error> {
    let g = grain.as_pg();
    let buckets: Vec<DateTime<Utc>> = sqlx::query_scalar(&format!(
        "SELECT DISTINCT date_trunc('{g}', h, 'UTC') FROM unnest($1::timestamptz[]) h"
    ))
    .bind(hours)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(&format!("DELETE FROM {table} WHERE bucket = ANY($1)"))
        .bind(&buckets)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!(
        "WITH w (lo, hi) AS (SELECT b, b + interval '1 {g}' FROM unnest($1::timestamptz[]) b)
         INSERT INTO {table} ({columns}) {aggregate}",
        columns = rollup.columns,
        aggregate = rollup.computed("w", grain),
    ))
    .bind(&buckets)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Refreshes until nothing is stale (a rebuild, the benchmark's load); returns the hours done.
pub async fn refresh_all(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut done = 0;
    loop {
        let n = refresh(pool, 2_000).await?;
        if n == 0 {
            return Ok(done);
        }
        done += n;
    }
}

/// How far behind the rollups are: distinct stale hours, and the age in seconds of the oldest
/// mark (0 when none).
pub async fn lag(pool: &PgPool) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(DISTINCT hour),
             COALESCE(extract(epoch FROM now() - min(marked_at)), 0)::float8
         FROM rollup_stale",
    )
    .fetch_one(pool)
    .await
}

/// Whether every bucket boundary of `granularity` in `time_zone` over the range falls on a UTC
/// hour, so hourly rollup rows can be bucketed there (false for zones such as Asia/Kolkata).
pub async fn aligned_to_hours(
    pool: &PgPool,
    time_zone: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT bool_and(extract(minute FROM (t AT TIME ZONE $1) - (t AT TIME ZONE 'UTC')) = 0
                     AND extract(second FROM (t AT TIME ZONE $1) - (t AT TIME ZONE 'UTC')) = 0)
         FROM unnest(ARRAY[$2::timestamptz, $3::timestamptz]) t",
    )
    .bind(time_zone)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_spells_out_each_scan_of_a_window() {
        assert_eq!(
            windowed(
                "SELECT 1 FROM @in(order_facts, placed_at) f WHERE true",
                "x_w"
            ),
            "SELECT 1 FROM x_w w CROSS JOIN LATERAL (SELECT * FROM order_facts \
             WHERE placed_at >= w.lo AND placed_at < w.hi OFFSET 0) f WHERE true"
        );
        for rollup in ALL {
            let sql = rollup.computed("w", rollup.grain);
            assert!(!sql.contains('@'), "{}: {sql}", rollup.table);
            assert!(rollup.columns.starts_with("bucket,"), "{}", rollup.table);
        }
        assert!(!windowed(DURATION_SAMPLES, "w").contains('@'));
    }
}
