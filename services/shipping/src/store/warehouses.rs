//! `warehouse_addresses`: the addresses of warehouses as shipping learned them from the
//! `ship_from` of outbound shipments (return shipments are addressed to them), seeded from
//! configuration.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::Address;

pub async fn upsert(
    conn: &mut PgConnection,
    warehouse_id: &str,
    address: &Address,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO warehouse_addresses (warehouse_id, address, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (warehouse_id) DO UPDATE
         SET address = EXCLUDED.address, updated_at = EXCLUDED.updated_at",
    )
    .bind(warehouse_id)
    .bind(Json(address))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(
    conn: &mut PgConnection,
    warehouse_id: &str,
) -> Result<Option<Address>, sqlx::Error> {
    let row: Option<(Json<Address>,)> =
        sqlx::query_as("SELECT address FROM warehouse_addresses WHERE warehouse_id = $1")
            .bind(warehouse_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(Json(a),)| a))
}
