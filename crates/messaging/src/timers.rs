//! Durable timers: a deadline is a row (`oc_timers`), written in the transaction that decided
//! it, and fired by a poller that takes due rows with `FOR UPDATE SKIP LOCKED` — so timers
//! survive restarts, fire once, and can be shared by several replicas. Due means due on the
//! service [`Clock`], so a scaled clock runs week-long windows in seconds. Up to
//! `OC_TIMER_BATCH` due timers fire in one transaction with one commit, like a consumer's batch
//! (crate::consumer): without savepoints, and only when a timer fails is the batch run again
//! with each timer in a savepoint, so the failure is rolled back alone and retried later.
//!
//! Timer batches do not take the consumers' batch turn (crate::consumer): they may lock a row a
//! consumer batch also locks, in the other order, and then one of the two is aborted as a
//! deadlock and retried (seen once in a benchmark run), but taking turns made the saga measurably
//! slower (docs/BENCHMARKS.md, session 6: confirm lag p50 1.6–2.2 s → 3.2–3.8 s at 20 orders/s).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::consumer::HandlerError;
use crate::metrics::MessagingMetrics;
use crate::outbox::Outbox;
use runtime::Clock;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Timer {
    pub id: Uuid,
    pub kind: String,
    pub key: String,
    pub fire_at: DateTime<Utc>,
    pub payload: serde_json::Value,
    pub attempts: i32,
}

/// Schedules (or moves) the timer `kind`/`key` to `fire_at`, in the caller's transaction.
pub async fn schedule(
    conn: &mut PgConnection,
    kind: &str,
    key: &str,
    fire_at: DateTime<Utc>,
    payload: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oc_timers (id, kind, key, fire_at, payload) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, key) DO UPDATE
         SET fire_at = EXCLUDED.fire_at, payload = EXCLUDED.payload, fired_at = NULL,
             attempts = 0, last_error = NULL",
    )
    .bind(Uuid::now_v7())
    .bind(kind)
    .bind(key)
    .bind(fire_at)
    .bind(payload)
    .execute(conn)
    .await?;
    Ok(())
}

/// Cancels a pending timer; true if one was pending.
pub async fn cancel(conn: &mut PgConnection, kind: &str, key: &str) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM oc_timers WHERE kind = $1 AND key = $2 AND fired_at IS NULL")
            .bind(kind)
            .bind(key)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// Acts when a timer of one kind comes due, inside the poller's transaction.
pub trait TimerHandler: Send + Sync + 'static {
    fn fire(
        &self,
        tx: &mut PgConnection,
        timer: &Timer,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Fires due timers of one kind.
pub struct TimerPoller<H> {
    kind: &'static str,
    pool: PgPool,
    clock: Clock,
    poll: Duration,
    max_attempts: i32,
    batch: i64,
    handler: Arc<H>,
    outbox: Option<Outbox>,
    metrics: MessagingMetrics,
}

impl<H: TimerHandler> TimerPoller<H> {
    pub fn new(kind: &'static str, handler: H, pool: PgPool, clock: Clock, poll: Duration) -> Self {
        Self {
            kind,
            pool,
            clock,
            poll,
            max_attempts: 10,
            batch: 1,
            handler: Arc::new(handler),
            outbox: None,
            metrics: MessagingMetrics::default(),
        }
    }

    pub fn with_outbox(mut self, outbox: Outbox) -> Self {
        self.outbox = Some(outbox);
        self
    }

    pub fn with_metrics(mut self, metrics: MessagingMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Fires up to `batch` due timers per transaction.
    pub fn with_batch(mut self, batch: i64) -> Self {
        self.batch = batch.max(1);
        self
    }

    pub async fn run(self, token: CancellationToken) {
        while !token.is_cancelled() {
            match self.fire_due(self.batch).await {
                Ok(0) => {}
                Ok(_) => continue,
                Err(err) => tracing::warn!(kind = self.kind, error = %err, "timer poll failed"),
            }
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Fires the earliest due timer, if any; true when one was taken.
    pub async fn fire_one(&self) -> Result<bool, sqlx::Error> {
        self.fire_due(1).await.map(|fired| fired > 0)
    }

    /// Fires up to `limit` due timers, earliest first, in one transaction; how many it took.
    pub async fn fire_due(&self, limit: i64) -> Result<usize, sqlx::Error> {
        match self.attempt(limit, false).await? {
            Some(taken) => Ok(taken),
            None => Ok(self.attempt(limit, true).await?.unwrap_or(0)),
        }
    }

    /// One transaction over the due timers. Without savepoints it gives up at the first timer
    /// that fails (`None`: the transaction is rolled back); with them, a failing timer is rolled
    /// back alone and its attempt recorded.
    async fn attempt(&self, limit: i64, savepoints: bool) -> Result<Option<usize>, sqlx::Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let due: Vec<Timer> = sqlx::query_as(
            "SELECT id, kind, key, fire_at, payload, attempts FROM oc_timers
             WHERE kind = $1 AND fired_at IS NULL AND fire_at <= $2
             ORDER BY fire_at LIMIT $3 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.kind)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut fired = Vec::with_capacity(due.len());
        for timer in &due {
            if !savepoints {
                match self.handler.fire(&mut tx, timer).await {
                    Ok(()) => fired.push(timer.id),
                    Err(err) => {
                        tracing::debug!(kind = self.kind, key = %timer.key, error = %err,
                            "timer failed; its batch runs again with savepoints");
                        // Now, not on drop: until the rollback its rows stay locked, and the
                        // rerun would skip them.
                        tx.rollback().await?;
                        return Ok(None);
                    }
                }
                continue;
            }
            let mut attempt = sqlx::Connection::begin(&mut *tx).await?;
            match self.handler.fire(&mut attempt, timer).await {
                Ok(()) => {
                    attempt.commit().await?;
                    fired.push(timer.id);
                }
                Err(err) => {
                    attempt.rollback().await?;
                    let give_up = matches!(err, HandlerError::Permanent(_))
                        || timer.attempts + 1 >= self.max_attempts;
                    let retry_at =
                        now + chrono::Duration::seconds(30 * i64::from(timer.attempts + 1));
                    tracing::warn!(kind = self.kind, key = %timer.key, error = %err, give_up, "timer failed");
                    sqlx::query(
                        "UPDATE oc_timers SET attempts = attempts + 1, last_error = $2,
                             fire_at = $3, fired_at = CASE WHEN $4 THEN $3 ELSE NULL END
                         WHERE id = $1",
                    )
                    .bind(timer.id)
                    .bind(err.to_string())
                    .bind(retry_at)
                    .bind(give_up)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        if !fired.is_empty() {
            sqlx::query(
                "UPDATE oc_timers SET fired_at = $2, attempts = attempts + 1 WHERE id = ANY($1)",
            )
            .bind(&fired)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.metrics.timers_fired.inc_by(fired.len() as u64);
        if !due.is_empty()
            && let Some(outbox) = &self.outbox
        {
            outbox.wake();
        }
        Ok(Some(due.len()))
    }
}
