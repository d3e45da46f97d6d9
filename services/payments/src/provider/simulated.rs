//! The simulated payment provider: deterministic, so demos and tests know what each token does.
//!
//! | token | behaviour |
//! |---|---|
//! | `tok_decline` | every authorization is declined ("card declined") |
//! | `tok_timeout` | every operation is carried out, but its first answer is lost (a timeout); the retry under the same idempotency key returns the stored result, so nothing is charged twice |
//! | `tok_lapse` | the first authorization under this token is approved, every later one is declined ("insufficient funds"): a card that runs dry after an installment plan's first payment |
//! | any other `tok_…` | approved |
//! | anything else | declined ("not a provider token") |
//!
//! Incremental authorizations (an order update raised the total) name the hold they raise and
//! follow the token rules above as a later authorization would: on a `tok_lapse` hold they are
//! declined ("insufficient funds"), on `tok_timeout` the first answer is lost. Whatever the
//! token, an increment that would take the hold to [`INCREMENT_LIMIT_MINOR`] (1,000,000) minor
//! units or more is declined ("above the card's limit") — how a test makes an increase decline
//! on a card that was approved.
//!
//! Captures, voids and refunds name an authorization's reference and are declined when they
//! would take more than it has left (capture + void ≤ authorized + increments, refund ≤
//! captured) or name an unknown reference. Authorizations lapse
//! `OC_PAYMENTS_AUTHORIZATION_TTL_HOURS` after they were made (on the service clock).
//!
//! Its book is the `sim_provider_operations` table, one row per idempotency key with the
//! number of calls made under it — the provider's side of the world, which tests read to prove
//! that a retry charged once. It uses its own one-connection pool: like a real provider, what
//! it did stays done even when the payments transaction that called it rolls back.

use chrono::{DateTime, Utc};
use runtime::{BoxFuture, Clock};
use sqlx::PgPool;
use uuid::Uuid;

use super::{Approval, PaymentProvider, ProviderError};
use crate::domain::money::Money;

pub const NAME: &str = "simulated";

/// An incremental authorization that would take a hold to this many minor units or more is
/// declined.
pub const INCREMENT_LIMIT_MINOR: i64 = 1_000_000;

pub struct SimulatedProvider {
    pool: PgPool,
    clock: Clock,
    authorization_ttl: chrono::Duration,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Operation {
    Authorize,
    Increment,
    Capture,
    Void,
    Refund,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Increment => "increment",
            Self::Capture => "capture",
            Self::Void => "void",
            Self::Refund => "refund",
        }
    }
}

#[derive(sqlx::FromRow)]
struct Stored {
    reference: String,
    approved: bool,
    message: String,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Hold {
    token: String,
    currency: String,
    amount_minor: i64,
    captured: i64,
    voided: i64,
    refunded: i64,
}

impl SimulatedProvider {
    pub fn new(pool: PgPool, clock: Clock, authorization_ttl: chrono::Duration) -> Self {
        Self {
            pool,
            clock,
            authorization_ttl,
        }
    }

    async fn run(
        &self,
        op: Operation,
        key: &str,
        subject: &str,
        amount: Money,
    ) -> Result<Approval, ProviderError> {
        self.book(op, key, subject, amount)
            .await
            .map_err(|err| ProviderError::Unavailable(format!("simulated provider: {err}")))?
    }

    /// Records (or replays) one operation; the outer error is the provider's own failure.
    async fn book(
        &self,
        op: Operation,
        key: &str,
        subject: &str,
        amount: Money,
    ) -> Result<Result<Approval, ProviderError>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let stored: Option<Stored> = sqlx::query_as(
            "UPDATE sim_provider_operations SET calls = calls + 1 WHERE idempotency_key = $1
             RETURNING reference, approved, message, created_at",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(stored) = stored {
            tx.commit().await?;
            return Ok(self.answer(op, &stored));
        }

