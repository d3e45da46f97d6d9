//! The `bin_stock`, `stock_levels` and `stock_movements` tables, and the `pg_notify` that tells
//! watchers (in this process or any other replica) that a level changed, once the change
//! commits.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::stock::{AdjustmentReason, BinLevel, MovementKind, StockLevel};

/// The Postgres channel stock changes are announced on; the payload is `sku \t warehouse_id`.
pub const CHANGES_CHANNEL: &str = "inventory_stock_changed";

#[derive(sqlx::FromRow)]
struct BinRow {
    warehouse_id: String,
    bin: String,
    on_hand: i32,
    reserved: i32,
    pickable: bool,
}

#[derive(sqlx::FromRow)]
struct LevelRow {
    warehouse_id: String,
    updated_at: DateTime<Utc>,
}

/// Levels of `sku` in every warehouse that holds or has held it (or only in `warehouse_id`).
pub async fn levels(
    conn: &mut PgConnection,
    sku: &str,
    warehouse_id: Option<&str>,
) -> Result<Vec<StockLevel>, sqlx::Error> {
    let levels: Vec<LevelRow> = sqlx::query_as(
        "SELECT warehouse_id, updated_at FROM stock_levels
         WHERE sku = $1 AND ($2::text IS NULL OR warehouse_id = $2) ORDER BY warehouse_id",
    )
    .bind(sku)
    .bind(warehouse_id)
    .fetch_all(&mut *conn)
    .await?;
    let bins: Vec<BinRow> = sqlx::query_as(
        "SELECT s.warehouse_id, s.bin, s.on_hand, s.reserved, b.pickable
         FROM bin_stock s JOIN bins b ON b.warehouse_id = s.warehouse_id AND b.code = s.bin
         WHERE s.sku = $1 AND ($2::text IS NULL OR s.warehouse_id = $2)
         ORDER BY s.warehouse_id, b.pick_sequence, s.bin",
    )
    .bind(sku)
    .bind(warehouse_id)
    .fetch_all(conn)
    .await?;
    Ok(levels
        .into_iter()
        .map(|l| {
            let of_warehouse = bins
                .iter()
                .filter(|b| b.warehouse_id == l.warehouse_id)
                .map(|b| BinLevel {
                    bin: b.bin.clone(),
                    on_hand: b.on_hand,
                    reserved: b.reserved,
                    pickable: b.pickable,
                })
                .collect();
            StockLevel::from_bins(
                sku.to_owned(),
                l.warehouse_id,
                of_warehouse,
                Some(l.updated_at),
            )
        })
        .collect())
}

/// The level of `sku` in one warehouse; all zero if it never held any.
pub async fn level(
    conn: &mut PgConnection,
    sku: &str,
    warehouse_id: &str,
) -> Result<StockLevel, sqlx::Error> {
    Ok(levels(conn, sku, Some(warehouse_id))
        .await?
        .pop()
        .unwrap_or_else(|| {
            StockLevel::from_bins(sku.to_owned(), warehouse_id.to_owned(), Vec::new(), None)
        }))
}

/// Units of one SKU in one bin, as locked by [`lock_bins`].
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BinStock {
    pub sku: String,
    pub warehouse_id: String,
    pub bin: String,
    pub pick_sequence: i32,
    pub pickable: bool,
    pub on_hand: i32,
    pub reserved: i32,
}

/// Locks the stock rows of `skus` (in `warehouses`, or everywhere) in (sku, warehouse, bin)
/// order — the one order every writer takes them in — and returns them.
pub async fn lock_supply(
    conn: &mut PgConnection,
    skus: &[String],
    warehouses: &[String],
) -> Result<Vec<BinStock>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.sku, s.warehouse_id, s.bin, b.pick_sequence, b.pickable, s.on_hand, s.reserved
         FROM bin_stock s JOIN bins b ON b.warehouse_id = s.warehouse_id AND b.code = s.bin
         WHERE s.sku = ANY($1) AND s.warehouse_id = ANY($2)
         ORDER BY s.sku, s.warehouse_id, s.bin
         FOR UPDATE OF s",
    )
    .bind(skus)
    .bind(warehouses)
    .fetch_all(conn)
    .await
}

