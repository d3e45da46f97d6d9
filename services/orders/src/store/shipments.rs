//! Fulfilments, shipments and problem reports of orders, as the other services report them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShipmentRow {
    pub shipment_id: String,
    pub fulfillment_id: String,
    pub parcel_id: String,
    pub warehouse_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: String,
    pub status: String,
    pub handed_over_at: Option<DateTime<Utc>>,
    pub eta: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

pub async fn upsert_fulfillment(
    conn: &mut PgConnection,
    order_id: Uuid,
    fulfillment_id: &str,
    warehouse_id: &str,
    status: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_fulfillments (fulfillment_id, order_id, warehouse_id, status, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (fulfillment_id) DO UPDATE SET status = EXCLUDED.status,
             updated_at = EXCLUDED.updated_at",
    )
    .bind(fulfillment_id)
    .bind(order_id)
    .bind(warehouse_id)
    .bind(status)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn fulfillment_ids(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT fulfillment_id FROM order_fulfillments WHERE order_id = $1")
        .bind(order_id)
        .fetch_all(conn)
        .await
}

pub struct Handover<'a> {
    pub shipment_id: &'a str,
    pub fulfillment_id: &'a str,
    pub parcel_id: &'a str,
    pub warehouse_id: &'a str,
    pub carrier: &'a str,
    pub tracking_number: &'a str,
    pub at: DateTime<Utc>,
    pub lines: &'a [ProblemLine],
    /// An exchange's or repair's replacement, not part of the order's own delivery.
    pub replacement: bool,
}

/// Records a parcel that left; false if this parcel was recorded already (a replay).
pub async fn record_handover(
    conn: &mut PgConnection,
    order_id: Uuid,
    h: &Handover<'_>,
) -> Result<bool, sqlx::Error> {
    let key = if h.shipment_id.is_empty() {
        h.parcel_id
    } else {
        h.shipment_id
    };
    let existing: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("SELECT handed_over_at FROM order_shipments WHERE shipment_id = $1")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
    if matches!(existing, Some(Some(_))) {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO order_shipments (shipment_id, order_id, fulfillment_id, parcel_id,
             warehouse_id, carrier, tracking_number, status, handed_over_at, lines, replacement)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'HANDED_OVER', $8, $9, $10)
         ON CONFLICT (shipment_id) DO UPDATE SET handed_over_at = EXCLUDED.handed_over_at,
             fulfillment_id = EXCLUDED.fulfillment_id, parcel_id = EXCLUDED.parcel_id,
             warehouse_id = EXCLUDED.warehouse_id, lines = EXCLUDED.lines,
             replacement = EXCLUDED.replacement,
             status = CASE WHEN order_shipments.status = 'CREATED' THEN 'HANDED_OVER'
                           ELSE order_shipments.status END",
    )
    .bind(key)
    .bind(order_id)
    .bind(h.fulfillment_id)
    .bind(h.parcel_id)
    .bind(h.warehouse_id)
    .bind(h.carrier)
    .bind(h.tracking_number)
    .bind(h.at)
    .bind(Json(h.lines))
    .bind(h.replacement)
    .execute(conn)
    .await?;
    Ok(true)
}

/// Adds handed-over units to the lines; returns true when every line is shipped or cancelled.
pub async fn add_shipped(
    conn: &mut PgConnection,
    order_id: Uuid,
    lines: &[(String, i32)],
) -> Result<bool, sqlx::Error> {
    for (line_id, quantity) in lines {
        sqlx::query(
            "UPDATE order_lines SET shipped_quantity = least(quantity - cancelled_quantity,
                 shipped_quantity + $3) WHERE order_id = $1 AND line_id = $2",
        )
        .bind(order_id)
        .bind(line_id)
        .bind(quantity)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query_scalar(
        "SELECT bool_and(shipped_quantity + cancelled_quantity >= quantity)
         FROM order_lines WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_one(conn)
    .await
    .map(|all: Option<bool>| all.unwrap_or(false))
}

pub struct Tracking<'a> {
    pub shipment_id: &'a str,
    pub carrier: &'a str,
    pub tracking_number: &'a str,
    pub tracking_url: &'a str,
    pub status: &'a str,
    pub eta: Option<DateTime<Utc>>,
}

