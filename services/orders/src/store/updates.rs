//! Order updates: the order's version, the record of each update (request_id idempotency,
//! who, why, and where the update saga stands), and the writes an update makes to the order
//! (contact, shipping address, lines and totals).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::updates::{Parts, StockChange};
use crate::domain::{Address, Customer};
use crate::store::saga::Allocation;
use crate::updates::{Applied, PricedLines};

/// The order's version under a row lock (taken before the saga's own, in the same order).
pub async fn lock_version(conn: &mut PgConnection, order_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM orders WHERE id = $1 FOR UPDATE")
        .bind(order_id)
        .fetch_one(conn)
        .await
}

pub async fn version(conn: &mut PgConnection, order_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_optional(conn)
        .await
        .map(Option::unwrap_or_default)
}

/// An update, as recorded.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UpdateRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub request_id: String,
    pub request_hash: Vec<u8>,
    pub actor_id: String,
    pub actor_type: String,
    pub reason: String,
    pub summary: String,
    pub version: i64,
    pub currency: String,
    pub total_before_minor: i64,
    pub total_after_minor: i64,
    pub stock_changes: Json<Vec<StockChange>>,
    /// `IN_PROGRESS`, `APPLIED` or `REFUSED`.
    pub state: String,
    /// The saga's step while IN_PROGRESS.
    pub step: Option<String>,
    pub applied: Option<Json<Applied>>,
    pub lines_changed: bool,
    pub address_changed: bool,
    pub contact_changed: bool,
    /// Units inventory added for the update.
    pub added_units: Json<Vec<Allocation>>,
    /// Units the update gives back once applied, and those the order keeps of what it held.
    pub released_units: Json<Vec<Allocation>>,
    pub kept_units: Json<Vec<Allocation>>,
    pub refused_reason: Option<String>,
    /// Requests sent for the step the update is at (a retry sends another).
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl UpdateRow {
    pub fn parts(&self) -> Parts {
        Parts {
            contact: self.contact_changed,
            address: self.address_changed,
            lines: self.lines_changed,
        }
    }
}

const COLUMNS: &str = "id, order_id, request_id, request_hash, actor_id, actor_type, reason,
    summary, version, currency, total_before_minor, total_after_minor, stock_changes, state,
    step, applied, lines_changed, address_changed, contact_changed, added_units, released_units,
    kept_units, refused_reason, attempts, created_at, finished_at";

pub async fn by_request_id(
    conn: &mut PgConnection,
    request_id: &str,
) -> Result<Option<UpdateRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM order_updates WHERE request_id = $1"
    ))
    .bind(request_id)
    .fetch_optional(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<UpdateRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM order_updates WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The update under a row lock (taken after the order's).
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<UpdateRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM order_updates WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The order's updates, newest first.
pub async fn of_order(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<UpdateRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM order_updates WHERE order_id = $1
         ORDER BY created_at DESC, id DESC"
    ))
    .bind(order_id)
    .fetch_all(conn)
    .await
}

/// The highest `L<n>` any update of the order named (a line cancelled since included).
pub async fn highest_line_number(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<u32, sqlx::Error> {
    let n: Option<i64> = sqlx::query_scalar(
        "SELECT max(substring(c->>'line_id' FROM 2)::bigint)
         FROM order_updates, jsonb_array_elements(stock_changes) AS c
         WHERE order_id = $1 AND c->>'line_id' ~ '^L[0-9]{1,9}$'",
    )
    .bind(order_id)
    .fetch_one(conn)
    .await?;
    Ok(n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0))
}

/// The order's update in progress, if any.
pub async fn in_progress(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM order_updates WHERE order_id = $1 AND state = 'IN_PROGRESS'")
        .bind(order_id)
        .fetch_optional(conn)
        .await
}

pub struct NewUpdate<'a> {
    pub id: Uuid,
    pub order_id: Uuid,
    pub request_id: &'a str,
    pub request_hash: &'a [u8],
    pub actor_id: &'a str,
    pub actor_type: &'a str,
    pub reason: &'a str,
    pub summary: &'a str,
    pub version: i64,
    pub currency: &'a str,
    pub total_before: i64,
    pub total_after: i64,
    pub stock_changes: &'a [StockChange],
    pub parts: Parts,
    /// `APPLIED`, or `IN_PROGRESS` at `step` with what applying will write.
    pub state: &'a str,
    pub step: Option<&'a str>,
    pub applied: &'a Applied,
    /// The contact and address the update replaces (for erasure).
    pub replaced: &'a Applied,
    pub released_units: &'a [Allocation],
    pub kept_units: &'a [Allocation],
    pub now: DateTime<Utc>,
}

