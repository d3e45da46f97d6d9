//! Outbound shipments as shipping created them, for the tracking link of the "shipped" message
//! (the hand-over event names the shipment but not its link).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Shipment {
    pub shipment_id: String,
    pub order_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: String,
}

pub async fn insert(
    conn: &mut PgConnection,
    shipment: &Shipment,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shipments (shipment_id, order_id, carrier, tracking_number, tracking_url, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (shipment_id) DO NOTHING",
    )
    .bind(&shipment.shipment_id)
    .bind(&shipment.order_id)
    .bind(&shipment.carrier)
    .bind(&shipment.tracking_number)
    .bind(&shipment.tracking_url)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(
    conn: &mut PgConnection,
    shipment_id: &str,
) -> Result<Option<Shipment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT shipment_id, order_id, carrier, tracking_number, tracking_url
         FROM shipments WHERE shipment_id = $1",
    )
    .bind(shipment_id)
    .fetch_optional(conn)
    .await
}