pub async fn record_tracking(
    conn: &mut PgConnection,
    order_id: Uuid,
    t: &Tracking<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_shipments (shipment_id, order_id, carrier, tracking_number,
             tracking_url, status, eta)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (shipment_id) DO UPDATE SET carrier = EXCLUDED.carrier,
             tracking_number = EXCLUDED.tracking_number, tracking_url = EXCLUDED.tracking_url,
             eta = coalesce(EXCLUDED.eta, order_shipments.eta),
             status = CASE WHEN order_shipments.status = 'DELIVERED' THEN 'DELIVERED'
                           ELSE EXCLUDED.status END",
    )
    .bind(t.shipment_id)
    .bind(order_id)
    .bind(t.carrier)
    .bind(t.tracking_number)
    .bind(t.tracking_url)
    .bind(t.status)
    .bind(t.eta)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a shipment delivered; returns (newly delivered, every handed-over shipment delivered).
pub async fn record_delivered(
    conn: &mut PgConnection,
    order_id: Uuid,
    shipment_id: &str,
    at: DateTime<Utc>,
    cash_collected_minor: Option<i64>,
) -> Result<(bool, bool), sqlx::Error> {
    // Only shipping's `delivered` fact sets delivered_at; a tracking status change to DELIVERED
    // (published with it, and possibly heard first) sets only the status.
    let before: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("SELECT delivered_at FROM order_shipments WHERE shipment_id = $1")
            .bind(shipment_id)
            .fetch_optional(&mut *conn)
            .await?;
    let fresh = !matches!(before, Some(Some(_)));
    sqlx::query(
        "INSERT INTO order_shipments (shipment_id, order_id, status, delivered_at, cash_collected_minor)
         VALUES ($1, $2, 'DELIVERED', $3, $4)
         ON CONFLICT (shipment_id) DO UPDATE SET status = 'DELIVERED',
             delivered_at = coalesce(order_shipments.delivered_at, EXCLUDED.delivered_at),
             cash_collected_minor = coalesce(EXCLUDED.cash_collected_minor,
                                             order_shipments.cash_collected_minor)",
    )
    .bind(shipment_id)
    .bind(order_id)
    .bind(at)
    .bind(cash_collected_minor)
    .execute(&mut *conn)
    .await?;
    let all: Option<bool> = sqlx::query_scalar(
        "SELECT bool_and(delivered_at IS NOT NULL) FROM order_shipments
         WHERE order_id = $1 AND handed_over_at IS NOT NULL AND NOT replacement",
    )
    .bind(order_id)
    .fetch_one(conn)
    .await?;
    Ok((fresh, all.unwrap_or(false)))
}

/// A parcel on its way back to us, as it left.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Returning {
    pub warehouse_id: String,
    pub tracking_number: String,
    pub lines: Json<Vec<ProblemLine>>,
}

/// Marks an undelivered outbound parcel as returning to sender; `None` if it was marked
/// already, delivered, a replacement, or never handed over.
pub async fn mark_returning(
    conn: &mut PgConnection,
    shipment_id: &str,
    at: DateTime<Utc>,
) -> Result<Option<Returning>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE order_shipments SET returning_at = $2, status = 'RETURNED_TO_SENDER'
         WHERE shipment_id = $1 AND returning_at IS NULL AND delivered_at IS NULL
           AND handed_over_at IS NOT NULL AND NOT replacement
         RETURNING warehouse_id, tracking_number, lines",
    )
    .bind(shipment_id)
    .bind(at)
    .fetch_optional(conn)
    .await
}

/// Whether every parcel of the order that left is coming back (none delivered).
pub async fn all_returning(conn: &mut PgConnection, order_id: Uuid) -> Result<bool, sqlx::Error> {
    let all: Option<bool> = sqlx::query_scalar(
        "SELECT bool_and(returning_at IS NOT NULL AND delivered_at IS NULL) FROM order_shipments
         WHERE order_id = $1 AND handed_over_at IS NOT NULL AND NOT replacement",
    )
    .bind(order_id)
    .fetch_one(conn)
    .await?;
    Ok(all.unwrap_or(false))
}

