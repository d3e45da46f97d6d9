//! The boundary to the payment provider (a card network / PSP: a third party). Payments talks
//! to it only through [`PaymentProvider`]: authorize, raise an authorization (incremental
//! authorization, when an order update raises the total), capture an amount, void, refund an
//! amount — each call carrying an idempotency key, so that asking again after a timeout returns the
//! first answer instead of moving money twice.
//!
//! [`Provider`] wraps an implementation with the retry policy: a call that times out is
//! repeated with the *same* key up to `OC_PAYMENTS_PROVIDER_ATTEMPTS` times; a decline is an
//! answer and is never retried. The only implementation in this repository is
//! [`simulated::SimulatedProvider`], documented there.

pub mod simulated;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use runtime::BoxFuture;

use crate::domain::money::Money;

/// What the provider answered when it accepted an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The provider's reference of the operation (for an authorization: the hold, which
    /// later captures, voids and refunds name).
    pub reference: String,
    /// For authorizations: when the hold lapses.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// A definite "no" (refused token, insufficient funds, amount above the hold …).
    #[error("declined: {0}")]
    Declined(String),
    /// No answer in time: the operation may or may not have happened at the provider.
    #[error("the provider did not answer in time")]
    Timeout,
    /// The provider could not be reached at all.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

/// A payment provider. Implementations must treat a repeated idempotency key as the same
/// operation and return its first outcome.
pub trait PaymentProvider: Send + Sync + 'static {
    /// Name shown on payments (`Payment.provider`).
    fn name(&self) -> &'static str;

    fn authorize<'a>(
        &'a self,
        idempotency_key: &'a str,
        token: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Approval, ProviderError>>;

    /// Incremental authorization: raises the hold `authorization` by `amount`, which later
    /// captures and voids can then take. The approval's reference names the increment; the
    /// hold keeps its own reference.
    fn increment<'a>(
        &'a self,
        idempotency_key: &'a str,
        authorization: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Approval, ProviderError>>;

    fn capture<'a>(
        &'a self,
        idempotency_key: &'a str,
        authorization: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Approval, ProviderError>>;

    fn void<'a>(
        &'a self,
        idempotency_key: &'a str,
        authorization: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Approval, ProviderError>>;

    fn refund<'a>(
        &'a self,
        idempotency_key: &'a str,
        authorization: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Approval, ProviderError>>;
}

/// A provider with the retry policy; cheap to clone.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<dyn PaymentProvider>,
    attempts: u32,
    pause: Duration,
}

/// The end of a call after its retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Declined(String),
    /// Timed out or unreachable on every attempt.
    #[error("{0}")]
    Unavailable(String),
}

#[derive(Clone, Copy)]
enum Op {
    Authorize,
    Increment,
    Capture,
    Void,
    Refund,
}

impl Provider {
    pub fn new(inner: Arc<dyn PaymentProvider>, attempts: u32, pause: Duration) -> Self {
        Self {
            inner,
            attempts: attempts.max(1),
            pause,
        }
    }

    pub fn name(&self) -> &'static str {
        self.inner.name()
    }

    pub async fn authorize(
        &self,
        key: &str,
        token: &str,
        amount: Money,
    ) -> Result<Approval, CallError> {
        self.call(Op::Authorize, key, token, amount).await
    }

    pub async fn increment(
        &self,
        key: &str,
        authorization: &str,
        amount: Money,
    ) -> Result<Approval, CallError> {
        self.call(Op::Increment, key, authorization, amount).await
    }

    pub async fn capture(
        &self,
        key: &str,
        authorization: &str,
        amount: Money,
    ) -> Result<Approval, CallError> {
        self.call(Op::Capture, key, authorization, amount).await
    }

    pub async fn void(
        &self,
        key: &str,
        authorization: &str,
        amount: Money,
    ) -> Result<Approval, CallError> {
        self.call(Op::Void, key, authorization, amount).await
    }

    pub async fn refund(
        &self,
        key: &str,
        authorization: &str,
        amount: Money,
    ) -> Result<Approval, CallError> {
        self.call(Op::Refund, key, authorization, amount).await
    }

    async fn call(
        &self,
        op: Op,
        key: &str,
        subject: &str,
        amount: Money,
    ) -> Result<Approval, CallError> {
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let outcome = match op {
                Op::Authorize => self.inner.authorize(key, subject, amount).await,
                Op::Increment => self.inner.increment(key, subject, amount).await,
                Op::Capture => self.inner.capture(key, subject, amount).await,
                Op::Void => self.inner.void(key, subject, amount).await,
                Op::Refund => self.inner.refund(key, subject, amount).await,
            };
            match outcome {
                Ok(approval) => return Ok(approval),
                Err(ProviderError::Declined(why)) => return Err(CallError::Declined(why)),
                Err(err) => {
                    // Same key on the next attempt: the provider answers a repeat with the
                    // first outcome, so a timeout never turns into a second charge.
                    tracing::warn!(idempotency_key = key, attempt, error = %err, "provider call failed; retrying");
                    last = err.to_string();
                    if attempt < self.attempts {
                        tokio::time::sleep(self.pause).await;
                    }
                }
            }
        }
        Err(CallError::Unavailable(last))
    }
}
