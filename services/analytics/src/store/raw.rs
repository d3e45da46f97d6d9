//! `raw_events`: every consumed event as it arrived, the source of every read model.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RawEvent {
    pub event_id: Uuid,
    pub subject: String,
    pub type_name: String,
    pub aggregate_id: String,
    pub source: String,
    pub occurred_at: DateTime<Utc>,
    pub body: Vec<u8>,
}

/// Keeps `event`; false when its id is already kept.
pub async fn insert(
    tx: &mut PgConnection,
    event: &RawEvent,
    received_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO raw_events (event_id, subject, type_name, aggregate_id, source, occurred_at,
             received_at, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event.event_id)
    .bind(&event.subject)
    .bind(&event.type_name)
    .bind(&event.aggregate_id)
    .bind(&event.source)
    .bind(event.occurred_at)
    .bind(received_at)
    .bind(&event.body)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A page of kept events in replay order (time, then arrival), after `after` = (time, seq).
pub async fn page(
    tx: &mut PgConnection,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> Result<Vec<(i64, RawEvent)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        seq: i64,
        #[sqlx(flatten)]
        event: RawEvent,
    }
    let (time, seq) = after.unzip();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, event_id, subject, type_name, aggregate_id, source, occurred_at, body
         FROM raw_events
         WHERE $1::timestamptz IS NULL OR (occurred_at, seq) > ($1, $2)
         ORDER BY occurred_at, seq
         LIMIT $3",
    )
    .bind(time)
    .bind(seq)
    .bind(limit)
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.seq, r.event)).collect())
}
