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
