//! `parked_requests`: requests that overtook the payment they are about.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::movements::MoveRequest;

/// Serializes everything that opens an order's payment or parks a request for it, so a request
/// never parks after the payment opened and looked for parked requests (both run in their own
/// transactions; without this lock each could miss the other's uncommitted row).
pub async fn lock_order(conn: &mut PgConnection, order_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('payments.order:' || $1::text))")
        .bind(order_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Parks a request; a second one with the same natural key is the same request.
pub async fn park(
    conn: &mut PgConnection,
    order_id: Uuid,
    kind: &str,
    request: &MoveRequest,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO parked_requests (order_id, kind, key, request, parked_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id, kind, key) DO NOTHING",
    )
    .bind(order_id)
    .bind(kind)
    .bind(&request.key)
    .bind(Json(request))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes (deletes and returns) the order's parked requests in arrival order.
pub async fn take(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<(String, MoveRequest)>, sqlx::Error> {
    let rows: Vec<(String, Json<MoveRequest>)> = sqlx::query_as(
        "WITH taken AS (DELETE FROM parked_requests WHERE order_id = $1 RETURNING id, kind, request)
         SELECT kind, request FROM taken ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(k, Json(r))| (k, r)).collect())
}
