//! The `demand_daily` table: units committed per SKU, warehouse and day.

use chrono::NaiveDate;
use sqlx::PgConnection;

pub async fn record(
    conn: &mut PgConnection,
    sku: &str,
    warehouse_id: &str,
    day: NaiveDate,
    units: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO demand_daily (sku, warehouse_id, day, units) VALUES ($1, $2, $3, $4)
         ON CONFLICT (sku, warehouse_id, day) DO UPDATE
         SET units = demand_daily.units + EXCLUDED.units",
    )
    .bind(sku)
    .bind(warehouse_id)
    .bind(day)
    .bind(units)
    .execute(conn)
    .await?;
    Ok(())
}

/// One day with demand.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DemandDay {
    pub sku: String,
    pub warehouse_id: String,
    pub day: NaiveDate,
    pub units: i32,
}

/// Days with demand from `first` to `last` (inclusive) of `skus` (all when empty), optionally
/// in one warehouse.
pub async fn history(
    conn: &mut PgConnection,
    skus: &[String],
    warehouse_id: Option<&str>,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<DemandDay>, sqlx::Error> {
    sqlx::query_as(
        "SELECT sku, warehouse_id, day, units FROM demand_daily
         WHERE (cardinality($1::text[]) = 0 OR sku = ANY($1))
           AND ($2::text IS NULL OR warehouse_id = $2)
           AND day BETWEEN $3 AND $4 AND units > 0
         ORDER BY sku, warehouse_id, day",
    )
    .bind(skus)
    .bind(warehouse_id)
    .bind(first)
    .bind(last)
    .fetch_all(conn)
    .await
}
