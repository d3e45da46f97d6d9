//! The `stock_requests` table: AIP-155 idempotency for the RPCs that move stock. The store keeps
//! the caller's request hash and the encoded first response as opaque bytes.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// What claiming a request id found.
pub enum Claim {
    /// First use: go ahead, then [`answer`] in the same transaction.
    New,
    /// Used before (the claim waited for that transaction to commit).
    Seen {
        request_hash: Vec<u8>,
        response: Vec<u8>,
    },
}

pub async fn claim(
    conn: &mut PgConnection,
    method: &str,
    request_id: &str,
    request_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Claim, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO stock_requests (method, request_id, request_hash, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (method, request_id) DO NOTHING",
    )
    .bind(method)
    .bind(request_id)
    .bind(request_hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::New);
    }
    let (request_hash, response): (Vec<u8>, Vec<u8>) = sqlx::query_as(
        "SELECT request_hash, response FROM stock_requests WHERE method = $1 AND request_id = $2",
    )
    .bind(method)
    .bind(request_id)
    .fetch_one(conn)
    .await?;
    Ok(Claim::Seen {
        request_hash,
        response,
    })
}

pub async fn answer(
    conn: &mut PgConnection,
    method: &str,
    request_id: &str,
    response: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE stock_requests SET response = $3 WHERE method = $1 AND request_id = $2")
        .bind(method)
        .bind(request_id)
        .bind(response)
        .execute(conn)
        .await?;
    Ok(())
}
