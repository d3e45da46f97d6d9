//! The `order_returns` and `order_return_lines` tables (RMAs), and the return summary they
//! leave on the order (`orders.return_status`, `order_lines.returned_quantity`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::Address;
use crate::domain::returns::{self, Grades, outcome, status};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: i32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReturnRow {
    pub id: Uuid,
    pub rma_number: String,
    pub order_id: Uuid,
    pub order_number: String,
    pub request_id: String,
    pub request_hash: Vec<u8>,
    pub customer_id: String,
    pub status: String,
    pub resolution: String,
    pub exchange_lines: Json<Vec<ExchangeLine>>,
    pub customer_note: String,
    pub pickup_address: Option<Json<Address>>,
    pub return_warehouse_id: String,
    pub return_shipment_id: String,
    pub return_tracking_number: String,
    pub shipping_paid_by: String,
    pub decided_by: String,
    pub decision_reason: String,
    pub currency: String,
    pub refund_total_minor: Option<i64>,
    pub outcome: Option<String>,
    pub exchange_reservation_id: Option<Uuid>,
    pub requested_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
    pub inspected_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineRow {
    pub line_id: String,
    pub position: i32,
    pub sku: String,
    pub quantity: i32,
    pub reason: String,
    pub note: String,
    pub unit_price_minor: i64,
    pub received_quantity: i32,
    pub resellable_quantity: i32,
    pub grades: Json<Grades>,
    pub refund_minor: Option<i64>,
}

/// An RMA with its lines.
#[derive(Debug, Clone)]
pub struct Rma {
    pub row: ReturnRow,
    pub lines: Vec<LineRow>,
}

const COLUMNS: &str =
    "id, rma_number, order_id, order_number, request_id, request_hash, customer_id, status,
    resolution, exchange_lines, customer_note, pickup_address, return_warehouse_id,
    return_shipment_id, return_tracking_number, shipping_paid_by, decided_by, decision_reason,
    currency, refund_total_minor, outcome, exchange_reservation_id, requested_at, decided_at,
    received_at, inspected_at, closed_at";

pub async fn next_sequence(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT nextval('rma_number_seq')")
        .fetch_one(conn)
        .await
}

async fn with_lines(
    conn: &mut PgConnection,
    row: Option<ReturnRow>,
) -> Result<Option<Rma>, sqlx::Error> {
    let Some(row) = row else { return Ok(None) };
    let lines = sqlx::query_as(
        "SELECT line_id, position, sku, quantity, reason, note, unit_price_minor,
             received_quantity, resellable_quantity, grades, refund_minor
         FROM order_return_lines WHERE return_id = $1 ORDER BY position",
    )
    .bind(row.id)
    .fetch_all(conn)
    .await?;
    Ok(Some(Rma { row, lines }))
}

async fn one(
    conn: &mut PgConnection,
    condition: &str,
    bind: impl for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
) -> Result<Option<Rma>, sqlx::Error> {
    let row: Option<ReturnRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM order_returns WHERE {condition}"
    ))
    .bind(bind)
    .fetch_optional(&mut *conn)
    .await?;
    with_lines(conn, row).await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Rma>, sqlx::Error> {
    one(conn, "id = $1", id).await
}

/// The RMA under a row lock, for a transition.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<Rma>, sqlx::Error> {
    one(conn, "id = $1 FOR UPDATE", id).await
}

pub async fn get_by_number(
    conn: &mut PgConnection,
    number: &str,
) -> Result<Option<Rma>, sqlx::Error> {
    one(conn, "rma_number = $1", number.to_owned()).await
}

pub async fn by_request(
    conn: &mut PgConnection,
    request_id: &str,
) -> Result<Option<Rma>, sqlx::Error> {
    one(conn, "request_id = $1", request_id.to_owned()).await
}

/// The RMA whose exchange asked inventory for `reservation_id`, if any.
pub async fn by_exchange_reservation(
    conn: &mut PgConnection,
    reservation_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM order_returns WHERE exchange_reservation_id = $1")
        .bind(reservation_id)
        .fetch_optional(conn)
        .await
}

