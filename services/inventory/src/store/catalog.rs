//! The `items`, `warehouses` and `bins` tables.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::catalog::{Address, Bin, Dimensions, Item, Price, Warehouse};

#[derive(sqlx::FromRow)]
struct ItemRow {
    sku: String,
    name: String,
    description: String,
    category: String,
    currency: String,
    unit_price_minor: i64,
    weight_grams: i32,
    length_mm: i32,
    width_mm: i32,
    height_mm: i32,
    reorder_point: i32,
    safety_stock: i32,
    lead_time_days: i32,
    returnable: bool,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ItemRow> for Item {
    fn from(r: ItemRow) -> Self {
        Item {
            sku: r.sku,
            name: r.name,
            description: r.description,
            category: r.category,
            unit_price: Price {
                currency: r.currency,
                minor: r.unit_price_minor,
            },
            weight_grams: r.weight_grams,
            dimensions: Dimensions {
                length_mm: r.length_mm,
                width_mm: r.width_mm,
                height_mm: r.height_mm,
            },
            reorder_point: r.reorder_point,
            safety_stock: r.safety_stock,
            lead_time_days: r.lead_time_days,
            returnable: r.returnable,
            active: r.active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const ITEM_COLUMNS: &str = "sku, name, description, category, currency, unit_price_minor,
    weight_grams, length_mm, width_mm, height_mm, reorder_point, safety_stock, lead_time_days,
    returnable, active, created_at, updated_at";

pub async fn get_item(conn: &mut PgConnection, sku: &str) -> Result<Option<Item>, sqlx::Error> {
    let row: Option<ItemRow> =
        sqlx::query_as(&format!("SELECT {ITEM_COLUMNS} FROM items WHERE sku = $1"))
            .bind(sku)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(Item::from))
}

/// The item, locked until the transaction ends (upserts of one SKU queue here).
pub async fn lock_item(conn: &mut PgConnection, sku: &str) -> Result<Option<Item>, sqlx::Error> {
    let row: Option<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE sku = $1 FOR UPDATE"
    ))
    .bind(sku)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Item::from))
}

pub async fn items(conn: &mut PgConnection, skus: &[String]) -> Result<Vec<Item>, sqlx::Error> {
    let rows: Vec<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE sku = ANY($1)"
    ))
    .bind(skus)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Item::from).collect())
}

/// Inserts the item or replaces every field but `created_at`; returns whether the row was new
/// (decided by the insert itself, so two first upserts racing cannot both say "created").
pub async fn save_item(conn: &mut PgConnection, item: &Item) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO items (sku, name, description, category, currency, unit_price_minor,
             weight_grams, length_mm, width_mm, height_mm, reorder_point, safety_stock,
             lead_time_days, returnable, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT (sku) DO UPDATE SET
             name = EXCLUDED.name, description = EXCLUDED.description,
             category = EXCLUDED.category, currency = EXCLUDED.currency,
             unit_price_minor = EXCLUDED.unit_price_minor, weight_grams = EXCLUDED.weight_grams,
             length_mm = EXCLUDED.length_mm, width_mm = EXCLUDED.width_mm,
             height_mm = EXCLUDED.height_mm, reorder_point = EXCLUDED.reorder_point,
             safety_stock = EXCLUDED.safety_stock, lead_time_days = EXCLUDED.lead_time_days,
             returnable = EXCLUDED.returnable, active = EXCLUDED.active,
             updated_at = EXCLUDED.updated_at
         RETURNING (xmax = 0)",
    )
    .bind(&item.sku)
    .bind(&item.name)
    .bind(&item.description)
    .bind(&item.category)
    .bind(&item.unit_price.currency)
    .bind(item.unit_price.minor)
    .bind(item.weight_grams)
    .bind(item.dimensions.length_mm)
    .bind(item.dimensions.width_mm)
    .bind(item.dimensions.height_mm)
    .bind(item.reorder_point)
    .bind(item.safety_stock)
    .bind(item.lead_time_days)
    .bind(item.returnable)
    .bind(item.active)
    .bind(item.created_at)
    .bind(item.updated_at)
    .fetch_one(conn)
    .await
}

/// A page of items ordered by SKU, after `after` (the last SKU of the previous page).
pub async fn list_items(
    conn: &mut PgConnection,
    after: &str,
    limit: i64,
    category: Option<&str>,
    include_inactive: bool,
) -> Result<Vec<Item>, sqlx::Error> {
    let rows: Vec<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM items
         WHERE sku > $1 AND ($2::text IS NULL OR category = $2) AND ($3 OR active)
         ORDER BY sku LIMIT $4"
    ))
    .bind(after)
    .bind(category)
    .bind(include_inactive)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Item::from).collect())
}

