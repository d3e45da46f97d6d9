//! Fulfilments, their lines, and pick waves.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::pick::BinShare;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipTo {
    pub recipient: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country_code: String,
    pub phone: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FulfillmentRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub order_number: String,
    pub warehouse_id: String,
    pub reship_case_id: String,
    pub reservation_id: String,
    pub exchange_return_id: String,
    pub mode: String,
    pub status: String,
    pub customer: Json<Party>,
    pub ship_to: Option<Json<ShipTo>>,
    pub collect_cod: bool,
    pub currency: String,
    pub pickup_code: Option<String>,
    pub shelf_location: Option<String>,
    pub wave_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub picked_at: Option<DateTime<Utc>>,
    pub ready_for_pickup_at: Option<DateTime<Utc>>,
    pub picked_up_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// The order update that left this fulfilment without units (it is cancelled then); empty
    /// otherwise.
    pub cancelled_by_update: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineRow {
    pub line_id: String,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub bins: Json<Vec<BinShare>>,
    pub picked_quantity: Option<i32>,
    pub packed_quantity: i32,
}

const COLUMNS: &str = "id, order_id, order_number, warehouse_id, reship_case_id, reservation_id,
    exchange_return_id, mode, status,
    customer, ship_to, collect_cod, currency, pickup_code, shelf_location, wave_id, created_at,
    updated_at, picked_at, ready_for_pickup_at, picked_up_at, cancelled_at, cancel_reason,
    cancelled_by_update";

pub struct NewFulfillment<'a> {
    pub id: Uuid,
    pub order_id: Uuid,
    pub order_number: &'a str,
    pub warehouse_id: &'a str,
    pub reship_case_id: &'a str,
    pub reservation_id: &'a str,
    pub exchange_return_id: &'a str,
    pub mode: &'a str,
    pub customer: &'a Party,
    pub ship_to: Option<&'a ShipTo>,
    pub collect_cod: bool,
    pub currency: &'a str,
    pub now: DateTime<Utc>,
}

pub struct NewLine {
    pub line_id: String,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub bins: Vec<BinShare>,
}

/// Inserts a fulfilment unless one exists for this order, warehouse and shipment; false then.
pub async fn insert(
    conn: &mut PgConnection,
    f: &NewFulfillment<'_>,
    lines: &[NewLine],
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO fulfillments (id, order_id, order_number, warehouse_id, reship_case_id, mode,
             status, customer, ship_to, collect_cod, currency, created_at, updated_at,
             reservation_id, exchange_return_id)
         VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7, $8, $9, $10, $11, $11, $12, $13)
         ON CONFLICT (order_id, warehouse_id, reship_case_id, exchange_return_id,
             cancelled_by_update) DO NOTHING",
    )
    .bind(f.id)
    .bind(f.order_id)
    .bind(f.order_number)
    .bind(f.warehouse_id)
    .bind(f.reship_case_id)
    .bind(f.mode)
    .bind(Json(f.customer))
    .bind(f.ship_to.map(Json))
    .bind(f.collect_cod)
    .bind(f.currency)
    .bind(f.now)
    .bind(f.reservation_id)
    .bind(f.exchange_return_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    insert_lines(conn, f.id, lines).await?;
    Ok(true)
}