pub async fn list(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<ShipmentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT shipment_id, fulfillment_id, parcel_id, warehouse_id, carrier, tracking_number,
             tracking_url, status, handed_over_at, eta, delivered_at
         FROM order_shipments WHERE order_id = $1 ORDER BY handed_over_at NULLS LAST, shipment_id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: i32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProblemRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub request_id: String,
    pub kind: String,
    pub description: String,
    pub lines: Json<Vec<ProblemLine>>,
    pub attachment_urls: Json<Vec<String>>,
    pub reported_at: DateTime<Utc>,
    pub case_id: Option<String>,
    pub resolution: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}

const PROBLEM_COLUMNS: &str = "id, order_id, request_id, kind, description, lines,
    attachment_urls, reported_at, case_id, resolution, resolved_at";

pub async fn problem_by_request(
    conn: &mut PgConnection,
    request_id: &str,
) -> Result<Option<ProblemRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PROBLEM_COLUMNS} FROM order_problems WHERE request_id = $1"
    ))
    .bind(request_id)
    .fetch_optional(conn)
    .await
}

pub async fn insert_problem(conn: &mut PgConnection, p: &ProblemRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_problems (id, order_id, request_id, kind, description, lines,
             attachment_urls, reported_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.id)
    .bind(p.order_id)
    .bind(&p.request_id)
    .bind(&p.kind)
    .bind(&p.description)
    .bind(&p.lines)
    .bind(&p.attachment_urls)
    .bind(p.reported_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn problems(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<ProblemRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PROBLEM_COLUMNS} FROM order_problems WHERE order_id = $1 ORDER BY reported_at"
    ))
    .bind(order_id)
    .fetch_all(conn)
    .await
}

/// Records a case's resolution on its problem (or the order's open problem); returns the
/// problem's lines.
pub async fn resolve_problem(
    conn: &mut PgConnection,
    order_id: Uuid,
    problem_id: Option<Uuid>,
    case_id: &str,
    resolution: &str,
    at: DateTime<Utc>,
) -> Result<Vec<ProblemLine>, sqlx::Error> {
    let lines: Option<Json<Vec<ProblemLine>>> = sqlx::query_scalar(
        "UPDATE order_problems SET case_id = $3, resolution = $4, resolved_at = $5
         WHERE id = (SELECT id FROM order_problems
                     WHERE order_id = $1 AND ($2::uuid IS NULL OR id = $2) AND resolved_at IS NULL
                     ORDER BY reported_at LIMIT 1)
         RETURNING lines",
    )
    .bind(order_id)
    .bind(problem_id)
    .bind(case_id)
    .bind(resolution)
    .bind(at)
    .fetch_optional(conn)
    .await?;
    Ok(lines.map(|Json(l)| l).unwrap_or_default())
}

/// Cancels `quantity` more units of a line that will not ship (a short pick); returns how many
/// were cancelled (never beyond what is still unshipped).
/// Records that a fulfilment line was picked short; false if it was recorded already.
pub async fn record_short_pick(
    conn: &mut PgConnection,
    order_id: Uuid,
    fulfillment_id: &str,
    line_id: &str,
    quantity: i32,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO order_short_picks (fulfillment_id, line_id, order_id, quantity)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(fulfillment_id)
    .bind(line_id)
    .bind(order_id)
    .bind(quantity)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn cancel_units(
    conn: &mut PgConnection,
    order_id: Uuid,
    line_id: &str,
    quantity: i32,
) -> Result<i32, sqlx::Error> {
    let line: Option<(i32, i32, i32)> = sqlx::query_as(
        "SELECT quantity, shipped_quantity, cancelled_quantity FROM order_lines
         WHERE order_id = $1 AND line_id = $2 FOR UPDATE",
    )
    .bind(order_id)
    .bind(line_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((ordered, shipped, cancelled)) = line else {
        return Ok(0);
    };
    let more = quantity.min(ordered - shipped - cancelled).max(0);
    if more > 0 {
        sqlx::query(
            "UPDATE order_lines SET cancelled_quantity = cancelled_quantity + $3
             WHERE order_id = $1 AND line_id = $2",
        )
        .bind(order_id)
        .bind(line_id)
        .bind(more)
        .execute(conn)
        .await?;
    }
    Ok(more)
}
