//! Order updates: the order's version, the record of each applied update (request_id
//! idempotency), and the writes an update makes to the order (contact, shipping address, lines
//! and totals).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::pricing::TaxMode;
use crate::domain::updates::{EditedLine, StockChange};
use crate::domain::{Address, Customer, NewOrder};

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

/// An applied update, as recorded.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UpdateRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub request_id: String,
    pub request_hash: Vec<u8>,
    pub currency: String,
    pub total_before_minor: i64,
    pub total_after_minor: i64,
    pub stock_changes: Json<Vec<StockChange>>,
}

pub async fn by_request_id(
    conn: &mut PgConnection,
    request_id: &str,
) -> Result<Option<UpdateRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, order_id, request_id, request_hash, currency, total_before_minor,
             total_after_minor, stock_changes
         FROM order_updates WHERE request_id = $1",
    )
    .bind(request_id)
    .fetch_optional(conn)
    .await
}

pub struct NewUpdate<'a> {
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
    pub now: DateTime<Utc>,
}

/// Records the update; `false` if its request_id is taken (a concurrent twin won).
pub async fn insert(conn: &mut PgConnection, u: &NewUpdate<'_>) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO order_updates (id, order_id, request_id, request_hash, actor_id, actor_type,
             reason, summary, version, currency, total_before_minor, total_after_minor,
             stock_changes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
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
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Raises the version and sets the contact and shipping address where given.
pub async fn set_order(
    conn: &mut PgConnection,
    order_id: Uuid,
    customer: Option<&Customer>,
    address: Option<&Address>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders SET version = version + 1, updated_at = $2,
             customer = coalesce($3, customer),
             shipping_address = coalesce($4, shipping_address)
         WHERE id = $1",
    )
    .bind(order_id)
    .bind(now)
    .bind(customer.map(Json))
    .bind(address.map(Json))
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the order's lines with `lines` (priced, in `priced.lines`' order) and its totals
/// with `priced`'s; the codes' redemptions follow the new amounts.
pub async fn set_lines(
    conn: &mut PgConnection,
    order_id: Uuid,
    lines: &[EditedLine],
    priced: &NewOrder,
    redemptions: &[(String, i64)],
) -> Result<(), sqlx::Error> {
    let keep: Vec<&str> = lines.iter().map(|l| l.line_id.as_str()).collect();
    sqlx::query("DELETE FROM order_lines WHERE order_id = $1 AND NOT (line_id = ANY($2))")
        .bind(order_id)
        .bind(&keep)
        .execute(&mut *conn)
        .await?;
    for (position, (edited, line)) in lines.iter().zip(&priced.lines).enumerate() {
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
        .bind(&edited.line_id)
        .bind(i32::try_from(position + 1).unwrap_or(i32::MAX))
        .bind(line.sku.as_str())
        .bind(i32::try_from(line.quantity.get()).unwrap_or(i32::MAX))
        .bind(line.unit_price.minor)
        .bind(&line.name)
        .bind(line.priced.discount)
        .bind(line.priced.tax)
        .bind(line.priced.charged)
        .bind(&line.category)
        .bind(i32::try_from(line.weight_grams).unwrap_or(i32::MAX))
        .execute(&mut *conn)
        .await?;
    }
    let b = &priced.breakdown;
    sqlx::query(
        "UPDATE orders SET total_minor = $2, subtotal_minor = $3, shipping_minor = $4,
             discount_minor = $5, tax_minor = $6, included_tax_minor = $7, tax_inclusive = $8,
             shipping_service_level = $9, adjustments = $10
         WHERE id = $1",
    )
    .bind(order_id)
    .bind(priced.total.minor)
    .bind(b.subtotal)
    .bind(b.shipping)
    .bind(b.discount)
    .bind(b.tax)
    .bind(b.included_tax)
    .bind(b.tax_mode == TaxMode::Inclusive)
    .bind(&b.service_level)
    .bind(Json(&b.adjustments))
    .execute(&mut *conn)
    .await?;
    for (code, amount) in redemptions {
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
