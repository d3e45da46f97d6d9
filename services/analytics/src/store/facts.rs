//! The read models' writes: one upsert per fact, keyed by the fact's natural id (order,
//! payment, transaction, fulfillment, parcel, shipment, return, survey, review, case), so the
//! same fact under a second event id changes nothing, and written so that events of one order
//! may arrive in any order (each sets only its own columns; first times win).
//!
//! The exception is an order update ([`apply_update`]): it replaces the order's total and lines,
//! ordered by the order's version rather than by arrival, and from then on the figures the
//! other order events carry no longer fill them in (they may predate the update).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// What an event says about an order as a whole. Empty values (`""`, `0`, `None`) leave what
/// is known untouched; known values are not overwritten (the first event to know them wins).
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub order_id: String,
    pub order_number: String,
    pub customer_id: String,
    pub channel: i32,
    pub fulfillment_mode: i32,
    pub pickup_store_id: String,
    pub country_code: String,
    pub region: String,
    pub currency_code: String,
    pub total_minor: i64,
    pub units: i64,
    pub line_count: i32,
    pub payment_method: i32,
    pub placed_at: Option<DateTime<Utc>>,
}

impl Header {
    /// Only the id: makes sure the order's row exists.
    pub fn id(order_id: &str) -> Self {
        Self {
            order_id: order_id.to_owned(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Line {
    pub line_id: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub line_total_minor: i64,
}

#[derive(Debug, Clone)]
pub struct ReturnLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: i64,
    pub reason: i32,
}

/// An order's milestone times that events set; the earliest time wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    Held,
    Rejected,
    Confirmed,
    Delivered,
    ProblemReported,
    Shortage,
}

impl Milestone {
    fn column(self) -> &'static str {
        match self {
            Self::Held => "held_at",
            Self::Rejected => "rejected_at",
            Self::Confirmed => "confirmed_at",
            Self::Delivered => "delivered_at",
            Self::ProblemReported => "problem_reported_at",
            Self::Shortage => "shortage_at",
        }
    }
}

/// Upserts the order's row, filling blanks from `h`; the status becomes `status` if that is
/// further along the cycle, and `milestone`'s time is set in the same statement (one row
/// version, not two). The total, units and line count are left to updates once one has
/// applied.
pub async fn upsert_order(
    tx: &mut PgConnection,
    h: &Header,
    status: i32,
    milestone: Option<(Milestone, DateTime<Utc>)>,
) -> Result<(), sqlx::Error> {
    let (column, value, set) = match milestone {
        Some((m, _)) => {
            let c = m.column();
            (
                format!(", {c}"),
                ", $16",
                format!(",\n             {c} = LEAST(o.{c}, EXCLUDED.{c})"),
            )
        }
        None => (String::new(), "", String::new()),
    };
    let sql = format!(
        "INSERT INTO order_facts AS o (order_id, order_number, customer_id, channel,
             fulfillment_mode, pickup_store_id, country_code, region, currency_code, total_minor,
             units, line_count, payment_method, placed_at, status{column})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15{value})
         ON CONFLICT (order_id) DO UPDATE SET
             order_number = COALESCE(NULLIF(o.order_number, ''), EXCLUDED.order_number),
             customer_id = COALESCE(NULLIF(o.customer_id, ''), EXCLUDED.customer_id),
             channel = COALESCE(NULLIF(o.channel, 0), EXCLUDED.channel),
             fulfillment_mode = COALESCE(NULLIF(o.fulfillment_mode, 0), EXCLUDED.fulfillment_mode),
             pickup_store_id = COALESCE(NULLIF(o.pickup_store_id, ''), EXCLUDED.pickup_store_id),
             country_code = COALESCE(NULLIF(o.country_code, ''), EXCLUDED.country_code),
             region = COALESCE(NULLIF(o.region, ''), EXCLUDED.region),
             currency_code = COALESCE(NULLIF(o.currency_code, ''), EXCLUDED.currency_code),
             total_minor = CASE WHEN o.version > 0 THEN o.total_minor
                 ELSE COALESCE(NULLIF(o.total_minor, 0), EXCLUDED.total_minor) END,
             units = CASE WHEN o.version > 0 THEN o.units
                 ELSE COALESCE(NULLIF(o.units, 0), EXCLUDED.units) END,
             line_count = CASE WHEN o.version > 0 THEN o.line_count
                 ELSE COALESCE(NULLIF(o.line_count, 0), EXCLUDED.line_count) END,
             payment_method = COALESCE(NULLIF(o.payment_method, 0), EXCLUDED.payment_method),
             placed_at = LEAST(o.placed_at, EXCLUDED.placed_at),
             status = GREATEST(o.status, EXCLUDED.status){set}"
    );
    let mut query = sqlx::query(&sql)
        .bind(&h.order_id)
        .bind(&h.order_number)
        .bind(&h.customer_id)
        .bind(h.channel)
        .bind(h.fulfillment_mode)
        .bind(&h.pickup_store_id)
        .bind(&h.country_code)
        .bind(&h.region)
        .bind(&h.currency_code)
        .bind(h.total_minor)
        .bind(h.units)
        .bind(h.line_count)
        .bind(h.payment_method)
        .bind(h.placed_at)
        .bind(status);
    if let Some((_, at)) = milestone {
        query = query.bind(at);
    }
    query.execute(tx).await?;
    Ok(())
}

