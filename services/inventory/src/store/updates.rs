//! The `reservation_updates` table: what each order update did to a reservation, keyed by
//! (reservation, update, kind), so an amendment or a release delivered again is applied once.
//! An amendment's answer is kept as opaque bytes, to be sent again unchanged.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::reservation::{AmendOutcome, UpdateKind};

/// What an earlier delivery of the same update left: for an amendment, its answer.
pub struct Applied {
    pub outcome: Option<AmendOutcome>,
    pub answer: Vec<u8>,
}

/// Records the update as applied; `None` the first time (go ahead, then [`answer`] in the same
/// transaction), else what the first delivery stored. A concurrent claim of the same update
/// waits for that transaction to commit.
pub async fn claim(
    conn: &mut PgConnection,
    reservation_id: &str,
    update_id: &str,
    kind: UpdateKind,
    now: DateTime<Utc>,
) -> Result<Option<Applied>, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO reservation_updates (reservation_id, update_id, kind, applied_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(reservation_id)
    .bind(update_id)
    .bind(kind.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(None);
    }
    let (outcome, answer): (String, Vec<u8>) = sqlx::query_as(
        "SELECT outcome, answer FROM reservation_updates
         WHERE reservation_id = $1 AND update_id = $2 AND kind = $3",
    )
    .bind(reservation_id)
    .bind(update_id)
    .bind(kind.as_str())
    .fetch_one(conn)
    .await?;
    let outcome = match outcome.as_str() {
        "" => None,
        text => Some(AmendOutcome::parse(text)?),
    };
    Ok(Some(Applied { outcome, answer }))
}

/// Stores the answer of a claimed update.
pub async fn answer(
    conn: &mut PgConnection,
    reservation_id: &str,
    update_id: &str,
    kind: UpdateKind,
    outcome: AmendOutcome,
    answer: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reservation_updates SET outcome = $4, answer = $5
         WHERE reservation_id = $1 AND update_id = $2 AND kind = $3",
    )
    .bind(reservation_id)
    .bind(update_id)
    .bind(kind.as_str())
    .bind(outcome.as_str())
    .bind(answer)
    .execute(conn)
    .await?;
    Ok(())
}