async fn insert_lines(
    conn: &mut PgConnection,
    id: Uuid,
    lines: &[NewLine],
) -> Result<(), sqlx::Error> {
    for (i, line) in lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO fulfillment_lines (fulfillment_id, line_id, position, sku, name, quantity,
                 unit_price_minor, bins)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(&line.line_id)
        .bind(i as i32)
        .bind(&line.sku)
        .bind(&line.name)
        .bind(line.quantity)
        .bind(line.unit_price_minor)
        .bind(Json(&line.bins))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Replaces a fulfilment's lines (an order update, before anything was picked or packed).
pub async fn replace_lines(
    conn: &mut PgConnection,
    id: Uuid,
    lines: &[NewLine],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM fulfillment_lines WHERE fulfillment_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    insert_lines(conn, id, lines).await?;
    sqlx::query("UPDATE fulfillments SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Who the fulfilment is for and where it ships, after an order update; an unset customer or
/// address keeps the one stored.
pub async fn set_recipient(
    conn: &mut PgConnection,
    id: Uuid,
    customer: Option<&Party>,
    ship_to: Option<&ShipTo>,
    collect_cod: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE fulfillments SET customer = coalesce($2, customer), ship_to = coalesce($3, ship_to),
             collect_cod = $4, updated_at = $5
         WHERE id = $1",
    )
    .bind(id)
    .bind(customer.map(Json))
    .bind(ship_to.map(Json))
    .bind(collect_cod)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a fulfilment as given up by an order update, so that a later update naming its
/// warehouse again opens a new one there.
pub async fn set_cancelled_by_update(
    conn: &mut PgConnection,
    id: Uuid,
    update_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE fulfillments SET cancelled_by_update = $2 WHERE id = $1")
        .bind(id)
        .bind(update_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<FulfillmentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM fulfillments WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn lock(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<FulfillmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM fulfillments WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn of_order(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<FulfillmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM fulfillments WHERE order_id = $1 ORDER BY created_at, id FOR UPDATE"
    ))
    .bind(order_id)
    .fetch_all(conn)
    .await
}

pub async fn lines(conn: &mut PgConnection, id: Uuid) -> Result<Vec<LineRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT line_id, sku, name, quantity, unit_price_minor, bins, picked_quantity, packed_quantity
         FROM fulfillment_lines WHERE fulfillment_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}

pub struct Filter {
    pub warehouse_id: Option<String>,
    pub order_id: Option<Uuid>,
    pub statuses: Vec<String>,
    pub mode: Option<String>,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list(conn: &mut PgConnection, f: &Filter) -> Result<Vec<FulfillmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM fulfillments
         WHERE ($1::text IS NULL OR warehouse_id = $1)
           AND ($2::uuid IS NULL OR order_id = $2)
           AND (cardinality($3::text[]) = 0 OR status = ANY($3))
           AND ($4::text IS NULL OR mode = $4)
           AND ($5::timestamptz IS NULL OR (created_at, id) > ($5, $6))
         ORDER BY created_at, id LIMIT $7"
    ))
    .bind(&f.warehouse_id)
    .bind(f.order_id)
    .bind(&f.statuses)
    .bind(&f.mode)
    .bind(f.after.map(|(t, _)| t))
    .bind(f.after.map(|(_, id)| id))
    .bind(f.limit)
    .fetch_all(conn)
    .await
}

pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE fulfillments SET status = $2, updated_at = $3,
             picked_at = CASE WHEN $2 = 'PICKED' THEN coalesce(picked_at, $3) ELSE picked_at END,
             ready_for_pickup_at = CASE WHEN $2 = 'READY_FOR_PICKUP' THEN $3 ELSE ready_for_pickup_at END,
             picked_up_at = CASE WHEN $2 = 'PICKED_UP' THEN $3 ELSE picked_up_at END,
             cancelled_at = CASE WHEN $2 = 'CANCELLED' THEN $3 ELSE cancelled_at END
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_cancel_reason(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE fulfillments SET cancel_reason = $2 WHERE id = $1")
        .bind(id)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_pickup(
    conn: &mut PgConnection,
    id: Uuid,
    code: &str,
    shelf: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE fulfillments SET pickup_code = $2, shelf_location = $3 WHERE id = $1")
        .bind(id)
        .bind(code)
        .bind(shelf)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_picked(
    conn: &mut PgConnection,
    id: Uuid,
    line_id: &str,
    quantity: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE fulfillment_lines SET picked_quantity = $3 WHERE fulfillment_id = $1 AND line_id = $2")
        .bind(id)
        .bind(line_id)
        .bind(quantity)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn add_packed(
    conn: &mut PgConnection,
    id: Uuid,
    line_id: &str,
    quantity: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE fulfillment_lines SET packed_quantity = packed_quantity + $3
         WHERE fulfillment_id = $1 AND line_id = $2",
    )
    .bind(id)
    .bind(line_id)
    .bind(quantity)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WaveRow {
    pub id: Uuid,
    pub warehouse_id: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

pub async fn wave_by_request(
    conn: &mut PgConnection,
    request_id: &str,
) -> Result<Option<WaveRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, warehouse_id, status, created_at, completed_at FROM pick_waves WHERE request_id = $1")
        .bind(request_id)
        .fetch_optional(conn)
        .await
}

pub async fn wave(conn: &mut PgConnection, id: Uuid) -> Result<Option<WaveRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, warehouse_id, status, created_at, completed_at FROM pick_waves WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Creates a wave over open fulfilments of a warehouse (the given ones, or the oldest
/// `max`), moving them to PICKING; returns the ids it took.
pub async fn create_wave(
    conn: &mut PgConnection,
    id: Uuid,
    request_id: &str,
    warehouse_id: &str,
    only: &[Uuid],
    max: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO pick_waves (id, request_id, warehouse_id, status, created_at) VALUES ($1, $2, $3, 'OPEN', $4)",
    )
    .bind(id)
    .bind(request_id)
    .bind(warehouse_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar(
        "UPDATE fulfillments SET wave_id = $1, status = 'PICKING', updated_at = $5
         WHERE id IN (SELECT id FROM fulfillments
                      WHERE warehouse_id = $2 AND status = 'PENDING' AND mode = 'SHIP'
                        AND (cardinality($3::uuid[]) = 0 OR id = ANY($3))
                      ORDER BY created_at LIMIT $4 FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind(id)
    .bind(warehouse_id)
    .bind(only)
    .bind(max)
    .bind(now)
    .fetch_all(conn)
    .await
}

pub async fn wave_members(
    conn: &mut PgConnection,
    wave_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM fulfillments WHERE wave_id = $1 ORDER BY created_at")
        .bind(wave_id)
        .fetch_all(conn)
        .await
}

/// Closes the wave once none of its fulfilments is still being picked.
pub async fn complete_wave_if_done(
    conn: &mut PgConnection,
    wave_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE pick_waves SET status = 'COMPLETED', completed_at = $2
         WHERE id = $1 AND status = 'OPEN'
           AND NOT EXISTS (SELECT 1 FROM fulfillments WHERE wave_id = $1 AND status = 'PICKING')",
    )
    .bind(wave_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn upsert_weight(
    conn: &mut PgConnection,
    sku: &str,
    name: &str,
    grams: i32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO item_weights (sku, name, weight_grams, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, weight_grams = EXCLUDED.weight_grams,
             updated_at = EXCLUDED.updated_at
         WHERE item_weights.updated_at <= EXCLUDED.updated_at",
    )
    .bind(sku)
    .bind(name)
    .bind(grams)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn weights(
    conn: &mut PgConnection,
    skus: &[String],
) -> Result<Vec<(String, i32)>, sqlx::Error> {
    sqlx::query_as("SELECT sku, weight_grams FROM item_weights WHERE sku = ANY($1)")
        .bind(skus)
        .fetch_all(conn)
        .await
}
