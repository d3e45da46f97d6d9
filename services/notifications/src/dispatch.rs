//! The sender: delivers recorded notifications when they are due and records the outcome.
//!
//! Each round claims due rows with a lease (one short statement; no transaction is held while
//! sending), sends them concurrently, then marks each sent, due again after a backoff, or
//! failed (a permanent refusal, or the last attempt). The attempt is counted at the claim, so
//! a sender that dies mid-send still uses up an attempt; when its lease runs out the row is
//! claimed again and resent with the same idempotency key — at-least-once, with receivers able
//! to drop the duplicate. Nothing is ever sent for a row that is not recorded, and one row is
//! one (event, channel, recipient), so a redelivered event never sends anything new.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use messaging::failpoint::FailPoints;
use runtime::Clock;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::channels::{Outgoing, SendError, Senders};
use crate::config::NotificationsConfig;
use crate::domain::Channel;
use crate::store::notifications::{self as rows, NotificationRow};

/// The sender has delivered a batch and is about to record the outcomes.
pub const AFTER_SEND_BEFORE_MARK: &str = "after_send_before_mark";

pub struct Dispatcher {
    pub pool: PgPool,
    pub clock: Clock,
    pub senders: Senders,
    pub config: Arc<NotificationsConfig>,
    pub failpoints: FailPoints,
}

enum Round {
    /// This many rows were handled.
    Handled(usize),
    /// A fail point stopped the sender as if it had crashed.
    Crashed,
}

impl Dispatcher {
    pub async fn run(self, token: CancellationToken) {
        let mut pause = self.config.poll;
        loop {
            if token.is_cancelled() {
                return;
            }
            match self.round().await {
                Ok(Round::Crashed) => return,
                Ok(Round::Handled(n)) if n as i64 >= self.config.batch => {
                    // A full batch: more may be due right away.
                    pause = self.config.poll;
                    continue;
                }
                Ok(Round::Handled(_)) => pause = self.config.poll,
                Err(err) => {
                    tracing::warn!(error = %err, "notification sender cannot reach its store; retrying");
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn round(&self) -> Result<Round, sqlx::Error> {
        let now = self.clock.now();
        let given_up = rows::fail_exhausted(&self.pool, now, self.config.max_attempts).await?;
        if given_up > 0 {
            tracing::warn!(
                count = given_up,
                "notifications failed: their last attempt never finished"
            );
        }
        let due = rows::claim_due(
            &self.pool,
            now,
            now + self.lease(),
            self.config.batch,
            self.config.max_attempts,
        )
        .await?;
        if due.is_empty() {
            return Ok(Round::Handled(0));
        }
        let outcomes = futures::future::join_all(due.iter().map(|row| self.deliver(row))).await;
        if self.failpoints.hit(AFTER_SEND_BEFORE_MARK) {
            return Ok(Round::Crashed);
        }
        for (row, outcome) in due.iter().zip(outcomes) {
            self.record(row, outcome).await?;
        }
        Ok(Round::Handled(due.len()))
    }

    async fn deliver(&self, row: &NotificationRow) -> Result<(), SendError> {
        let sender = Channel::parse(&row.channel)
            .and_then(|channel| self.senders.get(channel))
            .ok_or_else(|| SendError::Permanent("this channel is not configured".into()))?;
        let message = Outgoing {
            idempotency_key: row.idempotency_key.clone(),
            recipient: row.recipient.clone(),
            subject: row.subject.clone(),
            body: row.body.clone(),
            template: row.template.clone(),
            locale: row.locale.clone(),
            order_id: row.order_id.clone(),
        };
        sender.send(&message).await
    }

    async fn record(
        &self,
        row: &NotificationRow,
        outcome: Result<(), SendError>,
    ) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        match outcome {
            Ok(()) => {
                rows::mark_sent(&self.pool, row.id, now).await?;
                tracing::info!(notification_id = %row.id, channel = %row.channel, template = %row.template, attempt = row.attempts, "notification sent");
            }
            Err(SendError::Transient(reason)) if row.attempts < self.config.max_attempts => {
                let at = self.retry_at(now, row.attempts);
                rows::mark_retry(&self.pool, row.id, at, &reason).await?;
                tracing::warn!(notification_id = %row.id, channel = %row.channel, attempt = row.attempts, %reason, retry_at = %at, "notification not delivered; will retry");
            }
            Err(SendError::Transient(reason)) | Err(SendError::Permanent(reason)) => {
                let reason = format!("after {} attempt(s): {reason}", row.attempts);
                rows::mark_failed(&self.pool, row.id, &reason).await?;
                tracing::error!(notification_id = %row.id, channel = %row.channel, %reason, "notification failed");
            }
        }
        Ok(())
    }

    /// The lease is real time (it protects a network call); the clock may run faster.
    fn lease(&self) -> chrono::Duration {
        let clock_time = self.config.send_lease.mul_f64(self.clock.scale());
        chrono::Duration::from_std(clock_time).unwrap_or(chrono::Duration::MAX)
    }

    /// Backoff doubles per attempt made, up to the maximum (clock time).
    fn retry_at(&self, now: DateTime<Utc>, attempts: i32) -> DateTime<Utc> {
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(16);
        let delay = self
            .config
            .retry_backoff
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.config.retry_backoff_max);
        now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
    }
}