/// Locks the given (sku, warehouse, bin) rows, in the common order.
pub async fn lock_bins(
    conn: &mut PgConnection,
    keys: &[(String, String, String)],
) -> Result<Vec<BinStock>, sqlx::Error> {
    let skus: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    let warehouses: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let bins: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
    sqlx::query_as(
        "SELECT s.sku, s.warehouse_id, s.bin, b.pick_sequence, b.pickable, s.on_hand, s.reserved
         FROM bin_stock s JOIN bins b ON b.warehouse_id = s.warehouse_id AND b.code = s.bin
         JOIN UNNEST($1::text[], $2::text[], $3::text[]) AS k (sku, warehouse_id, bin)
           ON k.sku = s.sku AND k.warehouse_id = s.warehouse_id AND k.bin = s.bin
         ORDER BY s.sku, s.warehouse_id, s.bin
         FOR UPDATE OF s",
    )
    .bind(&skus)
    .bind(&warehouses)
    .bind(&bins)
    .fetch_all(conn)
    .await
}

/// Moves units of one bin: `reserved` and `on_hand` change by the deltas. Returns false, and
/// changes nothing, when the result would hold more reserved than on hand or go below zero —
/// the conditional update that, with the table's CHECK, keeps available from going negative.
pub async fn shift(
    conn: &mut PgConnection,
    (sku, warehouse_id, bin): (&str, &str, &str),
    reserved_delta: i32,
    on_hand_delta: i32,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE bin_stock SET reserved = reserved + $4, on_hand = on_hand + $5, updated_at = $6
         WHERE sku = $1 AND warehouse_id = $2 AND bin = $3
           AND reserved + $4 >= 0 AND on_hand + $5 >= reserved + $4",
    )
    .bind(sku)
    .bind(warehouse_id)
    .bind(bin)
    .bind(reserved_delta)
    .bind(on_hand_delta)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds units to a bin's on-hand stock, creating the row the first time.
pub async fn add_on_hand(
    conn: &mut PgConnection,
    (sku, warehouse_id, bin): (&str, &str, &str),
    units: i32,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO bin_stock (sku, warehouse_id, bin, on_hand, reserved, updated_at)
         VALUES ($1, $2, $3, $4, 0, $5)
         ON CONFLICT (sku, warehouse_id, bin) DO UPDATE
         SET on_hand = bin_stock.on_hand + EXCLUDED.on_hand, updated_at = EXCLUDED.updated_at",
    )
    .bind(sku)
    .bind(warehouse_id)
    .bind(bin)
    .bind(units)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that the level of `sku` in `warehouse_id` changed at `now` (creating its row the
/// first time) and announces the change to watchers, delivered when the transaction commits.
pub async fn touch(
    conn: &mut PgConnection,
    sku: &str,
    warehouse_id: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stock_levels (sku, warehouse_id, created_at, updated_at)
         VALUES ($1, $2, $3, $3)
         ON CONFLICT (sku, warehouse_id) DO UPDATE SET updated_at = EXCLUDED.updated_at",
    )
    .bind(sku)
    .bind(warehouse_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANGES_CHANNEL)
        .bind(format!("{sku}\t{warehouse_id}"))
        .execute(conn)
        .await?;
    Ok(())
}

/// The low-stock state of a level and the item facts it is judged by, locked so that one
/// crossing is reported once however many transactions cross together.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LowState {
    pub low_since: Option<DateTime<Utc>>,
    pub name: String,
    pub reorder_point: i32,
    pub safety_stock: i32,
    pub active: bool,
}

pub async fn lock_low_state(
    conn: &mut PgConnection,
    sku: &str,
    warehouse_id: &str,
) -> Result<Option<LowState>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.low_since, i.name, i.reorder_point, i.safety_stock, i.active
         FROM stock_levels l JOIN items i ON i.sku = l.sku
         WHERE l.sku = $1 AND l.warehouse_id = $2
         FOR UPDATE OF l",
    )
    .bind(sku)
    .bind(warehouse_id)
    .fetch_optional(conn)
    .await
}

pub async fn set_low_since(
    conn: &mut PgConnection,
    sku: &str,
    warehouse_id: &str,
    low_since: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE stock_levels SET low_since = $3 WHERE sku = $1 AND warehouse_id = $2")
        .bind(sku)
        .bind(warehouse_id)
        .bind(low_since)
        .execute(conn)
        .await?;
    Ok(())
}

/// Warehouses holding or having held `sku`.
pub async fn warehouses_of(conn: &mut PgConnection, sku: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT warehouse_id FROM stock_levels WHERE sku = $1 ORDER BY warehouse_id")
        .bind(sku)
        .fetch_all(conn)
        .await
}

