//! The notification rows: written (pending or suppressed) in the consumer's transaction before
//! anything is sent; claimed by the sender with a lease (`FOR UPDATE SKIP LOCKED`, so several
//! replicas share the work), and marked sent, retried later, or failed.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{Audience, Channel, Status, Topic};

/// A notification to record.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub source_event_id: String,
    pub source_subject: String,
    pub channel: Channel,
    pub recipient: String,
    pub audience: Audience,
    pub topic: Topic,
    pub template: String,
    pub locale: String,
    pub customer_id: String,
    pub order_id: String,
    pub subject: String,
    pub body: String,
    pub idempotency_key: String,
    pub status: Status,
    pub failure_reason: String,
    pub send_after: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: Uuid,
    pub source_event_id: String,
    pub source_subject: String,
    pub channel: String,
    pub recipient: String,
    pub audience: String,
    pub topic: String,
    pub template: String,
    pub locale: String,
    pub customer_id: String,
    pub order_id: String,
    pub subject: String,
    pub body: String,
    pub idempotency_key: String,
    pub status: String,
    pub attempts: i32,
    pub failure_reason: String,
    pub send_after: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, source_event_id, source_subject, channel, recipient, audience, topic,
    template, locale, customer_id, order_id, subject, body, idempotency_key, status, attempts,
    failure_reason, send_after, created_at, sent_at";

/// Records `n` unless the same (event, channel, recipient) is already recorded; true when new.
pub async fn insert(
    conn: &mut PgConnection,
    n: &NewNotification,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO notifications (id, source_event_id, source_subject, channel, recipient,
             audience, topic, template, locale, customer_id, order_id, subject, body,
             idempotency_key, status, failure_reason, send_after, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(&n.source_event_id)
    .bind(&n.source_subject)
    .bind(n.channel.as_str())
    .bind(&n.recipient)
    .bind(n.audience.as_str())
    .bind(n.topic.as_str())
    .bind(&n.template)
    .bind(&n.locale)
    .bind(&n.customer_id)
    .bind(&n.order_id)
    .bind(&n.subject)
    .bind(&n.body)
    .bind(&n.idempotency_key)
    .bind(n.status.as_str())
    .bind(&n.failure_reason)
    .bind(n.send_after)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Gives up on pending rows whose attempts ran out without an answer (their sender crashed
/// on the last one); returns how many.
pub async fn fail_exhausted(
    pool: &PgPool,
    now: DateTime<Utc>,
    max_attempts: i32,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE notifications
         SET status = 'failed', send_after = NULL, lease_until = NULL,
             failure_reason = 'no outcome after ' || attempts || ' attempts: ' || last_error
         WHERE status = 'pending' AND attempts >= $2 AND lease_until <= $1",
    )
    .bind(now)
    .bind(max_attempts)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Claims up to `limit` due rows until `lease_until`, counting the attempt. One short
/// statement: no transaction is held while the messages are sent.
pub async fn claim_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
    max_attempts: i32,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH due AS (
             SELECT id FROM notifications
             WHERE status = 'pending' AND send_after <= $1 AND attempts < $4
               AND (lease_until IS NULL OR lease_until <= $1)
             ORDER BY send_after
             LIMIT $3
             FOR UPDATE SKIP LOCKED
         )
         UPDATE notifications n SET attempts = n.attempts + 1, lease_until = $2
         FROM due WHERE n.id = due.id
         RETURNING {}",
        COLUMNS
            .split(',')
            .map(|c| format!("n.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .bind(max_attempts)
    .fetch_all(pool)
    .await
}

pub async fn mark_sent(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notifications
         SET status = 'sent', sent_at = $2, send_after = NULL, lease_until = NULL, last_error = ''
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn mark_retry(
    pool: &PgPool,
    id: Uuid,
    send_after: DateTime<Utc>,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notifications SET send_after = $2, lease_until = NULL, last_error = $3
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(send_after)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn mark_failed(pool: &PgPool, id: Uuid, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notifications
         SET status = 'failed', failure_reason = $2, last_error = $2, send_after = NULL,
             lease_until = NULL
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// What a list may be narrowed to; every field empty / None for all.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub channel: Option<Channel>,
    pub status: Option<Status>,
}

/// Where the previous page ended: the last row's (created_at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Newest first, `limit` rows after `after`.
pub async fn list(
    conn: &mut PgConnection,
    filter: &Filter,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications
         WHERE ($1::text IS NULL OR customer_id = $1)
           AND ($2::text IS NULL OR order_id = $2)
           AND ($3::text IS NULL OR channel = $3)
           AND ($4::text IS NULL OR status = $4)
           AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
         ORDER BY created_at DESC, id DESC
         LIMIT $7"
    ))
    .bind(&filter.customer_id)
    .bind(&filter.order_id)
    .bind(filter.channel.map(Channel::as_str))
    .bind(filter.status.map(Status::as_str))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit)
    .fetch_all(conn)
    .await
}
