//! Staff alerts for dead-lettered events: a durable pull consumer of its own on the
//! dead-letter stream (`<ROOT>_DLQ`, subjects `<root>.dlq.>`), not the typed runner, because
//! these messages are any service's events with the dead-letter headers added
//! (`oc-dlq-consumer`, `oc-dlq-subject`, `oc-dlq-reason`, `oc-dlq-deliveries`). Each is
//! reported once: its `Nats-Msg-Id` is recorded in the transaction that records the alerts,
//! before the ack, so a redelivery finds it and reports nothing.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::StreamExt as _;
use messaging::HandlerError;
use messaging::dlq::{DLQ_CONSUMER, DLQ_DELIVERIES, DLQ_REASON, DLQ_SUBJECT};
use messaging::envelope::{CE_ID, NATS_MSG_ID};
use runtime::{BoxError, Subjects};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::{Notifier, Source};
use crate::domain::messages::STAFF_DEAD_LETTER;
use crate::store;

const DURABLE: &str = "notifications__dlq";

pub struct DeadLetters {
    notifier: Notifier,
    pool: PgPool,
    subjects: Subjects,
    consumer: jetstream::consumer::PullConsumer,
    retry: Duration,
}

impl DeadLetters {
    /// Provisions (idempotently) the dead-letter stream and this service's consumer of it.
    /// Takes the host's parts rather than the host, which is not shared across an await.
    pub async fn provision(
        jetstream: jetstream::Context,
        subjects: Subjects,
        settings: runtime::Settings,
        pool: PgPool,
        notifier: Notifier,
    ) -> Result<Self, BoxError> {
        let stream =
            runtime::nats::ensure_stream(&jetstream, &subjects, "dlq", &settings.streams).await?;
        let consumer = stream
            .get_or_create_consumer(
                DURABLE,
                pull::Config {
                    durable_name: Some(DURABLE.into()),
                    filter_subject: format!("{}.dlq.>", subjects.root()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: settings.messaging.ack_wait,
                    // Unlimited: an alert is retried until it is recorded.
                    max_deliver: -1,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| -> BoxError { format!("cannot create consumer {DURABLE}: {e}").into() })?;
        Ok(Self {
            notifier,
            pool,
            subjects,
            consumer,
            retry: settings.messaging.retry_backoff,
        })
    }

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
                    tracing::warn!(consumer = DURABLE, error = %err, "cannot pull; retrying");
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
                        self.process(message).await;
                    }
                    Some(Err(err)) => {
                        tracing::debug!(consumer = DURABLE, error = %err, "pull error");
                        break;
                    }
                    None => break,
                }
            }
        }
    }

    async fn process(&self, message: jetstream::Message) {
        match self.alert(&message).await {
            Ok(()) => {
                if let Err(err) = message.double_ack().await {
                    // Recorded; a redelivery finds the message id and reports nothing.
                    tracing::debug!(error = %err, "ack not confirmed");
                }
            }
            Err(HandlerError::Transient(reason)) => {
                tracing::warn!(consumer = DURABLE, %reason, "dead-letter alert failed; will retry");
                let _ = message.ack_with(AckKind::Nak(Some(self.retry))).await;
            }
            Err(HandlerError::Permanent(reason)) => {
                // There is no dead-letter stream for the dead-letter stream: log and move on.
                tracing::error!(consumer = DURABLE, %reason, "cannot report a dead-lettered event");
                let _ = message.ack_with(AckKind::Term).await;
            }
        }
    }

    async fn alert(&self, message: &jetstream::Message) -> Result<(), HandlerError> {
        let header = |name: &str| -> String {
            message
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        let mut msg_id = header(NATS_MSG_ID);
        if msg_id.is_empty() {
            // Not published by our dead-letterer; its place in the stream identifies it.
            let sequence = message
                .info()
                .map(|i| i.stream_sequence)
                .unwrap_or_default();
            msg_id = format!("dlq-seq:{sequence}");
        }
        let consumer = header(DLQ_CONSUMER);
        let mut subject = header(DLQ_SUBJECT);
        if subject.is_empty() {
            subject = self
                .subjects
                .relative(message.subject.as_str())
                .unwrap_or(message.subject.as_str())
                .to_owned();
        }
        let mut tx = self.pool.begin().await?;
        let now = self.notifier.now();
        if store::dead_letters::record(&mut tx, &msg_id, &consumer, &subject, now).await? {
            let context = json!({
                "consumer": consumer,
                "event_subject": subject,
                "reason": header(DLQ_REASON),
                "deliveries": header(DLQ_DELIVERIES),
                "event_id": header(CE_ID),
            });
            let source = Source {
                event_id: msg_id.clone(),
                subject: message.subject.to_string(),
            };
            self.notifier
                .to_staff(&mut tx, &source, STAFF_DEAD_LETTER, "", context)
                .await?;
            tracing::info!(msg_id = %msg_id, consumer = %consumer, subject = %subject, "dead-lettered event reported to staff");
        }
        tx.commit().await?;
        Ok(())
    }
}
