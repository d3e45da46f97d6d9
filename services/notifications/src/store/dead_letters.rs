//! Dead-lettered messages already reported to staff, so a redelivered one is reported once.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Records `msg_id`; false when it was recorded before.
pub async fn record(
    conn: &mut PgConnection,
    msg_id: &str,
    consumer: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO dead_letter_alerts (msg_id, consumer, subject, received_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (msg_id) DO NOTHING",
    )
    .bind(msg_id)
    .bind(consumer)
    .bind(subject)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}