        let now = self.clock.now();
        let (token, decision) = if op == Operation::Authorize {
            (
                subject.to_owned(),
                self.decide_authorization(&mut tx, subject).await?,
            )
        } else {
            // Serialises operations on one hold, so two keys cannot both take its last unit.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(subject)
                .execute(&mut *tx)
                .await?;
            let hold: Option<Hold> = sqlx::query_as(
                "SELECT a.token, a.currency,
                    (a.amount_minor + coalesce(sum(o.amount_minor) FILTER (WHERE o.operation = 'increment' AND o.approved), 0))::bigint AS amount_minor,
                    coalesce(sum(o.amount_minor) FILTER (WHERE o.operation = 'capture' AND o.approved), 0)::bigint AS captured,
                    coalesce(sum(o.amount_minor) FILTER (WHERE o.operation = 'void' AND o.approved), 0)::bigint AS voided,
                    coalesce(sum(o.amount_minor) FILTER (WHERE o.operation = 'refund' AND o.approved), 0)::bigint AS refunded
                 FROM sim_provider_operations a
                 LEFT JOIN sim_provider_operations o ON o.parent_reference = a.reference
                 WHERE a.reference = $1 AND a.operation = 'authorize' AND a.approved
                 GROUP BY a.idempotency_key",
            )
            .bind(subject)
            .fetch_optional(&mut *tx)
            .await?;
            match hold {
                None => (String::new(), Err("unknown authorization".to_owned())),
                Some(hold) => {
                    let decision = if hold.currency != amount.currency.as_str() {
                        Err(format!("the authorization is in {}", hold.currency))
                    } else if op == Operation::Increment {
                        self.decide_increment(&mut tx, &hold, amount.minor).await?
                    } else {
                        let left = match op {
                            Operation::Refund => hold.captured - hold.refunded,
                            _ => hold.amount_minor - hold.captured - hold.voided,
                        };
                        if amount.minor <= 0 || amount.minor > left {
                            Err(format!("{} is more than the {left} left", amount.minor))
                        } else {
                            Ok(())
                        }
                    };
                    (hold.token, decision)
                }
            }
        };
        let prefix = match op {
            Operation::Authorize => "sim_auth_",
            Operation::Increment => "sim_inc_",
            Operation::Capture => "sim_cap_",
            Operation::Void => "sim_void_",
            Operation::Refund => "sim_ref_",
        };
        let reference = format!("{prefix}{}", Uuid::new_v4().simple());
        let stored = Stored {
            reference,
            approved: decision.is_ok(),
            message: decision.err().unwrap_or_default(),
            created_at: now,
        };
        sqlx::query(
            "INSERT INTO sim_provider_operations (idempotency_key, operation, reference,
                 parent_reference, token, currency, amount_minor, approved, message, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(key)
        .bind(op.as_str())
        .bind(&stored.reference)
        .bind(if op == Operation::Authorize {
            ""
        } else {
            subject
        })
        .bind(&token)
        .bind(amount.currency.as_str())
        .bind(amount.minor)
        .bind(stored.approved)
        .bind(&stored.message)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if token == "tok_timeout" {
            // Done, but the answer never reaches the caller.
            return Ok(Err(ProviderError::Timeout));
        }
        Ok(self.answer(op, &stored))
    }

    async fn decide_authorization(
        &self,
        tx: &mut sqlx::PgConnection,
        token: &str,
    ) -> Result<Result<(), String>, sqlx::Error> {
        if !token.starts_with("tok_") {
            return Ok(Err("not a provider token".into()));
        }
        if token == "tok_decline" {
            return Ok(Err("card declined".into()));
        }
        if token == "tok_lapse" {
            let earlier: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sim_provider_operations
                 WHERE operation = 'authorize' AND token = $1 AND approved)",
            )
            .bind(token)
            .fetch_one(&mut *tx)
            .await?;
            if earlier {
                return Ok(Err("insufficient funds".into()));
            }
        }
        Ok(Ok(()))
    }

    /// An increment is a later authorization on the hold's token, within the card's limit.
    async fn decide_increment(
        &self,
        tx: &mut sqlx::PgConnection,
        hold: &Hold,
        amount: i64,
    ) -> Result<Result<(), String>, sqlx::Error> {
        if amount <= 0 {
            return Ok(Err("an increment must be positive".into()));
        }
        if hold.amount_minor + amount >= INCREMENT_LIMIT_MINOR {
            return Ok(Err(format!(
                "above the card's limit: the hold would be {} minor units",
                hold.amount_minor + amount
            )));
        }
        self.decide_authorization(tx, &hold.token).await
    }

    fn answer(&self, op: Operation, stored: &Stored) -> Result<Approval, ProviderError> {
        if !stored.approved {
            return Err(ProviderError::Declined(stored.message.clone()));
        }
        Ok(Approval {
            reference: stored.reference.clone(),
            expires_at: (op == Operation::Authorize)
                .then(|| stored.created_at + self.authorization_ttl),
        })
    }
}

impl PaymentProvider for SimulatedProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn authorize<'a>(
        &'a self,
        idempotency_key: &'a str,
        token: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Approval, ProviderError>> {
        Box::pin(self.run(Operation::Authorize, idempotency_key, token, amount))
    }

    fn increment<'a>(
        &'a self,
        idempotency_key: &'a str,
        authorization: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Approval, ProviderError>> {
        Box::pin(self.run(Operation::Increment, idempotency_key, authorization, amount))
    }

    fn capture<'a>(
        &'a self,
        idempotency_key: &'a str,
        authorization: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Approval, ProviderError>> {
        Box::pin(self.run(Operation::Capture, idempotency_key, authorization, amount))
    }

    fn void<'a>(
        &'a self,
        idempotency_key: &'a str,
        authorization: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Approval, ProviderError>> {
        Box::pin(self.run(Operation::Void, idempotency_key, authorization, amount))
    }

    fn refund<'a>(
        &'a self,
        idempotency_key: &'a str,
        authorization: &'a str,
        amount: Money,
    ) -> BoxFuture<'a, Result<Approval, ProviderError>> {
        Box::pin(self.run(Operation::Refund, idempotency_key, authorization, amount))
    }
}