/// Inserts a new RMA; false if its request_id is taken (a concurrent duplicate).
pub async fn insert(conn: &mut PgConnection, rma: &Rma) -> Result<bool, sqlx::Error> {
    let r = &rma.row;
    let inserted = sqlx::query(
        "INSERT INTO order_returns (id, rma_number, order_id, request_id, request_hash,
             customer_id, status, resolution, exchange_lines, customer_note, pickup_address,
             return_warehouse_id, shipping_paid_by, decided_by, decision_reason, currency,
             requested_at, decided_at, order_number)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19)
         ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(r.id)
    .bind(&r.rma_number)
    .bind(r.order_id)
    .bind(&r.request_id)
    .bind(&r.request_hash)
    .bind(&r.customer_id)
    .bind(&r.status)
    .bind(&r.resolution)
    .bind(&r.exchange_lines)
    .bind(&r.customer_note)
    .bind(&r.pickup_address)
    .bind(&r.return_warehouse_id)
    .bind(&r.shipping_paid_by)
    .bind(&r.decided_by)
    .bind(&r.decision_reason)
    .bind(&r.currency)
    .bind(r.requested_at)
    .bind(r.decided_at)
    .bind(&r.order_number)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    for l in &rma.lines {
        sqlx::query(
            "INSERT INTO order_return_lines (return_id, line_id, position, sku, quantity, reason,
                 note, unit_price_minor)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(r.id)
        .bind(&l.line_id)
        .bind(l.position)
        .bind(&l.sku)
        .bind(l.quantity)
        .bind(&l.reason)
        .bind(&l.note)
        .bind(l.unit_price_minor)
        .execute(&mut *conn)
        .await?;
    }
    Ok(true)
}

/// Units per order line already claimed by the order's RMAs (every RMA not rejected and not
/// cancelled): a unit is returned at most once.
pub async fn claimed(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.line_id, sum(l.quantity)::bigint FROM order_return_lines l
         JOIN order_returns r ON r.id = l.return_id
         WHERE r.order_id = $1 AND r.status <> $2 AND coalesce(r.outcome, '') <> $3
         GROUP BY l.line_id",
    )
    .bind(order_id)
    .bind(status::REJECTED)
    .bind(outcome::CANCELLED)
    .fetch_all(conn)
    .await
}

pub async fn set_decision(
    conn: &mut PgConnection,
    id: Uuid,
    new_status: &str,
    by: &str,
    reason: &str,
    warehouse_id: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE order_returns SET status = $2, decided_by = $3, decision_reason = $4,
             return_warehouse_id = CASE WHEN $5 = '' THEN return_warehouse_id ELSE $5 END,
             decided_at = $6
         WHERE id = $1",
    )
    .bind(id)
    .bind(new_status)
    .bind(by)
    .bind(reason)
    .bind(warehouse_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_received(
    conn: &mut PgConnection,
    id: Uuid,
    warehouse_id: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE order_returns SET status = $2, received_at = $3,
             return_warehouse_id = CASE WHEN $4 = '' THEN return_warehouse_id ELSE $4 END
         WHERE id = $1",
    )
    .bind(id)
    .bind(status::RECEIVED)
    .bind(at)
    .bind(warehouse_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// One inspected line: its grades and its refund by policy.
pub struct Inspected<'a> {
    pub line_id: &'a str,
    pub grades: Grades,
    pub refund_minor: i64,
}

pub async fn set_inspected(
    conn: &mut PgConnection,
    id: Uuid,
    warehouse_id: &str,
    lines: &[Inspected<'_>],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for l in lines {
        sqlx::query(
            "UPDATE order_return_lines SET received_quantity = $3, resellable_quantity = $4,
                 grades = $5, refund_minor = $6
             WHERE return_id = $1 AND line_id = $2",
        )
        .bind(id)
        .bind(l.line_id)
        .bind(l.grades.received())
        .bind(l.grades.resellable)
        .bind(Json(l.grades))
        .bind(l.refund_minor)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE order_returns SET status = $2, inspected_at = $3,
             received_at = coalesce(received_at, $3),
             return_warehouse_id = CASE WHEN $4 = '' THEN return_warehouse_id ELSE $4 END
         WHERE id = $1",
    )
    .bind(id)
    .bind(status::INSPECTED)
    .bind(at)
    .bind(warehouse_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_exchange_reservation(
    conn: &mut PgConnection,
    id: Uuid,
    reservation_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE order_returns SET exchange_reservation_id = $2 WHERE id = $1")
        .bind(id)
        .bind(reservation_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Closes the RMA and counts the units that came back on the order's lines.
pub async fn close(
    conn: &mut PgConnection,
    rma: &Rma,
    outcome: &str,
    refund_total_minor: Option<i64>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE order_returns SET status = $2, outcome = $3, refund_total_minor = $4,
             closed_at = $5
         WHERE id = $1",
    )
    .bind(rma.row.id)
    .bind(status::CLOSED)
    .bind(outcome)
    .bind(refund_total_minor)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE order_lines o SET returned_quantity = least(o.shipped_quantity,
             o.returned_quantity + l.received_quantity)
         FROM order_return_lines l
         WHERE l.return_id = $1 AND o.order_id = $2 AND o.line_id = l.line_id",
    )
    .bind(rma.row.id)
    .bind(rma.row.order_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the return shipment shipping created for an RMA.
pub async fn set_shipment(
    conn: &mut PgConnection,
    id: Uuid,
    shipment_id: &str,
    tracking_number: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE order_returns SET return_shipment_id = $2, return_tracking_number = $3
         WHERE id = $1 RETURNING order_id",
    )
    .bind(id)
    .bind(shipment_id)
    .bind(tracking_number)
    .fetch_optional(conn)
    .await
}

/// Units of each order line that the order's other inspected RMAs have valued for a refund
/// (resellable, defective and damaged ones), so the next return of a line values the units
/// after them. Taken under a transaction-level lock on the order, so two inspections of the
/// same order count one after the other.
pub async fn valued_before(
    conn: &mut PgConnection,
    order_id: Uuid,
    rma_id: Uuid,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))")
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query_as(
        "SELECT l.line_id, sum(coalesce((l.grades->>'resellable')::int, 0)
                 + coalesce((l.grades->>'defective')::int, 0)
                 + coalesce((l.grades->>'damaged')::int, 0))::bigint
         FROM order_return_lines l JOIN order_returns r ON r.id = l.return_id
         WHERE r.order_id = $1 AND r.id <> $2 AND l.refund_minor IS NOT NULL
         GROUP BY l.line_id",
    )
    .bind(order_id)
    .bind(rma_id)
    .fetch_all(conn)
    .await
}

/// Money already asked back for the order's other RMAs.
pub async fn refunds_requested(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(refund_total_minor), 0)::bigint FROM order_returns
         WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_one(conn)
    .await
}

