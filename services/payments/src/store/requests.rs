//! `rpc_requests`: AIP-155 idempotency of the RPCs that move money.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRow {
    pub request_id: String,
    pub method: String,
    pub request_hash: Vec<u8>,
    pub payment_id: Uuid,
    pub transaction_id: Option<Uuid>,
}

pub async fn get(
    conn: &mut PgConnection,
    request_id: &str,
) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT request_id, method, request_hash, payment_id, transaction_id
         FROM rpc_requests WHERE request_id = $1",
    )
    .bind(request_id)
    .fetch_optional(conn)
    .await
}

/// Records the first answer; false if another request took the id meanwhile.
pub async fn insert(
    conn: &mut PgConnection,
    row: &RequestRow,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO rpc_requests (request_id, method, request_hash, payment_id, transaction_id,
             created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(&row.request_id)
    .bind(&row.method)
    .bind(&row.request_hash)
    .bind(row.payment_id)
    .bind(row.transaction_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
