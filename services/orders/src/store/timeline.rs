//! The `order_timeline` table: every state change, event and operator action on an order,
//! with who did it and why.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::OrderStatus;

pub struct Entry<'a> {
    pub order_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub kind: &'a str,
    pub summary: String,
    pub actor_id: &'a str,
    /// `customer`, `operator`, `service` or `system`.
    pub actor_type: &'a str,
    pub reason: Option<&'a str>,
    pub status_before: Option<OrderStatus>,
    pub status_after: Option<OrderStatus>,
    pub event_id: Option<Uuid>,
}

pub async fn append(conn: &mut PgConnection, entry: Entry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_timeline (id, order_id, occurred_at, kind, summary, actor_id,
             actor_type, reason, status_before, status_after, event_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(Uuid::now_v7())
    .bind(entry.order_id)
    .bind(entry.occurred_at)
    .bind(entry.kind)
    .bind(entry.summary)
    .bind(entry.actor_id)
    .bind(entry.actor_type)
    .bind(entry.reason)
    .bind(entry.status_before.map(OrderStatus::as_str))
    .bind(entry.status_after.map(OrderStatus::as_str))
    .bind(entry.event_id)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub kind: String,
    pub summary: String,
    pub actor_id: String,
    pub actor_type: String,
    pub reason: Option<String>,
    pub status_before: Option<String>,
    pub status_after: Option<String>,
    pub event_id: Option<Uuid>,
}

/// Entries in the order they happened, after the entry `after` (exclusive).
pub async fn list(
    conn: &mut PgConnection,
    order_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, occurred_at, kind, summary, actor_id, actor_type, reason, status_before,
             status_after, event_id
         FROM order_timeline WHERE order_id = $1 AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3",
    )
    .bind(order_id)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}