#[derive(sqlx::FromRow)]
struct WarehouseRow {
    id: String,
    name: String,
    country_code: String,
    region: String,
    pickup_enabled: bool,
    address: Option<Json<Address>>,
    time_zone: String,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct BinRow {
    warehouse_id: String,
    code: String,
    zone: String,
    pick_sequence: i32,
    pickable: bool,
}

const WAREHOUSE_COLUMNS: &str = "id, name, country_code, region, pickup_enabled, address,
    time_zone, active, created_at, updated_at";

async fn with_bins(
    conn: &mut PgConnection,
    rows: Vec<WarehouseRow>,
) -> Result<Vec<Warehouse>, sqlx::Error> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let bins: Vec<BinRow> = sqlx::query_as(
        "SELECT warehouse_id, code, zone, pick_sequence, pickable FROM bins
         WHERE warehouse_id = ANY($1) ORDER BY warehouse_id, pick_sequence, code",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Warehouse {
            bins: bins
                .iter()
                .filter(|b| b.warehouse_id == r.id)
                .map(|b| Bin {
                    code: b.code.clone(),
                    zone: b.zone.clone(),
                    pick_sequence: b.pick_sequence,
                    pickable: b.pickable,
                })
                .collect(),
            id: r.id,
            name: r.name,
            country_code: r.country_code,
            region: r.region,
            pickup_enabled: r.pickup_enabled,
            address: r.address.map(|Json(a)| a),
            time_zone: r.time_zone,
            active: r.active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

pub async fn get_warehouse(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<Warehouse>, sqlx::Error> {
    let rows: Vec<WarehouseRow> = sqlx::query_as(&format!(
        "SELECT {WAREHOUSE_COLUMNS} FROM warehouses WHERE id = $1"
    ))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(with_bins(conn, rows).await?.pop())
}

/// The warehouse, locked until the transaction ends.
pub async fn lock_warehouse(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<Warehouse>, sqlx::Error> {
    let rows: Vec<WarehouseRow> = sqlx::query_as(&format!(
        "SELECT {WAREHOUSE_COLUMNS} FROM warehouses WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(with_bins(conn, rows).await?.pop())
}

/// Where a reservation may be allocated: an active warehouse, without its bin layout (the
/// stock rows carry what allocation needs of the bins).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActiveWarehouse {
    pub id: String,
    pub country_code: String,
    pub region: String,
    pub pickup_enabled: bool,
}

pub async fn active_warehouses(
    conn: &mut PgConnection,
) -> Result<Vec<ActiveWarehouse>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, country_code, region, pickup_enabled FROM warehouses WHERE active ORDER BY id",
    )
    .fetch_all(conn)
    .await
}

pub async fn list_warehouses(
    conn: &mut PgConnection,
    after: &str,
    limit: i64,
    pickup_only: bool,
) -> Result<Vec<Warehouse>, sqlx::Error> {
    let rows: Vec<WarehouseRow> = sqlx::query_as(&format!(
        "SELECT {WAREHOUSE_COLUMNS} FROM warehouses
         WHERE id > $1 AND (NOT $2 OR pickup_enabled) ORDER BY id LIMIT $3"
    ))
    .bind(after)
    .bind(pickup_only)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    with_bins(conn, rows).await
}

/// Units on hand and reserved per bin of a warehouse, over every SKU (bins holding nothing are
/// left out).
pub async fn bin_usage(
    conn: &mut PgConnection,
    warehouse_id: &str,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT bin, sum(on_hand)::bigint, sum(reserved)::bigint FROM bin_stock
         WHERE warehouse_id = $1 GROUP BY bin HAVING sum(on_hand) > 0 OR sum(reserved) > 0",
    )
    .bind(warehouse_id)
    .fetch_all(conn)
    .await
}

/// Writes the warehouse and replaces its bin layout (the caller checked that no removed bin
/// holds stock; empty stock rows of removed bins go with them).
pub async fn save_warehouse(conn: &mut PgConnection, w: &Warehouse) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO warehouses (id, name, country_code, region, pickup_enabled, address,
             time_zone, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET
             name = EXCLUDED.name, country_code = EXCLUDED.country_code,
             region = EXCLUDED.region, pickup_enabled = EXCLUDED.pickup_enabled,
             address = EXCLUDED.address, time_zone = EXCLUDED.time_zone,
             active = EXCLUDED.active, updated_at = EXCLUDED.updated_at",
    )
    .bind(&w.id)
    .bind(&w.name)
    .bind(&w.country_code)
    .bind(&w.region)
    .bind(w.pickup_enabled)
    .bind(w.address.as_ref().map(Json))
    .bind(&w.time_zone)
    .bind(w.active)
    .bind(w.created_at)
    .bind(w.updated_at)
    .execute(&mut *conn)
    .await?;
    let codes: Vec<&str> = w.bins.iter().map(|b| b.code.as_str()).collect();
    // Empty rows are locked in the common (sku, warehouse, bin) order before they go.
    sqlx::query(
        "DELETE FROM bin_stock WHERE (sku, warehouse_id, bin) IN (
             SELECT sku, warehouse_id, bin FROM bin_stock
             WHERE warehouse_id = $1 AND NOT (bin = ANY($2)) AND on_hand = 0 AND reserved = 0
             ORDER BY sku, warehouse_id, bin FOR UPDATE)
         AND on_hand = 0 AND reserved = 0",
    )
    .bind(&w.id)
    .bind(&codes)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM bins WHERE warehouse_id = $1 AND NOT (code = ANY($2))")
        .bind(&w.id)
        .bind(&codes)
        .execute(&mut *conn)
        .await?;
    let zones: Vec<&str> = w.bins.iter().map(|b| b.zone.as_str()).collect();
    let sequences: Vec<i32> = w.bins.iter().map(|b| b.pick_sequence).collect();
    let pickable: Vec<bool> = w.bins.iter().map(|b| b.pickable).collect();
    sqlx::query(
        "INSERT INTO bins (warehouse_id, code, zone, pick_sequence, pickable)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::int[], $5::bool[])
         ON CONFLICT (warehouse_id, code) DO UPDATE SET
             zone = EXCLUDED.zone, pick_sequence = EXCLUDED.pick_sequence,
             pickable = EXCLUDED.pickable",
    )
    .bind(&w.id)
    .bind(&codes)
    .bind(&zones)
    .bind(&sequences)
    .bind(&pickable)
    .execute(conn)
    .await?;
    Ok(())
}
