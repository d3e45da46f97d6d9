//! The idempotent consumer runner. One durable pull consumer per (service, subject); each event
//! is applied together with the record of its id in `oc_inbox`, so an event delivered twice
//! (redelivery, a relay that published again, a replay) has its effect once.
//!
//! Events already waiting are applied in order in one transaction (up to `OC_CONSUMER_BATCH`,
//! default 64): one commit, not one per event. The batch runs without savepoints; only when an
//! event fails is it run again with each event in a savepoint, so the failure is rolled back
//! alone and the others commit together.
//!
//! Two consumers batching events that lock the same rows in different orders would deadlock each
//! other (docs/BENCHMARKS.md), so with batching on a service's consumers take one advisory lock
//! per transaction ([`Handler::batch_lock`]) and their batches take turns. Within a process the
//! turn is taken first on an in-process mutex of the same key, *before* a pooled connection:
//! waiting consumers then hold no connection, and the RPCs keep the rest of the pool (the
//! advisory lock still orders replicas of the service in other processes). Acks go out after the
//! commit.
//!
//! The runner owns ack, retry and dead-lettering: a handler returns [`HandlerError::Transient`]
//! to be retried with growing delays, [`HandlerError::Permanent`] (or keeps failing past
//! `max_deliveries`) to have the event moved to the dead-letter stream, after which the consumer
//! goes on with the next event. Undecodable messages are dead-lettered at once.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use contracts::Event;
use futures::{FutureExt as _, StreamExt as _};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::dlq;
use crate::envelope::Envelope;
use crate::failpoint::{self, FailPoints};
use crate::metrics::{ConsumedLabels, ConsumerLabels, MessagingMetrics, SubjectLabels};
use crate::outbox::Outbox;
use runtime::Subjects;
use runtime::config::{MessagingSettings, StreamSettings};

/// Why a handler could not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying: a lost connection, a lock timeout, a dependency not yet there.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help: the event is invalid for this service.
    #[error("{0}")]
    Permanent(String),
}

impl HandlerError {
    pub fn transient(err: impl std::fmt::Display) -> Self {
        Self::Transient(err.to_string())
    }

    pub fn permanent(err: impl std::fmt::Display) -> Self {
        Self::Permanent(err.to_string())
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        Self::Transient(format!("database: {err}"))
    }
}

