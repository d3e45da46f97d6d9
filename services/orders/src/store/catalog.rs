//! The catalog read model, fed by inventory's `inventory.item.upserted`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CatalogItem {
    pub sku: String,
    pub name: String,
    pub currency: String,
    pub unit_price_minor: i64,
    pub category: String,
    pub returnable: bool,
    pub active: bool,
    /// 0 when inventory did not say.
    pub weight_grams: i32,
}

pub struct ItemUpdate<'a> {
    pub sku: &'a str,
    pub name: &'a str,
    pub currency: &'a str,
    pub unit_price_minor: i64,
    pub category: &'a str,
    pub returnable: bool,
    pub active: bool,
    pub weight_grams: i32,
    /// When inventory changed it: an older update never overwrites a newer one.
    pub updated_at: DateTime<Utc>,
}

pub async fn upsert(conn: &mut PgConnection, item: &ItemUpdate<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO catalog_items (sku, name, currency, unit_price_minor, category, returnable,
             active, updated_at, weight_grams)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, currency = EXCLUDED.currency,
             unit_price_minor = EXCLUDED.unit_price_minor, category = EXCLUDED.category,
             returnable = EXCLUDED.returnable, active = EXCLUDED.active,
             updated_at = EXCLUDED.updated_at, weight_grams = EXCLUDED.weight_grams
         WHERE catalog_items.updated_at <= EXCLUDED.updated_at",
    )
    .bind(item.sku)
    .bind(item.name)
    .bind(item.currency)
    .bind(item.unit_price_minor)
    .bind(item.category)
    .bind(item.returnable)
    .bind(item.active)
    .bind(item.updated_at)
    .bind(item.weight_grams)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_many(
    conn: &mut PgConnection,
    skus: &[&str],
) -> Result<Vec<CatalogItem>, sqlx::Error> {
    sqlx::query_as(
        "SELECT sku, name, currency, unit_price_minor, category, returnable, active, weight_grams
         FROM catalog_items WHERE sku = ANY($1)",
    )
    .bind(skus)
    .fetch_all(conn)
    .await
}