/// Adds the lines an order event carries that are not known yet — unless an update has
/// applied: its lines are the order's, and these may be from before it. One statement for all
/// of them.
pub async fn upsert_lines(
    tx: &mut PgConnection,
    order_id: &str,
    lines: &[Line],
) -> Result<(), sqlx::Error> {
    if lines.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&Line) -> &String| lines.iter().map(f).collect::<Vec<_>>();
    let number = |f: fn(&Line) -> i64| lines.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO order_lines (order_id, line_id, sku, quantity, unit_price_minor, line_total_minor)
         SELECT $1, l.* FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[]) l
         WHERE NOT EXISTS (SELECT 1 FROM order_facts WHERE order_id = $1 AND version > 0)
         ON CONFLICT DO NOTHING",
    )
    .bind(order_id)
    .bind(column(|l| &l.line_id))
    .bind(column(|l| &l.sku))
    .bind(number(|l| l.quantity))
    .bind(number(|l| l.unit_price_minor))
    .bind(number(|l| l.line_total_minor))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Applies an order update of `version`: the order's total, units and line count become
/// `h`'s, its lines `lines` (`None`: the event said nothing about them, they stay), and, when
/// `h` names a country (the update changed the address), its country and region; the order
/// number and customer fill blanks. Only over an older version — the row of an order whose
/// other events have not arrived yet is created, so they find the update there. Returns
/// whether it applied.
pub async fn apply_update(
    tx: &mut PgConnection,
    h: &Header,
    version: i64,
    lines: Option<&[Line]>,
) -> Result<bool, sqlx::Error> {
    let applied: Option<bool> = sqlx::query_scalar(
        "INSERT INTO order_facts AS o (order_id, order_number, customer_id, country_code, region,
             currency_code, total_minor, units, line_count, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (order_id) DO UPDATE SET
             order_number = COALESCE(NULLIF(o.order_number, ''), EXCLUDED.order_number),
             customer_id = COALESCE(NULLIF(o.customer_id, ''), EXCLUDED.customer_id),
             country_code = COALESCE(NULLIF(EXCLUDED.country_code, ''), o.country_code),
             region = CASE WHEN EXCLUDED.country_code <> '' THEN EXCLUDED.region ELSE o.region END,
             currency_code = COALESCE(NULLIF(EXCLUDED.currency_code, ''), o.currency_code),
             total_minor = CASE WHEN EXCLUDED.currency_code <> '' THEN EXCLUDED.total_minor
                 ELSE o.total_minor END,
             units = CASE WHEN $11 THEN EXCLUDED.units ELSE o.units END,
             line_count = CASE WHEN $11 THEN EXCLUDED.line_count ELSE o.line_count END,
             version = EXCLUDED.version
         WHERE o.version < EXCLUDED.version
         RETURNING true",
    )
    .bind(&h.order_id)
    .bind(&h.order_number)
    .bind(&h.customer_id)
    .bind(&h.country_code)
    .bind(&h.region)
    .bind(&h.currency_code)
    .bind(h.total_minor)
    .bind(h.units)
    .bind(h.line_count)
    .bind(version)
    .bind(lines.is_some())
    .fetch_optional(&mut *tx)
    .await?;
    if applied.is_none() {
        return Ok(false);
    }
    let Some(lines) = lines else {
        return Ok(true);
    };
    let kept: Vec<&str> = lines.iter().map(|l| l.line_id.as_str()).collect();
    sqlx::query("DELETE FROM order_lines WHERE order_id = $1 AND NOT (line_id = ANY($2))")
        .bind(&h.order_id)
        .bind(&kept)
        .execute(&mut *tx)
        .await?;
    for line in lines {
        sqlx::query(
            "INSERT INTO order_lines AS l (order_id, line_id, sku, quantity, unit_price_minor,
                 line_total_minor)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (order_id, line_id) DO UPDATE SET sku = EXCLUDED.sku,
                 quantity = EXCLUDED.quantity, unit_price_minor = EXCLUDED.unit_price_minor,
                 line_total_minor = EXCLUDED.line_total_minor
             WHERE (l.sku, l.quantity, l.unit_price_minor, l.line_total_minor) IS DISTINCT FROM
                   (EXCLUDED.sku, EXCLUDED.quantity, EXCLUDED.unit_price_minor,
                    EXCLUDED.line_total_minor)",
        )
        .bind(&h.order_id)
        .bind(&line.line_id)
        .bind(&line.sku)
        .bind(line.quantity)
        .bind(line.unit_price_minor)
        .bind(line.line_total_minor)
        .execute(&mut *tx)
        .await?;
    }
    Ok(true)
}

