//! The transactional outbox: [`Outbox::append`] writes an event in the caller's transaction, so
//! it exists exactly when the state change that caused it committed; the [`Relay`] publishes
//! committed rows to JetStream and marks them sent after the publish ack.
//!
//! A relay round is one transaction: it locks the oldest unpublished rows with
//! `FOR UPDATE SKIP LOCKED` (so several replicas share the work), publishes the whole batch with
//! every publish in flight at once, awaits the acks, marks the acknowledged rows and commits.
//! Taking rows writes nothing (an earlier lease column cost a rewrite of every row and a commit
//! per round — docs/BENCHMARKS.md, session 6). A relay that dies after publishing releases its
//! locks with its connection, and the rows are published again by the next round; the repeat
//! carries the same `Nats-Msg-Id`, and consumers' inboxes make it harmless even when
//! JetStream's duplicate window has passed. The old lease column `oc_outbox.claimed_until` is no
//! longer written; it stays until a later release drops it, so that the previous release's pods
//! keep working during a rolling update (docs/operations.md, expand/contract).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use chrono::{DateTime, Utc};
use contracts::Event;
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::envelope::Outgoing;
use crate::failpoint::{self, FailPoints};
use crate::metrics::{MessagingMetrics, SubjectLabels};
use runtime::config::MessagingSettings;
use runtime::{Clock, Subjects};

/// Cheap to clone; shared by the service's handlers and its relay.
#[derive(Clone)]
pub struct Outbox {
    clock: Clock,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Writes `event` in the caller's transaction; returns the event id.
    pub async fn append<E: Event>(
        &self,
        conn: &mut PgConnection,
        event: &E,
    ) -> Result<Uuid, sqlx::Error> {
        let outgoing = Outgoing::new(event, self.clock.now());
        insert(conn, &outgoing).await?;
        Ok(outgoing.id)
    }

