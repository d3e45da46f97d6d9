//! The `request_ids` table: AIP-155 idempotency for the RPCs that create something. A request
//! id is claimed in the transaction that does the work, so it exists exactly when the work
//! committed; a concurrent second claim waits on the first's row lock.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// What claiming a request id found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: do the work, then [`complete`].
    New,
    /// The same request again: answer with what it made.
    Replay(Option<Uuid>),
    /// The id was used for a different request.
    Conflict,
}

pub async fn claim(
    conn: &mut PgConnection,
    operation: &str,
    request_id: &str,
    request_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Claim, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO request_ids (operation, request_id, request_hash, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(operation)
    .bind(request_id)
    .bind(request_hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::New);
    }
    let (hash, resource): (Vec<u8>, Option<Uuid>) = sqlx::query_as(
        "SELECT request_hash, resource_id FROM request_ids WHERE operation = $1 AND request_id = $2",
    )
    .bind(operation)
    .bind(request_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(if hash == request_hash {
        Claim::Replay(resource)
    } else {
        Claim::Conflict
    })
}

/// Records what the request made.
pub async fn complete(
    conn: &mut PgConnection,
    operation: &str,
    request_id: &str,
    resource_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE request_ids SET resource_id = $3 WHERE operation = $1 AND request_id = $2")
        .bind(operation)
        .bind(request_id)
        .bind(resource_id)
        .execute(conn)
        .await?;
    Ok(())
}