/// Recomputes and stores the order's return summary; returns it.
pub async fn refresh_order_status(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<&'static str, sqlx::Error> {
    let rmas: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status, outcome FROM order_returns WHERE order_id = $1")
            .bind(order_id)
            .fetch_all(&mut *conn)
            .await?;
    let fully: Option<bool> = sqlx::query_scalar(
        "SELECT bool_and(returned_quantity >= shipped_quantity) FROM order_lines
         WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_one(&mut *conn)
    .await?;
    let summary = returns::order_return_status(&rmas, fully.unwrap_or(false));
    sqlx::query("UPDATE orders SET return_status = $2 WHERE id = $1")
        .bind(order_id)
        .bind(summary)
        .execute(conn)
        .await?;
    Ok(summary)
}

/// The order's return summary and returned units per line, for its view.
pub async fn order_summary(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<(String, Vec<(String, i32)>), sqlx::Error> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT return_status FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(&mut *conn)
            .await?;
    let lines = sqlx::query_as(
        "SELECT line_id, returned_quantity FROM order_lines WHERE order_id = $1 ORDER BY position",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    Ok((status.unwrap_or_else(|| "NONE".to_owned()), lines))
}

/// ListReturns' filters; keyset paging on (requested_at, id) descending.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub order_id: Option<Uuid>,
    pub customer_id: Option<String>,
    pub statuses: Vec<String>,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list(conn: &mut PgConnection, f: &Filter) -> Result<Vec<Rma>, sqlx::Error> {
    let rows: Vec<ReturnRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM order_returns
         WHERE ($1::uuid IS NULL OR order_id = $1)
           AND ($2::text IS NULL OR customer_id = $2)
           AND (cardinality($3::text[]) = 0 OR status = ANY($3))
           AND ($4::timestamptz IS NULL OR (requested_at, id) < ($4, $5))
         ORDER BY requested_at DESC, id DESC
         LIMIT $6"
    ))
    .bind(f.order_id)
    .bind(&f.customer_id)
    .bind(&f.statuses)
    .bind(f.after.map(|(t, _)| t))
    .bind(f.after.map(|(_, id)| id))
    .bind(f.limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(rma) = with_lines(conn, Some(row)).await? {
            out.push(rma);
        }
    }
    Ok(out)
}
