//! Parcels: packed, labelled by shipping, handed to the carrier.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dims {
    pub length_mm: i32,
    pub width_mm: i32,
    pub height_mm: i32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParcelRow {
    pub id: Uuid,
    pub fulfillment_id: Uuid,
    pub request_id: String,
    pub status: String,
    pub lines: Json<Vec<PackedLine>>,
    pub weight_grams: i32,
    pub dimensions: Json<Dims>,
    pub weight_flagged: bool,
    pub expected_grams: i32,
    pub shipment_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub label: Vec<u8>,
    pub label_format: i32,
    pub cod_amount_minor: Option<i64>,
    pub packed_by: String,
    pub packed_at: DateTime<Utc>,
    pub handed_over_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, fulfillment_id, request_id, status, lines, weight_grams, dimensions,
    weight_flagged, expected_grams, shipment_id, carrier, tracking_number, label, label_format,
    cod_amount_minor, packed_by, packed_at, handed_over_at";

pub async fn insert(conn: &mut PgConnection, p: &ParcelRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO parcels ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
             $13, $14, $15, $16, $17, $18)"
    ))
    .bind(p.id)
    .bind(p.fulfillment_id)
    .bind(&p.request_id)
    .bind(&p.status)
    .bind(&p.lines)
    .bind(p.weight_grams)
    .bind(p.dimensions)
    .bind(p.weight_flagged)
    .bind(p.expected_grams)
    .bind(&p.shipment_id)
    .bind(&p.carrier)
    .bind(&p.tracking_number)
    .bind(&p.label)
    .bind(p.label_format)
    .bind(p.cod_amount_minor)
    .bind(&p.packed_by)
    .bind(p.packed_at)
    .bind(p.handed_over_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn by_request(
    conn: &mut PgConnection,
    request_id: &str,
) -> Result<Option<ParcelRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM parcels WHERE request_id = $1"
    ))
    .bind(request_id)
    .fetch_optional(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<ParcelRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM parcels WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn of_fulfillment(
    conn: &mut PgConnection,
    fulfillment_id: Uuid,
) -> Result<Vec<ParcelRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM parcels WHERE fulfillment_id = $1 ORDER BY packed_at, id"
    ))
    .bind(fulfillment_id)
    .fetch_all(conn)
    .await
}

pub async fn hand_over(
    conn: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE parcels SET status = 'HANDED_OVER', handed_over_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn cancel_packed(
    conn: &mut PgConnection,
    fulfillment_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE parcels SET status = 'CANCELLED' WHERE fulfillment_id = $1 AND status = 'PACKED'",
    )
    .bind(fulfillment_id)
    .execute(conn)
    .await?;
    Ok(())
}
