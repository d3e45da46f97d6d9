//! The `risk_assessments` table.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::risk::{Assessment, Reason};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredAssessment {
    pub order_id: Uuid,
    pub score: i32,
    pub reasons: Json<Vec<Reason>>,
    pub assessed_at: DateTime<Utc>,
}

/// (orders in the hour before `placed_at`, orders ever) by this customer, `order_id` excluded.
pub async fn history(
    conn: &mut PgConnection,
    customer_id: &str,
    order_id: Uuid,
    placed_at: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE placed_at > $3 - interval '1 hour' AND placed_at <= $3),
                count(*)
         FROM risk_assessments WHERE customer_id = $1 AND order_id <> $2",
    )
    .bind(customer_id)
    .bind(order_id)
    .bind(placed_at)
    .fetch_one(conn)
    .await
}

/// Records an assessment; false if the order was assessed already (the first one stands).
pub async fn insert(
    conn: &mut PgConnection,
    order_id: Uuid,
    customer_id: &str,
    assessment: &Assessment,
    placed_at: DateTime<Utc>,
    assessed_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO risk_assessments (order_id, customer_id, score, reasons, placed_at, assessed_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(customer_id)
    .bind(assessment.score)
    .bind(Json(&assessment.reasons))
    .bind(placed_at)
    .bind(assessed_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<StoredAssessment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT order_id, score, reasons, assessed_at FROM risk_assessments WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await
}