    /// Commits `tx` and wakes the relay so the events leave without waiting for its poll.
    pub async fn commit(
        &self,
        tx: sqlx::Transaction<'_, sqlx::Postgres>,
    ) -> Result<(), sqlx::Error> {
        tx.commit().await?;
        self.wake();
        Ok(())
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

async fn insert(conn: &mut PgConnection, event: &Outgoing) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oc_outbox (id, subject, ce_type, aggregate_id, payload, traceparent, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.id)
    .bind(&event.subject)
    .bind(&event.ce_type)
    .bind(&event.aggregate_id)
    .bind(&event.payload)
    .bind(&event.traceparent)
    .bind(event.occurred_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    subject: String,
    ce_type: String,
    aggregate_id: String,
    payload: Vec<u8>,
    traceparent: Option<String>,
    occurred_at: DateTime<Utc>,
}

impl From<Row> for Outgoing {
    fn from(row: Row) -> Self {
        Self {
            id: row.id,
            subject: row.subject,
            ce_type: row.ce_type,
            aggregate_id: row.aggregate_id,
            payload: row.payload,
            traceparent: row.traceparent,
            occurred_at: row.occurred_at,
        }
    }
}

/// How long one publish, or its ack, may take before the row is released for a retry.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error("outbox query failed: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{failed} of {total} publishes were not acknowledged")]
    Unacknowledged { failed: usize, total: usize },
    #[error("stopped at fail point {0}")]
    Crashed(&'static str),
}

/// Publishes committed outbox rows of one service.
pub struct Relay {
    pool: PgPool,
    jetstream: jetstream::Context,
    subjects: Subjects,
    /// `ce-source`: `ordercycle/<service>`.
    source: String,
    settings: MessagingSettings,
    wake: Arc<Notify>,
    metrics: MessagingMetrics,
    failpoints: FailPoints,
}

impl Relay {
    pub fn new(
        outbox: &Outbox,
        pool: PgPool,
        jetstream: jetstream::Context,
        subjects: Subjects,
        service: &str,
        settings: MessagingSettings,
    ) -> Self {
        Self {
            pool,
            jetstream,
            subjects,
            source: format!("ordercycle/{service}"),
            settings,
            wake: outbox.wake.clone(),
            metrics: MessagingMetrics::default(),
            failpoints: FailPoints::new(),
        }
    }

    pub fn with_metrics(mut self, metrics: MessagingMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn with_failpoints(mut self, failpoints: FailPoints) -> Self {
        self.failpoints = failpoints;
        self
    }

    /// Publishes until `token` is cancelled (or a fail point stops it).
    pub async fn run(self, token: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        let mut last_gauge = std::time::Instant::now() - Duration::from_secs(60);
        loop {
            if token.is_cancelled() {
                return;
            }
            if last_gauge.elapsed() >= Duration::from_secs(5) {
                self.update_backlog_gauges().await;
                last_gauge = std::time::Instant::now();
            }
            match self.round().await {
                // A round that found fewer rows than it could take has caught up: rows committed
                // since then woke it (a wake while it ran is kept for the next wait), so it waits
                // rather than spend a round finding nothing.
                Ok(published) if (published as i64) < self.settings.relay_batch => {
                    backoff = Duration::from_millis(100);
                    tokio::select! {
                        () = token.cancelled() => return,
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(self.settings.relay_poll) => {}
                    }
                }
                Ok(_) => backoff = Duration::from_millis(100),
                Err(RoundError::Crashed(point)) => {
                    tracing::warn!(failpoint = point, "relay stopped at a fail point");
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, retry_in = ?backoff, "outbox relay round failed");
                    tokio::select! {
                        () = token.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// One lock → publish → mark round in one transaction; returns how many rows were
    /// published.
    async fn round(&self) -> Result<usize, RoundError> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, subject, ce_type, aggregate_id, payload, traceparent, occurred_at
             FROM oc_outbox WHERE published_at IS NULL
             ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.settings.relay_batch)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        if self.failpoints.hit(failpoint::AFTER_COMMIT_BEFORE_PUBLISH) {
            return Err(RoundError::Crashed(failpoint::AFTER_COMMIT_BEFORE_PUBLISH));
        }
        let events: Vec<Outgoing> = rows.into_iter().map(Outgoing::from).collect();
        let total = events.len();
        let (published, failed) = self.publish(&events).await;
        if self.failpoints.hit(failpoint::AFTER_PUBLISH_BEFORE_MARK) {
            return Err(RoundError::Crashed(failpoint::AFTER_PUBLISH_BEFORE_MARK));
        }
        if !published.is_empty() {
            sqlx::query("UPDATE oc_outbox SET published_at = now() WHERE id = ANY($1)")
                .bind(&published)
                .execute(&mut *tx)
                .await?;
        }
        if !failed.is_empty() {
            // Counted for inspection; the commit releases them and the relay's own backoff paces
            // the retry.
            sqlx::query("UPDATE oc_outbox SET attempts = attempts + 1 WHERE id = ANY($1)")
                .bind(&failed)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if !failed.is_empty() {
            return Err(RoundError::Unacknowledged {
                failed: failed.len(),
                total,
            });
        }
        Ok(published.len())
    }

    /// Publishes `events` with every publish in flight at once; the ids acknowledged and the ids
    /// not.
    async fn publish(&self, events: &[Outgoing]) -> (Vec<Uuid>, Vec<Uuid>) {
        // Send every publish before awaiting any ack: the acks pipeline on one connection.
        // Every wait is bounded: a publish or an ack that never comes must end the round (and
        // release its rows) rather than stall the relay.
        let mut pending = Vec::with_capacity(events.len());
        for event in events {
            let subject = self.subjects.absolute(&event.subject);
            let sent = tokio::time::timeout(
                PUBLISH_TIMEOUT,
                self.jetstream.publish_with_headers(
                    subject,
                    event.headers(&self.source),
                    event.payload.clone().into(),
                ),
            )
            .await
            .map_err(|_| "publish timed out".to_owned())
            .and_then(|sent| sent.map_err(|e| e.to_string()));
            pending.push((event, sent));
        }
        let mut published = Vec::with_capacity(events.len());
        let mut failed = Vec::new();
        let acks = futures::future::join_all(pending.into_iter().map(|(event, sent)| async move {
            let acked = match sent {
                Ok(ack) => match tokio::time::timeout(PUBLISH_TIMEOUT, ack).await {
                    Ok(acked) => acked.map(|_| ()).map_err(|e| e.to_string()),
                    Err(_) => Err("publish ack timed out".to_owned()),
                },
                Err(err) => Err(err),
            };
            (event, acked)
        }))
        .await;
        for (event, acked) in acks {
            match acked {
                Ok(()) => {
                    self.metrics
                        .published
                        .get_or_create(&SubjectLabels {
                            subject: event.subject.clone(),
                        })
                        .inc();
                    published.push(event.id);
                }
                Err(err) => {
                    tracing::debug!(event_id = %event.id, error = %err, "publish not acknowledged");
                    self.metrics.publish_failures.inc();
                    failed.push(event.id);
                }
            }
        }
        (published, failed)
    }

    async fn update_backlog_gauges(&self) {
        let stats: Result<(i64, Option<f64>), _> = sqlx::query_as(
            "SELECT count(*), EXTRACT(EPOCH FROM now() - min(created_at))::float8
             FROM oc_outbox WHERE published_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await;
        if let Ok((count, oldest)) = stats {
            self.metrics.outbox_backlog.set(count);
            self.metrics
                .outbox_oldest_seconds
                .set(oldest.unwrap_or(0.0) as i64);
        }
        // Published rows are kept a day for inspection, then pruned.
        let _ = sqlx::query("DELETE FROM oc_outbox WHERE published_at < now() - interval '1 day'")
            .execute(&self.pool)
            .await;
    }
}
