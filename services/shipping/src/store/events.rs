//! `tracking_events`: every event of every shipment, deduplicated by (carrier,
//! carrier_event_id).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::StoreError;
use crate::domain::{FailureReason, RecordedEvent, TrackingStatus};

/// Records `event` for `shipment_id`; false when the carrier's event id was recorded before.
pub async fn insert(
    conn: &mut PgConnection,
    shipment_id: Uuid,
    carrier: &str,
    event: &RecordedEvent,
    applied: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO tracking_events (id, shipment_id, carrier, carrier_event_id, status,
             carrier_status_code, description, location, failure_reason, occurred_at,
             recorded_at, applied)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (carrier, carrier_event_id) WHERE carrier_event_id IS NOT NULL DO NOTHING",
    )
    .bind(event.id)
    .bind(shipment_id)
    .bind(carrier)
    .bind(&event.carrier_event_id)
    .bind(event.status.as_str())
    .bind(&event.carrier_status_code)
    .bind(&event.description)
    .bind(&event.location)
    .bind(event.failure_reason.map(FailureReason::as_str))
    .bind(event.occurred_at)
    .bind(event.recorded_at)
    .bind(applied)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    status: String,
    carrier_status_code: String,
    description: String,
    location: String,
    failure_reason: Option<String>,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    carrier_event_id: Option<String>,
}

const COLUMNS: &str = "id, status, carrier_status_code, description, location, failure_reason,
    occurred_at, recorded_at, carrier_event_id";

fn convert(shipment_id: Uuid, r: Row) -> Result<RecordedEvent, StoreError> {
    Ok(RecordedEvent {
        id: r.id,
        status: TrackingStatus::parse(&r.status)
            .ok_or_else(|| StoreError::Corrupt(shipment_id, format!("event {} status", r.id)))?,
        carrier_status_code: r.carrier_status_code,
        description: r.description,
        location: r.location,
        occurred_at: r.occurred_at,
        recorded_at: r.recorded_at,
        carrier_event_id: r.carrier_event_id,
        failure_reason: r.failure_reason.as_deref().and_then(FailureReason::parse),
    })
}

/// A shipment's history, oldest first (by the carrier's clock, then by arrival).
pub async fn history(
    conn: &mut PgConnection,
    shipment_id: Uuid,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tracking_events WHERE shipment_id = $1
         ORDER BY occurred_at, recorded_at, id"
    ))
    .bind(shipment_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(|r| convert(shipment_id, r)).collect()
}

/// One event of a shipment.
pub async fn get(
    conn: &mut PgConnection,
    shipment_id: Uuid,
    event_id: Uuid,
) -> Result<Option<RecordedEvent>, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tracking_events WHERE shipment_id = $1 AND id = $2"
    ))
    .bind(shipment_id)
    .bind(event_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| convert(shipment_id, r)).transpose()
}
