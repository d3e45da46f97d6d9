//! Returned parcels received at a warehouse and their inspection.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspected {
    pub line_id: String,
    pub sku: String,
    pub quantity: i32,
    /// `INSPECTION_GRADE_…` name.
    pub grade: String,
    pub note: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReceiptRow {
    pub return_id: String,
    pub order_id: String,
    pub warehouse_id: String,
    pub status: String,
    pub tracking_number: String,
    pub received_by: String,
    pub received_at: DateTime<Utc>,
    pub lines: Json<Vec<Inspected>>,
    pub inspected_by: Option<String>,
    pub inspected_at: Option<DateTime<Utc>>,
    pub note: String,
}

const COLUMNS: &str = "return_id, order_id, warehouse_id, status, tracking_number, received_by,
    received_at, lines, inspected_by, inspected_at, note";

pub async fn get(
    conn: &mut PgConnection,
    return_id: &str,
) -> Result<Option<ReceiptRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM return_receipts WHERE return_id = $1 FOR UPDATE"
    ))
    .bind(return_id)
    .fetch_optional(conn)
    .await
}

/// Records a received return; false when it was received already.
pub async fn receive(conn: &mut PgConnection, r: &ReceiptRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO return_receipts (return_id, order_id, warehouse_id, status, tracking_number,
             received_by, received_at, note)
         VALUES ($1, $2, $3, 'RECEIVED', $4, $5, $6, $7) ON CONFLICT (return_id) DO NOTHING",
    )
    .bind(&r.return_id)
    .bind(&r.order_id)
    .bind(&r.warehouse_id)
    .bind(&r.tracking_number)
    .bind(&r.received_by)
    .bind(r.received_at)
    .bind(&r.note)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn inspect(
    conn: &mut PgConnection,
    return_id: &str,
    lines: &[Inspected],
    by: &str,
    note: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE return_receipts SET status = 'INSPECTED', lines = $2, inspected_by = $3,
             inspected_at = $4, note = CASE WHEN $5 = '' THEN note ELSE $5 END
         WHERE return_id = $1",
    )
    .bind(return_id)
    .bind(Json(lines))
    .bind(by)
    .bind(at)
    .bind(note)
    .execute(conn)
    .await?;
    Ok(())
}
