//! Rebuilding the read models from `raw_events` (`ordercycle analytics rebuild`): after a new
//! projection, a fixed bug, or to check that the read models are what the events say.

use sqlx::PgPool;

use crate::events::project::{self, ProjectError};
use crate::store::{self, raw};

/// What a rebuild did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebuildReport {
    /// Events replayed.
    pub replayed: u64,
    /// Events whose body could not be decoded (kept, but not in any read model).
    pub undecodable: u64,
}

const PAGE: i64 = 1_000;

/// Empties every read model and rollup and replays every kept event in time order, in one
/// transaction: readers see the old figures until it commits, and consumers applying new events
/// meanwhile wait on the emptied tables' locks, then apply on top of the rebuilt state. The
/// replay marks every hour it touches stale, so the rollups are recomputed by the refresher
/// (and answered from the facts until then).
pub async fn rebuild(pool: &PgPool) -> Result<RebuildReport, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut tables = store::READ_MODELS.to_vec();
    tables.extend(store::rollup::tables());
    sqlx::query(&format!("TRUNCATE {}", tables.join(", ")))
        .execute(&mut *tx)
        .await?;
    let mut report = RebuildReport::default();
    let mut after = None;
    loop {
        let page = raw::page(&mut tx, after, PAGE).await?;
        let Some((seq, last)) = page.last() else {
            break;
        };
        after = Some((last.occurred_at, *seq));
        for (_, event) in &page {
            match project::apply(&mut tx, &event.subject, &event.body, event.occurred_at).await {
                Ok(()) => report.replayed += 1,
                Err(ProjectError::Decode(err)) => {
                    tracing::warn!(event_id = %event.event_id, subject = %event.subject, error = %err, "undecodable kept event");
                    report.undecodable += 1;
                }
                Err(ProjectError::Store(err)) => return Err(err),
            }
        }
    }
    // Archived orders' events are kept too; their rows belong in the archive only.
    store::archive::purge_archived(&mut tx).await?;
    tx.commit().await?;
    tracing::info!(
        replayed = report.replayed,
        undecodable = report.undecodable,
        "read models rebuilt"
    );
    Ok(report)
}