/// Records the update; `false` if its request_id is taken (a concurrent twin won).
pub async fn insert(conn: &mut PgConnection, u: &NewUpdate<'_>) -> Result<bool, sqlx::Error> {
    let finished = (u.state != "IN_PROGRESS").then_some(u.now);
    let done = sqlx::query(
        "INSERT INTO order_updates (id, order_id, request_id, request_hash, actor_id, actor_type,
             reason, summary, version, currency, total_before_minor, total_after_minor,
             stock_changes, created_at, state, step, applied, lines_changed, address_changed,
             contact_changed, released_units, kept_units, finished_at, replaced)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
             $18, $19, $20, $21, $22, $23, $24)
         ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(u.id)
    .bind(u.order_id)
    .bind(u.request_id)
    .bind(u.request_hash)
    .bind(u.actor_id)
    .bind(u.actor_type)
    .bind(u.reason)
    .bind(u.summary)
    .bind(u.version)
    .bind(u.currency)
    .bind(u.total_before)
    .bind(u.total_after)
    .bind(Json(u.stock_changes))
    .bind(u.now)
    .bind(u.state)
    .bind(u.step)
    .bind(Json(u.applied))
    .bind(u.parts.lines)
    .bind(u.parts.address)
    .bind(u.parts.contact)
    .bind(Json(u.released_units))
    .bind(Json(u.kept_units))
    .bind(finished)
    .bind(Json(u.replaced))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many requests were sent for the current step.
pub async fn set_attempts(
    conn: &mut PgConnection,
    id: Uuid,
    attempts: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE order_updates SET attempts = $2 WHERE id = $1")
        .bind(id)
        .bind(attempts)
        .execute(conn)
        .await?;
    Ok(())
}

/// The saga moved on to `step`, with the units inventory added so far (its request count
/// starts again).
pub async fn set_step(
    conn: &mut PgConnection,
    id: Uuid,
    step: &str,
    added_units: &[Allocation],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE order_updates SET step = $2, added_units = $3, attempts = 0 WHERE id = $1")
        .bind(id)
        .bind(step)
        .bind(Json(added_units))
        .execute(conn)
        .await?;
    Ok(())
}

/// The update ended: `APPLIED` (with the order's version it made), or `REFUSED` with why.
pub async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    state: &str,
    refused_reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE order_updates SET state = $2, step = NULL, refused_reason = $3, finished_at = $4
         WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(refused_reason)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes `applied` to the order and raises its version; returns the new version.
pub async fn write(
    conn: &mut PgConnection,
    order_id: Uuid,
    applied: &Applied,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let version = set_order(
        conn,
        order_id,
        applied.customer.as_ref(),
        applied.address.as_ref(),
        now,
    )
    .await?;
    if let Some(priced) = &applied.priced {
        set_lines(conn, order_id, priced).await?;
    }
    Ok(version)
}

/// Raises the version and sets the contact and shipping address where given.
async fn set_order(
    conn: &mut PgConnection,
    order_id: Uuid,
    customer: Option<&Customer>,
    address: Option<&Address>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE orders SET version = version + 1, updated_at = $2,
             customer = coalesce($3, customer),
             shipping_address = coalesce($4, shipping_address)
         WHERE id = $1
         RETURNING version",
    )
    .bind(order_id)
    .bind(now)
    .bind(customer.map(Json))
    .bind(address.map(Json))
    .fetch_one(conn)
    .await
}

/// Replaces the order's lines and totals with `priced`'s; the codes' redemptions follow the new
/// amounts.
async fn set_lines(
    conn: &mut PgConnection,
    order_id: Uuid,
    priced: &PricedLines,
) -> Result<(), sqlx::Error> {
    let keep: Vec<&str> = priced.lines.iter().map(|l| l.line_id.as_str()).collect();
    sqlx::query("DELETE FROM order_lines WHERE order_id = $1 AND NOT (line_id = ANY($2))")
        .bind(order_id)
        .bind(&keep)
        .execute(&mut *conn)
        .await?;
    for (position, line) in priced.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO order_lines (order_id, line_id, position, sku, quantity,
                 unit_price_minor, name, discount_minor, tax_minor, charged_minor, category,
                 weight_grams)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (order_id, line_id) DO UPDATE SET position = EXCLUDED.position,
                 quantity = EXCLUDED.quantity, discount_minor = EXCLUDED.discount_minor,
                 tax_minor = EXCLUDED.tax_minor, charged_minor = EXCLUDED.charged_minor",
        )
        .bind(order_id)
        .bind(&line.line_id)
        .bind(i32::try_from(position + 1).unwrap_or(i32::MAX))
        .bind(&line.sku)
        .bind(line.quantity)
        .bind(line.unit_price_minor)
        .bind(&line.name)
        .bind(line.discount)
        .bind(line.tax)
        .bind(line.charged)
        .bind(&line.category)
        .bind(line.weight_grams)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE orders SET total_minor = $2, subtotal_minor = $3, shipping_minor = $4,
             discount_minor = $5, tax_minor = $6, included_tax_minor = $7, tax_inclusive = $8,
             shipping_service_level = $9, adjustments = $10
         WHERE id = $1",
    )
    .bind(order_id)
    .bind(priced.total_minor)
    .bind(priced.subtotal)
    .bind(priced.shipping)
    .bind(priced.discount)
    .bind(priced.tax)
    .bind(priced.included_tax)
    .bind(priced.tax_inclusive)
    .bind(&priced.service_level)
    .bind(Json(&priced.adjustments))
    .execute(&mut *conn)
    .await?;
    for (code, amount) in &priced.redemptions {
        sqlx::query(
            "UPDATE discount_redemptions SET amount_minor = $3 WHERE code = $1 AND order_id = $2",
        )
        .bind(code)
        .bind(order_id)
        .bind(amount)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