/// SKUs a warehouse holds or has held.
pub async fn skus_in(
    conn: &mut PgConnection,
    warehouse_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT sku FROM stock_levels WHERE warehouse_id = $1 ORDER BY sku")
        .bind(warehouse_id)
        .fetch_all(conn)
        .await
}

/// One change of on-hand units, for the ledger.
pub struct Movement<'a> {
    pub sku: &'a str,
    pub warehouse_id: &'a str,
    pub bin: &'a str,
    pub delta: i32,
    pub kind: MovementKind,
    pub reason: Option<AdjustmentReason>,
    pub reference: &'a str,
    pub note: &'a str,
    pub actor_id: &'a str,
}

pub async fn record_movement(
    conn: &mut PgConnection,
    m: &Movement<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stock_movements (id, sku, warehouse_id, bin, delta, kind, reason, reference,
             note, actor_id, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(super::new_id())
    .bind(m.sku)
    .bind(m.warehouse_id)
    .bind(m.bin)
    .bind(m.delta)
    .bind(m.kind.as_str())
    .bind(m.reason.map(AdjustmentReason::as_str))
    .bind(m.reference)
    .bind(m.note)
    .bind(m.actor_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A level at or below its reorder point, for ListLowStock.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LowRow {
    pub sku: String,
    pub name: String,
    pub warehouse_id: String,
    pub on_hand: i64,
    pub available: i64,
    pub reorder_point: i32,
    pub safety_stock: i32,
    pub low_since: DateTime<Utc>,
}

/// Low levels, most urgent (lowest available less reorder point) first; `offset` pages.
pub async fn low_levels(
    conn: &mut PgConnection,
    warehouse_id: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Vec<LowRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.sku, i.name, l.warehouse_id, l.low_since, i.reorder_point, i.safety_stock,
                coalesce(sum(s.on_hand), 0)::bigint AS on_hand,
                coalesce(sum(s.on_hand - s.reserved) FILTER (WHERE b.pickable), 0)::bigint
                    AS available
         FROM stock_levels l
         JOIN items i ON i.sku = l.sku
         LEFT JOIN bin_stock s ON s.sku = l.sku AND s.warehouse_id = l.warehouse_id
         LEFT JOIN bins b ON b.warehouse_id = s.warehouse_id AND b.code = s.bin
         WHERE l.low_since IS NOT NULL AND ($1::text IS NULL OR l.warehouse_id = $1)
         GROUP BY l.sku, i.name, l.warehouse_id, l.low_since, i.reorder_point, i.safety_stock
         ORDER BY coalesce(sum(s.on_hand - s.reserved) FILTER (WHERE b.pickable), 0)
                  - i.reorder_point, l.sku, l.warehouse_id
         OFFSET $2 LIMIT $3",
    )
    .bind(warehouse_id)
    .bind(offset)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// A level the replenishment plan looks at.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub sku: String,
    pub name: String,
    pub warehouse_id: String,
    pub reorder_point: i32,
    pub safety_stock: i32,
    pub lead_time_days: i32,
    pub available: i64,
    /// The day the SKU was first stocked there: its demand history starts no earlier.
    pub first_seen: DateTime<Utc>,
}

/// Levels of active items (only `skus`, when given; only one warehouse, when given).
pub async fn plan_rows(
    conn: &mut PgConnection,
    skus: &[String],
    warehouse_id: Option<&str>,
) -> Result<Vec<PlanRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.sku, i.name, l.warehouse_id, i.reorder_point, i.safety_stock,
                i.lead_time_days, l.created_at AS first_seen,
                coalesce(sum(s.on_hand - s.reserved) FILTER (WHERE b.pickable), 0)::bigint
                    AS available
         FROM stock_levels l
         JOIN items i ON i.sku = l.sku
         LEFT JOIN bin_stock s ON s.sku = l.sku AND s.warehouse_id = l.warehouse_id
         LEFT JOIN bins b ON b.warehouse_id = s.warehouse_id AND b.code = s.bin
         WHERE i.active AND (cardinality($1::text[]) = 0 OR l.sku = ANY($1))
           AND ($2::text IS NULL OR l.warehouse_id = $2)
         GROUP BY l.sku, i.name, l.warehouse_id, i.reorder_point, i.safety_stock,
                  i.lead_time_days, l.created_at
         ORDER BY l.sku, l.warehouse_id",
    )
    .bind(skus)
    .bind(warehouse_id)
    .fetch_all(conn)
    .await
}