/// Applies one kind of event inside the runner's transaction.
pub trait Handler<E: Event>: Send + Sync + 'static {
    fn handle(
        &self,
        tx: &mut PgConnection,
        event: &Envelope<E>,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// With batching on: the PostgreSQL advisory lock every transaction of this consumer takes
    /// first. `None` (the default) is the service's own key ([`batch_lock_key`]): a service's
    /// consumers lock the same rows in no common order (one event's rows after another's), so
    /// their batches take turns instead of deadlocking, and each batch still commits once. A
    /// handler that locks nothing another consumer locks may name a key of its own.
    fn batch_lock(&self) -> Option<i64> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Stream(#[from] runtime::nats::NatsError),
    #[error("cannot create consumer {name}: {source}")]
    Create {
        name: String,
        #[source]
        source: async_nats::Error,
    },
}

enum Applied {
    Fresh,
    Duplicate,
}

/// How one transaction over a batch ended.
enum Attempt {
    /// Committed (or failed as a whole): one result per event.
    Done(Vec<Result<Applied, HandlerError>>),
    /// Without savepoints, an event failed and the transaction was rolled back: its error, and
    /// "rolled back with its batch" for every other event.
    EventFailed(Vec<Result<Applied, HandlerError>>),
}

/// A running subscription of one service to one event type.
pub struct Consumer<E, H> {
    name: String,
    /// The advisory lock this consumer's batches take: the handler's or the service's.
    batch_lock: i64,
    /// The in-process side of the same turn, taken before a connection.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// `after_effect_before_commit@<subject>`, built once rather than per batch.
    commit_failpoint: String,
    pool: PgPool,
    jetstream: jetstream::Context,
    subjects: Subjects,
    consumer: jetstream::consumer::PullConsumer,
    settings: MessagingSettings,
    handler: Arc<H>,
    outbox: Option<Outbox>,
    metrics: MessagingMetrics,
    failpoints: FailPoints,
    _event: PhantomData<fn() -> E>,
}

/// The advisory lock key of `service`'s batching consumers (FNV-1a of its name, positive).
pub fn batch_lock_key(service: &str) -> i64 {
    let hash = service.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    i64::try_from(hash >> 1).unwrap_or(i64::MAX)
}

/// The in-process turn of every batching consumer sharing the advisory lock `key` in `pool`'s
/// database (advisory locks are per database, and a test process runs many databases): one
/// mutex per pair, so consumers waiting for their turn hold no connection.
fn turn(pool: &PgPool, key: i64) -> Arc<tokio::sync::Mutex<()>> {
    type Turns = HashMap<(Option<String>, i64), Arc<tokio::sync::Mutex<()>>>;
    static TURNS: LazyLock<Mutex<Turns>> = LazyLock::new(Mutex::default);
    let database = pool.connect_options().get_database().map(str::to_owned);
    TURNS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry((database, key))
        .or_default()
        .clone()
}

/// The durable name of `service`'s consumer of `subject`: `payments__orders_order_placed`.
pub fn durable_name(service: &str, relative_subject: &str) -> String {
    format!(
        "{service}__{}",
        relative_subject.replace(['.', '*', '>'], "_")
    )
}

impl<E: Event, H: Handler<E>> Consumer<E, H> {
    /// Provisions (idempotently) the producer's stream, the dead-letter stream and the durable
    /// consumer, so a misconfiguration fails at start-up rather than at the first event.
    #[allow(clippy::too_many_arguments)]
    pub async fn provision(
        service: &str,
        handler: H,
        pool: PgPool,
        jetstream: jetstream::Context,
        subjects: Subjects,
        streams: &StreamSettings,
        settings: MessagingSettings,
    ) -> Result<Self, ConsumerError> {
        let producer = Subjects::producer_of(E::SUBJECT);
        let stream = runtime::nats::ensure_stream(&jetstream, &subjects, producer, streams).await?;
        runtime::nats::ensure_stream(&jetstream, &subjects, "dlq", streams).await?;
        let name = durable_name(service, E::SUBJECT);
        let consumer = stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: subjects.absolute(E::SUBJECT),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: settings.ack_wait,
                    // Unlimited: the runner counts deliveries and dead-letters itself, so an
                    // event is never silently dropped by the server.
                    max_deliver: -1,
                    max_ack_pending: 1024,
                    ..Default::default()
                },
            )
            .await
            .map_err(|source| ConsumerError::Create {
                name: name.clone(),
                source: source.into(),
            })?;
        let batch_lock = handler
            .batch_lock()
            .unwrap_or_else(|| batch_lock_key(service));
        Ok(Self {
            name,
            batch_lock,
            turn: turn(&pool, batch_lock),
            commit_failpoint: format!("{}@{}", failpoint::AFTER_EFFECT_BEFORE_COMMIT, E::SUBJECT),
            pool,
            jetstream,
            subjects,
            consumer,
            settings,
            handler: Arc::new(handler),
            outbox: None,
            metrics: MessagingMetrics::default(),
            failpoints: FailPoints::new(),
            _event: PhantomData,
        })
    }

    /// Wakes this outbox's relay after each commit (handlers that publish follow-up events).
    pub fn with_outbox(mut self, outbox: Outbox) -> Self {
        self.outbox = Some(outbox);
        self
    }

    pub fn with_metrics(mut self, metrics: MessagingMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn with_failpoints(mut self, failpoints: FailPoints) -> Self {
        self.failpoints = failpoints;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads this consumer's lag from JetStream every `metrics_poll` into the lag gauges.
    pub fn lag_probe(&self) -> LagProbe {
        LagProbe {
            consumer: self.consumer.clone(),
            labels: ConsumerLabels {
                consumer: self.name.clone(),
                subject: E::SUBJECT.to_owned(),
            },
            every: self.settings.metrics_poll,
            metrics: self.metrics.clone(),
        }
    }

    /// Pulls and applies events until `token` is cancelled; reconnects after stream errors.
    pub async fn run(self, token: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        while !token.is_cancelled() {
            let messages = self
                .consumer
                .stream()
                .max_messages_per_batch(64)
                .expires(Duration::from_secs(5))
                .heartbeat(Duration::from_secs(2))
                .messages()
                .await;
            let mut messages = match messages {
                Ok(messages) => messages,
                Err(err) => {
                    tracing::warn!(consumer = %self.name, error = %err, "cannot pull; retrying");
                    tokio::select! {
                        () = token.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            loop {
                let next = tokio::select! {
                    () = token.cancelled() => return,
                    next = messages.next() => next,
                };
                match next {
                    Some(Ok(message)) => {
                        backoff = Duration::from_millis(200);
                        // Whatever else is already here joins the batch; nothing waits for more.
                        let mut batch = vec![message];
                        let mut ended = false;
                        while batch.len() < self.settings.consumer_batch {
                            match messages.next().now_or_never() {
                                Some(Some(Ok(message))) => batch.push(message),
                                Some(Some(Err(err))) => {
                                    tracing::debug!(consumer = %self.name, error = %err, "pull error");
                                    ended = true;
                                    break;
                                }
                                Some(None) => {
                                    ended = true;
                                    break;
                                }
                                None => break,
                            }
                        }
                        if !self.process(batch).await {
                            // A fail point stopped this consumer as if it had crashed.
                            return;
                        }
                        if ended {
                            break;
                        }
                    }
                    Some(Err(err)) => {
                        tracing::debug!(consumer = %self.name, error = %err, "pull error");
                        tokio::select! {
                            () = token.cancelled() => return,
                            () = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        break;
                    }
                    None => break,
                }
            }
        }
    }

    /// Handles a batch of messages in order; false when a fail point says to stop as if
    /// crashed.
    async fn process(&self, batch: Vec<jetstream::Message>) -> bool {
        let mut items = Vec::with_capacity(batch.len());
        for message in batch {
            let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
            match Envelope::<E>::decode(&self.subjects, &message) {
                Ok(envelope) => {
                    let span = self.span(&envelope);
                    items.push((message, delivered, envelope, span));
                }
                Err(err) => {
                    self.dead_letter(&message, delivered, &format!("undecodable: {err}"))
                        .await;
                }
            }
        }
        if items.is_empty() {
            return true;
        }
        let results = self.apply(&items).await;
        if results.iter().any(Result::is_ok)
            && self.failpoints.hit(failpoint::AFTER_EFFECT_BEFORE_ACK)
        {
            return false;
        }
        // Every ack (or retry, or dead-lettering) at once: they are independent, and one at a
        // time a batch of 64 waited for 64 round trips to the server.
        // Never hold `span.enter()` across an await: the guard would stay on the worker thread
        // while this task is parked, and whichever task runs there next finds a closed span.
        futures::future::join_all(items.iter().zip(results).map(
            |((message, delivered, _, span), applied)| {
                self.settle(message, *delivered, applied)
                    .instrument(span.clone())
            },
        ))
        .await;
        true
    }

    fn span(&self, envelope: &Envelope<E>) -> tracing::Span {
        let span = tracing::info_span!(
            "consume",
            otel.kind = "consumer",
            consumer = %self.name,
            event_id = %envelope.id,
            aggregate_id = %envelope.aggregate_id,
            order_id = tracing::field::Empty,
        );
        if let Some(order_id) = envelope.event.order_id().filter(|id| !id.is_empty()) {
            span.record("order_id", order_id);
        }
        runtime::telemetry::set_parent(&span, envelope.traceparent.as_deref());
        span
    }

    /// Acks, retries or dead-letters one handled message.
    async fn settle(
        &self,
        message: &jetstream::Message,
        delivered: i64,
        applied: Result<Applied, HandlerError>,
    ) {
        match applied {
            Ok(applied) => {
                let outcome = match applied {
                    Applied::Fresh => "applied",
                    Applied::Duplicate => "duplicate",
                };
                self.count(outcome);
                if let Err(err) = message.double_ack().await {
                    // The effect is committed; a redelivery will be recognised by the inbox.
                    tracing::debug!(error = %err, "ack not confirmed");
                }
            }
            Err(HandlerError::Transient(reason)) if delivered < self.settings.max_deliveries => {
                let delay = self.retry_delay(delivered);
                tracing::warn!(%reason, delivered, retry_in = ?delay, "event failed; will retry");
                self.count("retried");
                let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
            }
            Err(err) => {
                let reason = format!("after {delivered} deliveries: {err}");
                self.dead_letter(message, delivered, &reason).await;
            }
        }
    }

    /// Applies the batch in one transaction; one result per event. The batch first runs without
    /// savepoints (two round trips fewer per event); if an event fails, that transaction is
    /// rolled back and the batch runs again with each event in its own savepoint, so that only
    /// the failure is rolled back. A batch of one needs no second run: its event's failure is
    /// its transaction's. If the commit fails, nothing of the batch happened and every event is
    /// retried.
    async fn apply(
        &self,
        items: &[(jetstream::Message, i64, Envelope<E>, tracing::Span)],
    ) -> Vec<Result<Applied, HandlerError>> {
        // Held until after the commit; taken before the connection (see the module docs).
        let _turn = if self.settings.consumer_batch > 1 {
            Some(self.turn.lock().await)
        } else {
            None
        };
        match self.attempt(items, false).await {
            Attempt::Done(results) => results,
            Attempt::EventFailed(results) if items.len() == 1 => results,
            Attempt::EventFailed(_) => match self.attempt(items, true).await {
                Attempt::Done(results) | Attempt::EventFailed(results) => results,
            },
        }
    }

    /// One transaction over the batch, each event in a savepoint or, without, stopping at the
    /// first event that fails.
    async fn attempt(
        &self,
        items: &[(jetstream::Message, i64, Envelope<E>, tracing::Span)],
        savepoints: bool,
    ) -> Attempt {
        let all_failed = |reason: String| {
            Attempt::Done(
                items
                    .iter()
                    .map(|_| Err(HandlerError::Transient(reason.clone())))
                    .collect(),
            )
        };
        let mut tx = match self.pool.begin().await {
            Ok(tx) => tx,
            Err(err) => return all_failed(format!("database: {err}")),
        };
        if self.settings.consumer_batch > 1
            && let Err(err) = sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(self.batch_lock)
                .execute(&mut *tx)
                .await
        {
            return all_failed(format!("database: batch lock: {err}"));
        }
        // Without savepoints, the batch's inbox rows go in with one statement rather than one
        // per event; an event already there (or twice in the batch) is a duplicate.
        let mut fresh = None;
        if !savepoints && items.len() > 1 {
            match self.record_fresh(&mut tx, items).await {
                Ok(ids) => fresh = Some(ids),
                Err(err) => return all_failed(format!("database: inbox: {err}")),
            }
        }
        let mut results = Vec::with_capacity(items.len());
        for (n, (_, _, envelope, span)) in items.iter().enumerate() {
            if savepoints {
                let applied = self
                    .apply_in_savepoint(&mut tx, envelope)
                    .instrument(span.clone())
                    .await;
                results.push(applied);
                continue;
            }
            let applied = match fresh.as_mut().map(|fresh| fresh.remove(&envelope.id)) {
                Some(false) => Ok(Applied::Duplicate),
                Some(true) => self
                    .handler
                    .handle(&mut tx, envelope)
                    .instrument(span.clone())
                    .await
                    .map(|()| Applied::Fresh),
                None => {
                    self.apply_one(&mut tx, envelope)
                        .instrument(span.clone())
                        .await
                }
            };
            match applied {
                Ok(applied) => results.push(Ok(applied)),
                Err(err) => {
                    // The transaction goes with everything the batch did so far — now, not on
                    // drop, so the rerun does not wait for its locks.
                    let _ = tx.rollback().await;
                    let mut results: Vec<_> = (0..items.len())
                        .map(|_| Err(HandlerError::Transient("rolled back with its batch".into())))
                        .collect();
                    results[n] = Err(err);
                    return Attempt::EventFailed(results);
                }
            }
        }
        if self.failpoints.hit(failpoint::AFTER_EFFECT_BEFORE_COMMIT)
            || self.failpoints.hit(&self.commit_failpoint)
        {
            // As if the process died here: the transaction is dropped, the messages come back.
            drop(tx);
            return all_failed("crashed before commit".into());
        }
        if let Err(err) = tx.commit().await {
            let reason = format!("database: commit failed: {err}");
            return Attempt::Done(
                results
                    .into_iter()
                    .map(|r| r.and(Err(HandlerError::Transient(reason.clone()))))
                    .collect(),
            );
        }
        if results.iter().any(|r| matches!(r, Ok(Applied::Fresh)))
            && let Some(outbox) = &self.outbox
        {
            outbox.wake();
        }
        Attempt::Done(results)
    }

    /// One event inside the batch's transaction: recorded in the inbox, then handled.
    async fn apply_one(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope<E>,
    ) -> Result<Applied, HandlerError> {
        let fresh = sqlx::query(
            "INSERT INTO oc_inbox (consumer, event_id, subject) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(&self.name)
        .bind(envelope.id)
        .bind(&envelope.subject)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            return Ok(Applied::Duplicate);
        }
        self.handler.handle(conn, envelope).await?;
        Ok(Applied::Fresh)
    }

    /// Records the batch's events in the inbox with one statement; the ids that were not there.
    async fn record_fresh(
        &self,
        conn: &mut PgConnection,
        items: &[(jetstream::Message, i64, Envelope<E>, tracing::Span)],
    ) -> Result<HashSet<uuid::Uuid>, sqlx::Error> {
        let (ids, subjects): (Vec<uuid::Uuid>, Vec<&str>) = items
            .iter()
            .map(|(_, _, envelope, _)| (envelope.id, envelope.subject.as_str()))
            .unzip();
        let fresh: Vec<uuid::Uuid> = sqlx::query_scalar(
            "INSERT INTO oc_inbox (consumer, event_id, subject)
             SELECT $1, id, subject FROM unnest($2::uuid[], $3::text[]) AS e (id, subject)
             ON CONFLICT DO NOTHING RETURNING event_id",
        )
        .bind(&self.name)
        .bind(&ids)
        .bind(&subjects)
        .fetch_all(conn)
        .await?;
        Ok(fresh.into_iter().collect())
    }

    /// [`Self::apply_one`] in its own savepoint: a failure takes only this event's writes.
    async fn apply_in_savepoint(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        envelope: &Envelope<E>,
    ) -> Result<Applied, HandlerError> {
        let mut savepoint = sqlx::Connection::begin(&mut **tx).await?;
        match self.apply_one(&mut savepoint, envelope).await {
            Ok(applied) => {
                savepoint.commit().await?;
                Ok(applied)
            }
            Err(err) => {
                savepoint.rollback().await?;
                Err(err)
            }
        }
    }

    fn retry_delay(&self, delivered: i64) -> Duration {
        let exponent = u32::try_from(delivered.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(16);
        self.settings
            .retry_backoff
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.settings.retry_backoff_max)
    }

    async fn dead_letter(&self, message: &jetstream::Message, delivered: i64, reason: &str) {
        let relative = self
            .subjects
            .relative(message.subject.as_str())
            .unwrap_or(E::SUBJECT)
            .to_owned();
        let stream_sequence = message.info().map_or(0, |i| i.stream_sequence);
        match dlq::publish(
            &self.jetstream,
            &self.subjects,
            &self.name,
            &relative,
            message,
            stream_sequence,
            delivered,
            reason,
        )
        .await
        {
            Ok(()) => {
                tracing::error!(consumer = %self.name, %reason, "event dead-lettered");
                self.count("dead_lettered");
                self.metrics
                    .dead_lettered
                    .get_or_create(&SubjectLabels { subject: relative })
                    .inc();
                let _ = message.ack_with(AckKind::Term).await;
            }
            Err(err) => {
                // Keep the event: without a dead-letter copy it must stay in the stream.
                tracing::warn!(error = %err, "cannot dead-letter; will retry the event");
                let _ = message
                    .ack_with(AckKind::Nak(Some(self.settings.retry_backoff_max)))
                    .await;
            }
        }
    }

    fn count(&self, outcome: &'static str) {
        self.metrics
            .consumed
            .get_or_create(&ConsumedLabels {
                consumer: self.name.clone(),
                outcome,
            })
            .inc();
    }
}

/// Polls one durable consumer's info. Lag is read from the server rather than counted here
/// because the server also sees what this process never received (a consumer that is down or
/// wedged, events published while it was restarting).
pub struct LagProbe {
    consumer: jetstream::consumer::PullConsumer,
    labels: ConsumerLabels,
    every: Duration,
    metrics: MessagingMetrics,
}

impl LagProbe {
    pub async fn run(self, token: CancellationToken) {
        loop {
            match self.consumer.get_info().await {
                Ok(info) => {
                    self.metrics
                        .consumer_pending
                        .get_or_create(&self.labels)
                        .set(i64::try_from(info.num_pending).unwrap_or(i64::MAX));
                    self.metrics
                        .consumer_ack_pending
                        .get_or_create(&self.labels)
                        .set(i64::try_from(info.num_ack_pending).unwrap_or(i64::MAX));
                }
                Err(err) => {
                    tracing::debug!(consumer = %self.labels.consumer, error = %err, "cannot read consumer info");
                }
            }
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep(self.every) => {}
            }
        }
    }
}