/// Sets one milestone of an order (the earliest time wins).
pub async fn set_order_time(
    tx: &mut PgConnection,
    order_id: &str,
    milestone: Milestone,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let c = milestone.column();
    sqlx::query(&format!(
        "UPDATE order_facts SET {c} = LEAST({c}, $2) WHERE order_id = $1"
    ))
    .bind(order_id)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A reviewer's (or the deadline's) decision on a held order; the first decision stands.
pub async fn decide(
    tx: &mut PgConnection,
    order_id: &str,
    decision: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE order_facts SET decision = COALESCE(decision, $2), decided_at = LEAST(decided_at, $3)
         WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(decision)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn accept(
    tx: &mut PgConnection,
    order_id: &str,
    at: DateTime<Utc>,
    auto: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE order_facts SET accepted_at = LEAST(accepted_at, $2),
             auto_accepted = COALESCE(auto_accepted, $3)
         WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(at)
    .bind(auto)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn complete(
    tx: &mut PgConnection,
    order_id: &str,
    at: DateTime<Utc>,
    net_paid_minor: Option<i64>,
    return_status: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE order_facts SET completed_at = LEAST(completed_at, $2),
             net_paid_minor = COALESCE(net_paid_minor, $3),
             return_status = GREATEST(return_status, $4)
         WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(at)
    .bind(net_paid_minor)
    .bind(return_status)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn cancel(
    tx: &mut PgConnection,
    order_id: &str,
    at: DateTime<Utc>,
    reason: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE order_facts SET cancelled_at = LEAST(cancelled_at, $2),
             cancel_reason = COALESCE(cancel_reason, $3)
         WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(at)
    .bind(reason)
    .execute(tx)
    .await?;
    Ok(())
}

/// The first parcel handed over or the pickup made ready.
pub async fn dispatched(
    tx: &mut PgConnection,
    order_id: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE order_facts SET dispatched_at = LEAST(dispatched_at, $2) WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A resolved case takes a disputed order back to accepted.
pub async fn end_dispute(
    tx: &mut PgConnection,
    order_id: &str,
    disputed: i32,
    accepted: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE order_facts SET status = $3 WHERE order_id = $1 AND status = $2")
        .bind(order_id)
        .bind(disputed)
        .bind(accepted)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn problem(
    tx: &mut PgConnection,
    problem_id: &str,
    order_id: &str,
    kind: i32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO problem_facts (problem_id, order_id, kind, reported_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(problem_id)
    .bind(order_id)
    .bind(kind)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn return_requested(
    tx: &mut PgConnection,
    return_id: &str,
    order_id: &str,
    resolution: i32,
    at: DateTime<Utc>,
    lines: &[ReturnLine],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO return_facts AS r (return_id, order_id, resolution, requested_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (return_id) DO UPDATE SET
             resolution = COALESCE(NULLIF(r.resolution, 0), EXCLUDED.resolution),
             requested_at = LEAST(r.requested_at, EXCLUDED.requested_at)",
    )
    .bind(return_id)
    .bind(order_id)
    .bind(resolution)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    for line in lines {
        sqlx::query(
            "INSERT INTO return_lines (return_id, line_id, sku, quantity, reason)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(return_id)
        .bind(&line.line_id)
        .bind(&line.sku)
        .bind(line.quantity)
        .bind(line.reason)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

pub async fn return_time(
    tx: &mut PgConnection,
    return_id: &str,
    order_id: &str,
    column: &'static str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let sql = match column {
        "approved_at" => {
            "INSERT INTO return_facts AS r (return_id, order_id, approved_at) VALUES ($1, $2, $3)
             ON CONFLICT (return_id) DO UPDATE SET approved_at = LEAST(r.approved_at, EXCLUDED.approved_at)"
        }
        "rejected_at" => {
            "INSERT INTO return_facts AS r (return_id, order_id, rejected_at) VALUES ($1, $2, $3)
             ON CONFLICT (return_id) DO UPDATE SET rejected_at = LEAST(r.rejected_at, EXCLUDED.rejected_at)"
        }
        other => return Err(sqlx::Error::ColumnNotFound(other.to_owned())),
    };
    sqlx::query(sql)
        .bind(return_id)
        .bind(order_id)
        .bind(at)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn return_closed(
    tx: &mut PgConnection,
    return_id: &str,
    order_id: &str,
    at: DateTime<Utc>,
    outcome: i32,
    refund: Option<(String, i64)>,
) -> Result<(), sqlx::Error> {
    let (currency, amount) = refund.unzip();
    sqlx::query(
        "INSERT INTO return_facts AS r (return_id, order_id, closed_at, outcome, refund_currency, refund_minor)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (return_id) DO UPDATE SET
             closed_at = LEAST(r.closed_at, EXCLUDED.closed_at),
             outcome = COALESCE(r.outcome, EXCLUDED.outcome),
             refund_currency = COALESCE(r.refund_currency, EXCLUDED.refund_currency),
             refund_minor = COALESCE(r.refund_minor, EXCLUDED.refund_minor)",
    )
    .bind(return_id)
    .bind(order_id)
    .bind(at)
    .bind(outcome)
    .bind(currency)
    .bind(amount)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn stock_low(
    tx: &mut PgConnection,
    sku: &str,
    warehouse_id: &str,
    at: DateTime<Utc>,
    available: i64,
    reorder_point: i64,
    below_safety_stock: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stock_lows (sku, warehouse_id, detected_at, available, reorder_point, below_safety_stock)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(sku)
    .bind(warehouse_id)
    .bind(at)
    .bind(available)
    .bind(reorder_point)
    .bind(below_safety_stock)
    .execute(tx)
    .await?;
    Ok(())
}

/// A payment authorized or declined (`declined`: when and why).
pub async fn payment(
    tx: &mut PgConnection,
    payment_id: &str,
    order_id: &str,
    method: i32,
    authorized_at: Option<DateTime<Utc>>,
    declined: Option<(DateTime<Utc>, i32)>,
) -> Result<(), sqlx::Error> {
    let (declined_at, reason) = declined.unzip();
    sqlx::query(
        "INSERT INTO payment_facts AS p (payment_id, order_id, method, authorized_at, declined_at, decline_reason)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (payment_id) DO UPDATE SET
             method = COALESCE(NULLIF(p.method, 0), EXCLUDED.method),
             authorized_at = LEAST(p.authorized_at, EXCLUDED.authorized_at),
             declined_at = LEAST(p.declined_at, EXCLUDED.declined_at),
             decline_reason = COALESCE(p.decline_reason, EXCLUDED.decline_reason)",
    )
    .bind(payment_id)
    .bind(order_id)
    .bind(method)
    .bind(authorized_at)
    .bind(declined_at)
    .bind(reason)
    .execute(tx)
    .await?;
    Ok(())
}

/// A capture, void or refund; keyed by the provider transaction.
pub struct MoneyMove<'a> {
    pub transaction_id: &'a str,
    pub kind: &'a str,
    pub payment_id: &'a str,
    pub order_id: &'a str,
    pub currency: &'a str,
    pub amount_minor: i64,
    pub return_id: &'a str,
    pub case_id: &'a str,
    pub at: DateTime<Utc>,
}

pub async fn money_move(tx: &mut PgConnection, m: &MoneyMove<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO money_moves (transaction_id, kind, payment_id, order_id, currency_code,
             amount_minor, return_id, case_id, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(m.transaction_id)
    .bind(m.kind)
    .bind(m.payment_id)
    .bind(m.order_id)
    .bind(m.currency)
    .bind(m.amount_minor)
    .bind(m.return_id)
    .bind(m.case_id)
    .bind(m.at)
    .execute(tx)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn fulfillment_created(
    tx: &mut PgConnection,
    fulfillment_id: &str,
    order_id: &str,
    warehouse_id: &str,
    mode: i32,
    units: i64,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO fulfillment_facts AS f (fulfillment_id, order_id, warehouse_id, fulfillment_mode, units, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (fulfillment_id) DO UPDATE SET
             warehouse_id = COALESCE(NULLIF(f.warehouse_id, ''), EXCLUDED.warehouse_id),
             fulfillment_mode = COALESCE(NULLIF(f.fulfillment_mode, 0), EXCLUDED.fulfillment_mode),
             units = COALESCE(NULLIF(f.units, 0), EXCLUDED.units),
             created_at = LEAST(f.created_at, EXCLUDED.created_at)",
    )
    .bind(fulfillment_id)
    .bind(order_id)
    .bind(warehouse_id)
    .bind(mode)
    .bind(units)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// The pick of a fulfillment (complete or short); the order's short units are the sum over
/// its fulfillments.
#[allow(clippy::too_many_arguments)]
pub async fn fulfillment_picked(
    tx: &mut PgConnection,
    fulfillment_id: &str,
    order_id: &str,
    warehouse_id: &str,
    at: DateTime<Utc>,
    units_picked: i64,
    units_short: i64,
) -> Result<(), sqlx::Error> {
    let fresh = sqlx::query(
        "INSERT INTO fulfillment_facts AS f (fulfillment_id, order_id, warehouse_id, picked_at, units_picked, units_short)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (fulfillment_id) DO UPDATE SET
             warehouse_id = COALESCE(NULLIF(f.warehouse_id, ''), EXCLUDED.warehouse_id),
             picked_at = EXCLUDED.picked_at, units_picked = EXCLUDED.units_picked,
             units_short = EXCLUDED.units_short
         WHERE f.picked_at IS NULL",
    )
    .bind(fulfillment_id)
    .bind(order_id)
    .bind(warehouse_id)
    .bind(at)
    .bind(units_picked)
    .bind(units_short)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if fresh == 1 {
        sqlx::query(
            "INSERT INTO order_facts AS o (order_id, units_short_picked)
             SELECT $1, COALESCE(sum(units_short), 0) FROM fulfillment_facts WHERE order_id = $1
             ON CONFLICT (order_id) DO UPDATE SET units_short_picked = EXCLUDED.units_short_picked",
        )
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

pub async fn fulfillment_time(
    tx: &mut PgConnection,
    fulfillment_id: &str,
    order_id: &str,
    warehouse_id: &str,
    column: &'static str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let sql = match column {
        "ready_at" => {
            "INSERT INTO fulfillment_facts AS f (fulfillment_id, order_id, warehouse_id, ready_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (fulfillment_id) DO UPDATE SET ready_at = LEAST(f.ready_at, EXCLUDED.ready_at),
                 warehouse_id = COALESCE(NULLIF(f.warehouse_id, ''), EXCLUDED.warehouse_id)"
        }
        "picked_up_at" => {
            "INSERT INTO fulfillment_facts AS f (fulfillment_id, order_id, warehouse_id, picked_up_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (fulfillment_id) DO UPDATE SET picked_up_at = LEAST(f.picked_up_at, EXCLUDED.picked_up_at),
                 warehouse_id = COALESCE(NULLIF(f.warehouse_id, ''), EXCLUDED.warehouse_id)"
        }
        "cancelled_at" => {
            "INSERT INTO fulfillment_facts AS f (fulfillment_id, order_id, warehouse_id, cancelled_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (fulfillment_id) DO UPDATE SET cancelled_at = LEAST(f.cancelled_at, EXCLUDED.cancelled_at),
                 warehouse_id = COALESCE(NULLIF(f.warehouse_id, ''), EXCLUDED.warehouse_id)"
        }
        other => return Err(sqlx::Error::ColumnNotFound(other.to_owned())),
    };
    sqlx::query(sql)
        .bind(fulfillment_id)
        .bind(order_id)
        .bind(warehouse_id)
        .bind(at)
        .execute(tx)
        .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn parcel_packed(
    tx: &mut PgConnection,
    parcel_id: &str,
    fulfillment_id: &str,
    order_id: &str,
    warehouse_id: &str,
    shipment_id: &str,
    weight_grams: i64,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO parcel_facts AS p (parcel_id, fulfillment_id, order_id, warehouse_id, shipment_id, weight_grams, packed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (parcel_id) DO UPDATE SET
             shipment_id = COALESCE(NULLIF(p.shipment_id, ''), EXCLUDED.shipment_id),
             weight_grams = COALESCE(p.weight_grams, EXCLUDED.weight_grams),
             packed_at = LEAST(p.packed_at, EXCLUDED.packed_at)",
    )
    .bind(parcel_id)
    .bind(fulfillment_id)
    .bind(order_id)
    .bind(warehouse_id)
    .bind(shipment_id)
    .bind(weight_grams)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A parcel given to its carrier: the parcel and its shipment both record the time.
#[allow(clippy::too_many_arguments)]
pub async fn parcel_handed_over(
    tx: &mut PgConnection,
    parcel_id: &str,
    fulfillment_id: &str,
    order_id: &str,
    warehouse_id: &str,
    shipment_id: &str,
    carrier: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO parcel_facts AS p (parcel_id, fulfillment_id, order_id, warehouse_id, shipment_id, handed_over_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (parcel_id) DO UPDATE SET
             shipment_id = COALESCE(NULLIF(p.shipment_id, ''), EXCLUDED.shipment_id),
             handed_over_at = LEAST(p.handed_over_at, EXCLUDED.handed_over_at)",
    )
    .bind(parcel_id)
    .bind(fulfillment_id)
    .bind(order_id)
    .bind(warehouse_id)
    .bind(shipment_id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    if !shipment_id.is_empty() {
        sqlx::query(
            "INSERT INTO shipment_facts AS s (shipment_id, order_id, direction, warehouse_id, carrier, handed_over_at)
             VALUES ($1, $2, 1, $3, $4, $5)
             ON CONFLICT (shipment_id) DO UPDATE SET
                 warehouse_id = COALESCE(NULLIF(s.warehouse_id, ''), EXCLUDED.warehouse_id),
                 carrier = COALESCE(NULLIF(s.carrier, ''), EXCLUDED.carrier),
                 handed_over_at = LEAST(s.handed_over_at, EXCLUDED.handed_over_at)",
        )
        .bind(shipment_id)
        .bind(order_id)
        .bind(warehouse_id)
        .bind(carrier)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn shipment_created(
    tx: &mut PgConnection,
    shipment_id: &str,
    order_id: &str,
    direction: i32,
    warehouse_id: &str,
    carrier: &str,
    eta: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shipment_facts AS s (shipment_id, order_id, direction, warehouse_id, carrier, first_eta, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (shipment_id) DO UPDATE SET
             direction = COALESCE(NULLIF(s.direction, 0), EXCLUDED.direction),
             warehouse_id = COALESCE(NULLIF(s.warehouse_id, ''), EXCLUDED.warehouse_id),
             carrier = COALESCE(NULLIF(s.carrier, ''), EXCLUDED.carrier),
             -- The ETA promised at creation is the one delivery is measured against.
             first_eta = COALESCE(EXCLUDED.first_eta, s.first_eta),
             created_at = LEAST(s.created_at, EXCLUDED.created_at)",
    )
    .bind(shipment_id)
    .bind(order_id)
    .bind(direction)
    .bind(warehouse_id)
    .bind(carrier)
    .bind(eta)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// An ETA from a status change counts only when none was promised at creation.
pub async fn shipment_eta(
    tx: &mut PgConnection,
    shipment_id: &str,
    order_id: &str,
    direction: i32,
    eta: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shipment_facts AS s (shipment_id, order_id, direction) VALUES ($1, $2, $3)
         ON CONFLICT (shipment_id) DO NOTHING",
    )
    .bind(shipment_id)
    .bind(order_id)
    .bind(direction)
    .execute(&mut *tx)
    .await?;
    // Without a creation time the creation event has not arrived yet; its ETA will win then.
    sqlx::query(
        "UPDATE shipment_facts SET first_eta = $2
         WHERE shipment_id = $1 AND first_eta IS NULL AND created_at IS NOT NULL",
    )
    .bind(shipment_id)
    .bind(eta)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn shipment_delivered(
    tx: &mut PgConnection,
    shipment_id: &str,
    order_id: &str,
    direction: i32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shipment_facts AS s (shipment_id, order_id, direction, delivered_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (shipment_id) DO UPDATE SET
             direction = COALESCE(NULLIF(s.direction, 0), EXCLUDED.direction),
             delivered_at = LEAST(s.delivered_at, EXCLUDED.delivered_at)",
    )
    .bind(shipment_id)
    .bind(order_id)
    .bind(direction)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn delivery_failed(
    tx: &mut PgConnection,
    shipment_id: &str,
    attempt: i32,
    order_id: &str,
    reason: i32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO delivery_failures (shipment_id, attempt, order_id, reason, failed_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(shipment_id)
    .bind(attempt)
    .bind(order_id)
    .bind(reason)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn survey_invited(
    tx: &mut PgConnection,
    survey_id: &str,
    order_id: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO survey_facts AS s (survey_id, order_id, invited_at) VALUES ($1, $2, $3)
         ON CONFLICT (survey_id) DO UPDATE SET invited_at = LEAST(s.invited_at, EXCLUDED.invited_at)",
    )
    .bind(survey_id)
    .bind(order_id)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn survey_submitted(
    tx: &mut PgConnection,
    survey_id: &str,
    order_id: &str,
    at: DateTime<Utc>,
    csat: i32,
    nps: Option<i32>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO survey_facts AS s (survey_id, order_id, submitted_at, csat, nps) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (survey_id) DO UPDATE SET
             submitted_at = LEAST(s.submitted_at, EXCLUDED.submitted_at),
             csat = COALESCE(s.csat, EXCLUDED.csat), nps = COALESCE(s.nps, EXCLUDED.nps)",
    )
    .bind(survey_id)
    .bind(order_id)
    .bind(at)
    .bind(csat)
    .bind(nps)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn review(
    tx: &mut PgConnection,
    review_id: &str,
    sku: &str,
    order_id: &str,
    rating: i32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO review_facts (review_id, sku, order_id, rating, published_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(review_id)
    .bind(sku)
    .bind(order_id)
    .bind(rating)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn case_opened(
    tx: &mut PgConnection,
    case_id: &str,
    order_id: &str,
    kind: i32,
    at: DateTime<Utc>,
    resolve_due_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO case_facts AS c (case_id, order_id, kind, opened_at, resolve_due_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (case_id) DO UPDATE SET
             order_id = COALESCE(NULLIF(c.order_id, ''), EXCLUDED.order_id),
             kind = COALESCE(NULLIF(c.kind, 0), EXCLUDED.kind),
             opened_at = LEAST(c.opened_at, EXCLUDED.opened_at),
             resolve_due_at = COALESCE(c.resolve_due_at, EXCLUDED.resolve_due_at)",
    )
    .bind(case_id)
    .bind(order_id)
    .bind(kind)
    .bind(at)
    .bind(resolve_due_at)
    .execute(tx)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn case_resolved(
    tx: &mut PgConnection,
    case_id: &str,
    order_id: &str,
    kind: i32,
    opened_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
    resolution: i32,
    sla_breached: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO case_facts AS c (case_id, order_id, kind, opened_at, resolved_at, resolution, sla_breached)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (case_id) DO UPDATE SET
             order_id = COALESCE(NULLIF(c.order_id, ''), EXCLUDED.order_id),
             kind = COALESCE(NULLIF(c.kind, 0), EXCLUDED.kind),
             opened_at = LEAST(c.opened_at, EXCLUDED.opened_at),
             resolved_at = LEAST(c.resolved_at, EXCLUDED.resolved_at),
             resolution = COALESCE(c.resolution, EXCLUDED.resolution),
             sla_breached = c.sla_breached OR EXCLUDED.sla_breached",
    )
    .bind(case_id)
    .bind(order_id)
    .bind(kind)
    .bind(opened_at)
    .bind(at)
    .bind(resolution)
    .bind(sla_breached)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn sla_breached(
    tx: &mut PgConnection,
    case_id: &str,
    order_id: &str,
    sla: i32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sla_breaches (case_id, sla, breached_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(case_id)
    .bind(sla)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO case_facts AS c (case_id, order_id, sla_breached) VALUES ($1, $2, true)
         ON CONFLICT (case_id) DO UPDATE SET sla_breached = true",
    )
    .bind(case_id)
    .bind(order_id)
    .execute(tx)
    .await?;
    Ok(())
}
