//! The answers given to order updates (`orders.fulfillment.amend_requested`), one per order and
//! update.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AmendmentRow {
    pub order_id: String,
    pub update_id: String,
    /// `AMENDED` or `REFUSED`.
    pub outcome: String,
    pub fulfillment_ids: Vec<String>,
    pub reason: String,
    pub answered_at: DateTime<Utc>,
}

pub async fn get(
    conn: &mut PgConnection,
    order_id: &str,
    update_id: &str,
) -> Result<Option<AmendmentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT order_id, update_id, outcome, fulfillment_ids, reason, answered_at
         FROM fulfillment_amendments WHERE order_id = $1 AND update_id = $2",
    )
    .bind(order_id)
    .bind(update_id)
    .fetch_optional(conn)
    .await
}

/// Records the answer. A concurrent handler of the same update that got here first makes this
/// a unique violation: the caller's transaction then rolls back and its retry finds this row.
pub async fn insert(conn: &mut PgConnection, a: &AmendmentRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO fulfillment_amendments (order_id, update_id, outcome, fulfillment_ids, reason,
             answered_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&a.order_id)
    .bind(&a.update_id)
    .bind(&a.outcome)
    .bind(&a.fulfillment_ids)
    .bind(&a.reason)
    .bind(a.answered_at)
    .execute(conn)
    .await?;
    Ok(())
}
