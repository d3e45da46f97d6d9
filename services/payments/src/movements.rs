//! Money movements: the one place where a payment's balances change. Event handlers, timers
//! and RPCs all come here, inside their own transaction and with the payment row locked
//! (`FOR UPDATE`), so movements on one payment happen one at a time and each one:
//!
//! 1. is idempotent by its natural key (`payment_transactions.request_id`): asked again, it
//!    returns what it did the first time;
//! 2. is checked against the balances (`domain::payment`) before the provider is called;
//! 3. calls the provider with an idempotency key derived from the payment and that natural key;
//! 4. writes the transaction, its journal entry (`domain::ledger`), the new balances and the
//!    events it causes (outbox) — all in the caller's transaction.
//!
//! Expiring authorizations: card and wallet holds lapse (`authorization_expires_at`). A durable
//! timer re-authorizes the uncaptured remainder `OC_PAYMENTS_REAUTHORIZE_BEFORE_HOURS` before
//! that, and a capture that finds its hold lapsed re-authorizes first. When re-authorization is
//! declined, the payment is *flagged* (`authorization_flag`, logged) and keeps its old hold for
//! an operator to decide; nothing is cancelled automatically.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use contracts::payments as pb;
use contracts::time::to_timestamp;
use messaging::Outbox;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::config::PaymentsConfig;
use crate::domain::installments::{self, InstallmentStatus, PlanStatus};
use crate::domain::ledger::{self, Leg, Movement};
use crate::domain::money::Money;
use crate::domain::payment::{DeclineReason, Method, Status, TransactionKind};
use crate::provider::{CallError, Provider};
use crate::store::payments::{Instructions, PaymentRow};
use crate::store::plans::{InstallmentRow, PlanRow};
use crate::store::transactions::{self, FAILED, TransactionRow};
use crate::store::{self, plans};
use runtime::pan::looks_like_card_number;

mod amend;

pub use amend::AmendRequest;

pub const BANK_TRANSFER_DEADLINE: &str = "payments.bank_transfer_deadline";
pub const INSTALLMENT_DUE: &str = "payments.installment_due";
pub const REAUTHORIZE: &str = "payments.reauthorize";

/// Why a movement did not happen.
#[derive(Debug, thiserror::Error)]
pub enum MoveFailure {
    /// The payment's state or balances do not allow it; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error("the payment provider declined: {0}")]
    Declined(String),
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<CallError> for MoveFailure {
    fn from(err: CallError) -> Self {
        match err {
            CallError::Declined(why) => Self::Declined(why),
            CallError::Unavailable(why) => Self::Unavailable(why),
        }
    }
}

impl From<crate::domain::payment::MoveError> for MoveFailure {
    fn from(err: crate::domain::payment::MoveError) -> Self {
        Self::Refused(err.to_string())
    }
}

/// A movement made now, or found made earlier under the same natural key.
#[derive(Debug, Clone)]
pub struct Moved {
    pub transaction: TransactionRow,
    pub fresh: bool,
}

/// What a capture, void or refund asks for.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct MoveRequest {
    /// Natural key: an RPC's request_id, or one derived from the event that asked.
    pub key: String,
    /// None: everything that can be moved (the open hold; for refunds, the refundable rest).
    pub amount: Option<i64>,
    pub shipment_id: String,
    pub reason: String,
    pub return_id: String,
    pub case_id: String,
    /// The currency the asker meant; refused when it is not the payment's.
    pub currency: Option<String>,
}

/// Which movement a parked request asks for.
pub const PARKED_CAPTURE: &str = "capture";
pub const PARKED_VOID: &str = "void";
pub const PARKED_REFUND: &str = "refund";

/// A payment to open from orders' request.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub order_id: Uuid,
    pub order_number: String,
    pub customer_id: String,
    pub method: Method,
    pub token: String,
    pub installment_count: i32,
    pub amount: Money,
}

#[derive(Clone)]
pub struct Movements {
    pub provider: Provider,
    pub outbox: Outbox,
    pub clock: runtime::Clock,
    pub config: Arc<PaymentsConfig>,
    pub metrics: crate::metrics::PaymentMetrics,
}

pub fn pb_method(method: Method) -> i32 {
    use contracts::common::PaymentMethod as M;
    (match method {
        Method::Card => M::Card,
        Method::Wallet => M::Wallet,
        Method::BankTransfer => M::BankTransfer,
        Method::CashOnDelivery => M::CashOnDelivery,
        Method::Installments => M::Installments,
    }) as i32
}

pub fn pb_decline(reason: DeclineReason) -> i32 {
    use pb::DeclineReason as R;
    (match reason {
        DeclineReason::ProviderDeclined => R::ProviderDeclined,
        DeclineReason::ProviderUnavailable => R::ProviderUnavailable,
        DeclineReason::PlanRejected => R::PlanRejected,
        DeclineReason::Blocklisted => R::Blocklisted,
        DeclineReason::BankTransferExpired => R::BankTransferExpired,
        DeclineReason::MethodNotAllowed => R::MethodNotAllowed,
    }) as i32
}

pub fn pb_money(money: Money) -> contracts::common::Money {
    contracts::common::Money {
        currency_code: money.currency.as_str().to_owned(),
        amount_minor: money.minor,
    }
}

impl Movements {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Opens the payment of an order and answers orders' request: authorized, declined or
    /// pending. A second request for the same order changes nothing (the first stands).
    pub async fn open(&self, tx: &mut PgConnection, new: NewPayment) -> Result<(), MoveFailure> {
        store::parked::lock_order(tx, new.order_id).await?;
        let now = self.now();
        let id = Uuid::now_v7();
        // A provider token is kept; a card number (or anything else) in its place never is.
        let token = (new.token.starts_with("tok_") && !looks_like_card_number(&new.token))
            .then(|| new.token.clone());
        let mut p = PaymentRow {
            id,
            order_id: new.order_id,
            order_number: new.order_number.clone(),
            customer_id: new.customer_id.clone(),
            method: new.method.as_str().to_owned(),
            status: Status::Pending.as_str().to_owned(),
            currency: new.amount.currency.as_str().to_owned(),
            amount_minor: new.amount.minor,
            authorized_minor: 0,
            authorized_total_minor: 0,
            captured_minor: 0,
            voided_minor: 0,
            refunded_minor: 0,
            written_off_minor: 0,
            voided_in_amount_minor: 0,
            installment_count: if new.method == Method::Installments {
                new.installment_count
            } else {
                0
            },
            token,
            provider: self.provider.name().to_owned(),
            provider_reference: String::new(),
            authorization_expires_at: None,
            reauthorizations: 0,
            authorization_flag: None,
            bank_transfer: None,
            transfer_reference: None,
            settled_at: None,
            decline_reason: None,
            decline_message: None,
            created_at: now,
            updated_at: now,
        };
        if new.method == Method::BankTransfer {
            let reference = format!(
                "PAY-{}",
                Uuid::new_v4().simple().to_string()[..10].to_uppercase()
            );
            p.transfer_reference = Some(reference.clone());
            p.bank_transfer = Some(Json(Instructions {
                beneficiary_name: self.config.bank_beneficiary.clone(),
                iban: self.config.bank_iban.clone(),
                bic: self.config.bank_bic.clone(),
                reference,
                pay_by: now + self.config.bank_transfer_window,
            }));
        }
        if !store::payments::insert(tx, &p).await? {
            tracing::info!(order_id = %new.order_id, "payment already requested; the first stands");
            return Ok(());
        }
        if new.amount.minor <= 0 {
            return self
                .decline(
                    tx,
                    &mut p,
                    DeclineReason::MethodNotAllowed,
                    "nothing to pay",
                )
                .await;
        }
        let opened = match new.method {
            Method::Card | Method::Wallet => self.authorize_hold(tx, &mut p).await,
            Method::CashOnDelivery => {
                if p.amount_minor > self.config.cod_limit_minor {
                    let why = format!(
                        "cash on delivery is limited to {} minor units",
                        self.config.cod_limit_minor
                    );
                    return self
                        .decline(tx, &mut p, DeclineReason::MethodNotAllowed, &why)
                        .await;
                }
                self.accept(tx, &mut p, None, None).await
            }
            Method::BankTransfer => self.issue_instructions(tx, &mut p).await,
            Method::Installments => self.open_plan(tx, &mut p).await,
        };
        opened?;
        self.apply_parked(tx, &mut p).await
    }

    /// Applies the requests that arrived before this payment, in their order; one that does
    /// not apply (e.g. a capture of a declined payment) is logged and dropped.
    async fn apply_parked(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
    ) -> Result<(), MoveFailure> {
        for (kind, request) in store::parked::take(tx, p.order_id).await? {
            let result = match kind.as_str() {
                PARKED_CAPTURE => self.capture(tx, p, &request).await,
                PARKED_VOID => self.void(tx, p, &request).await,
                _ => self.refund(tx, p, &request).await,
            };
            match result {
                Ok(_) => {}
                Err(MoveFailure::Refused(why) | MoveFailure::Declined(why)) => {
                    tracing::warn!(payment_id = %p.id, kind, reason = %why, "parked request refused");
                }
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    async fn authorize_hold(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
    ) -> Result<(), MoveFailure> {
        let Some(token) = p.token.clone() else {
            return self
                .decline(
                    tx,
                    p,
                    DeclineReason::ProviderDeclined,
                    "the payment token is not a provider token",
                )
                .await;
        };
        let amount = p.money(p.amount_minor);
        // Keyed by the order, not the payment: a payment's id is new on every attempt, and a
        // crash after the provider approved but before the commit redelivers the request —
        // the provider must see the same key again and answer with the first authorization.
        match self
            .provider
            .authorize(&format!("{}:auth", p.order_id), &token, amount)
            .await
        {
            Ok(approval) => {
                p.provider_reference = approval.reference.clone();
                p.authorization_expires_at = approval.expires_at;
                self.schedule_reauthorization(tx, p).await?;
                self.accept(tx, p, Some(approval.reference), approval.expires_at)
                    .await
            }
            Err(err) => self.refuse_authorization(tx, p, err).await,
        }
    }

    async fn refuse_authorization(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
        err: CallError,
    ) -> Result<(), MoveFailure> {
        let (reason, message) = match &err {
            CallError::Declined(why) => (DeclineReason::ProviderDeclined, why.clone()),
            CallError::Unavailable(why) => (DeclineReason::ProviderUnavailable, why.clone()),
        };
        let mut t = TransactionRow::new(
            p.id,
            TransactionKind::Authorization,
            p.amount_minor,
            "auth".into(),
            self.now(),
        );
        t.status = FAILED.into();
        t.failure_message = message.clone();
        transactions::insert(tx, &t, &p.currency, &[]).await?;
        self.decline(tx, p, reason, &message).await
    }

    /// Authorized, accepted (COD) or plan accepted: the whole amount becomes receivable.
    async fn accept(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
        reference: Option<String>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(), MoveFailure> {
        let now = self.now();
        let mut b = p.balances();
        let legs = ledger::post(&mut b, Movement::Authorize(p.amount_minor))?;
        let mut t = TransactionRow::new(
            p.id,
            TransactionKind::Authorization,
            p.amount_minor,
            "auth".into(),
            now,
        );
        t.provider_reference = reference.clone().unwrap_or_default();
        transactions::insert(tx, &t, &p.currency, &legs).await?;
        p.status = Status::Authorized.as_str().into();
        p.set_balances(b);
        p.updated_at = now;
        store::payments::update(tx, p).await?;
        let plan = plans::for_payment(tx, p.id).await?;
        self.outbox
            .append(
                tx,
                &pb::PaymentAuthorized {
                    payment_id: p.id.to_string(),
                    order_id: p.order_id.to_string(),
                    method: pb_method(p.method()),
                    amount: Some(pb_money(p.money(p.amount_minor))),
                    provider_reference: reference.unwrap_or_default(),
                    authorization_expires_at: expires_at.map(to_timestamp),
                    installment_plan_id: plan
                        .as_ref()
                        .map(|x| x.id.to_string())
                        .unwrap_or_default(),
                    installment_count: plan.as_ref().map_or(0, |x| x.count),
                    authorized_at: Some(to_timestamp(now)),
                },
            )
            .await?;
        tracing::info!(payment_id = %p.id, order_id = %p.order_id, method = p.method().as_str(), "payment authorized");
        Ok(())
    }

    async fn decline(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
        reason: DeclineReason,
        message: &str,
    ) -> Result<(), MoveFailure> {
        let now = self.now();
        p.status = Status::Declined.as_str().into();
        p.decline_reason = Some(reason.as_str().into());
        p.decline_message = Some(message.to_owned());
        p.updated_at = now;
        store::payments::update(tx, p).await?;
        self.outbox
            .append(
                tx,
                &pb::PaymentDeclined {
                    payment_id: p.id.to_string(),
                    order_id: p.order_id.to_string(),
                    method: pb_method(p.method()),
                    reason: pb_decline(reason),
                    message: message.to_owned(),
                    declined_at: Some(to_timestamp(now)),
                },
            )
            .await?;
        self.metrics.declined(p.method().as_str(), reason.as_str());
        tracing::info!(payment_id = %p.id, order_id = %p.order_id, reason = reason.as_str(), "payment declined");
        Ok(())
    }

    async fn issue_instructions(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
    ) -> Result<(), MoveFailure> {
        let Some(Json(instructions)) = p.bank_transfer.clone() else {
            return Err(MoveFailure::Refused(
                "bank transfer without instructions".into(),
            ));
        };
        messaging::timers::schedule(
            tx,
            BANK_TRANSFER_DEADLINE,
            &p.id.to_string(),
            instructions.pay_by,
            &serde_json::json!({ "payment_id": p.id }),
        )
        .await?;
        self.outbox
            .append(
                tx,
                &pb::PaymentPending {
                    payment_id: p.id.to_string(),
                    order_id: p.order_id.to_string(),
                    method: pb_method(p.method()),
                    instructions: Some(pb_instructions(&instructions, p.money(p.amount_minor))),
                    created_at: Some(to_timestamp(p.created_at)),
                },
            )
            .await?;
        Ok(())
    }

    /// The bank-transfer deadline passed: unpaid transfers are declined.
    pub async fn expire_transfer(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
    ) -> Result<(), MoveFailure> {
        if p.status() != Status::Pending {
            return Ok(());
        }
        self.decline(
            tx,
            p,
            DeclineReason::BankTransferExpired,
            "the bank transfer did not arrive by its pay-by deadline",
        )
        .await
    }

    /// A bank transfer arrived: authorized, captured in full and settled at once.
    pub async fn confirm_transfer(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
        key: &str,
        received: Money,
        bank_reference: &str,
    ) -> Result<Moved, MoveFailure> {
        if let Some(t) = transactions::find(tx, p.id, key).await? {
            return Ok(Moved {
                transaction: t,
                fresh: false,
            });
        }
        if p.method() != Method::BankTransfer {
            return Err(MoveFailure::Refused(format!(
                "payment {} is paid by {}, not by bank transfer",
                p.id,
                p.method().as_str()
            )));
        }
        match p.status() {
            Status::Pending => {}
            Status::Declined => {
                return Err(MoveFailure::Refused(format!(
                    "payment {} was declined ({}); the transfer must be returned to the customer",
                    p.id,
                    p.decline_message.clone().unwrap_or_default()
                )));
            }
            Status::Voided => {
                return Err(MoveFailure::Refused(format!(
                    "payment {} was cancelled with its order; the transfer must be returned",
                    p.id
                )));
            }
            _ => {
                return Err(MoveFailure::Refused(format!(
                    "the bank transfer of payment {} was already confirmed",
                    p.id
                )));
            }
        }
        if received.currency != p.currency() || received.minor != p.amount_minor {
            return Err(MoveFailure::Refused(format!(
                "received {received} but {} is owed; only the exact amount confirms a transfer",
                p.money(p.amount_minor)
            )));
        }
        let now = self.now();
        let mut b = p.balances();
        let mut legs: Vec<Leg> = ledger::post(&mut b, Movement::Authorize(p.amount_minor))?.into();
        legs.extend(ledger::post(&mut b, Movement::Capture(p.amount_minor))?);
        let mut t = TransactionRow::new(
            p.id,
            TransactionKind::BankTransfer,
            p.amount_minor,
            key.to_owned(),
            now,
        );
        t.reason = format!("bank reference {bank_reference}");
        transactions::insert(tx, &t, &p.currency, &legs).await?;
        messaging::timers::cancel(tx, BANK_TRANSFER_DEADLINE, &p.id.to_string()).await?;
        p.status = Status::Authorized.as_str().into();
        p.set_balances(b);
        p.settled_at = Some(now);
        p.updated_at = now;
        store::payments::update(tx, p).await?;
        let amount = Some(pb_money(p.money(p.amount_minor)));
        self.outbox
            .append(
                tx,
                &pb::PaymentAuthorized {
                    payment_id: p.id.to_string(),
                    order_id: p.order_id.to_string(),
                    method: pb_method(p.method()),
                    amount: amount.clone(),
                    authorized_at: Some(to_timestamp(now)),
                    ..Default::default()
                },
            )
            .await?;
        self.publish_captured(tx, p, &t).await?;
        self.publish_settled(tx, p, String::new()).await?;
        Ok(Moved {
            transaction: t,
            fresh: true,
        })
    }

    async fn open_plan(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
    ) -> Result<(), MoveFailure> {
        let parts = match installments::split(
            p.amount_minor,
            p.installment_count,
            self.config.installment_min_minor,
        ) {
            Ok(parts) => parts,
            Err(err) => {
                return self
                    .decline(tx, p, DeclineReason::PlanRejected, &err.to_string())
                    .await;
            }
        };
        let Some(token) = p.token.clone() else {
            return self
                .decline(
                    tx,
                    p,
                    DeclineReason::ProviderDeclined,
                    "the payment token is not a provider token",
                )
                .await;
        };
        let first = parts.first().copied().unwrap_or(0);
        // The provider vouches for the token with a hold on the first installment, which
        // is captured at once when the first installment falls due (now).
        let approval = match self
            .provider
            .authorize(
                // By the order, as the card hold is (see `authorize_hold`).
                &format!("{}:plan:1:try:1:auth", p.order_id),
                &token,
                p.money(first),
            )
            .await
        {
            Ok(approval) => approval,
            Err(err) => return self.refuse_authorization(tx, p, err).await,
        };
        let now = self.now();
        let plan = PlanRow {
            id: Uuid::now_v7(),
            payment_id: p.id,
            order_id: p.order_id,
            status: PlanStatus::Active.as_str().into(),
            count: p.installment_count,
            currency: p.currency.clone(),
            total_minor: p.amount_minor,
            created_at: now,
            closed_at: None,
        };
        let rows: Vec<InstallmentRow> = parts
            .iter()
            .zip(1..)
            .map(|(amount, number)| InstallmentRow {
                plan_id: plan.id,
                number,
                amount_minor: *amount,
                due_at: installments::due_at(now, number, self.config.installment_interval),
                status: InstallmentStatus::Scheduled.as_str().into(),
                captured_at: None,
                transaction_id: None,
                failed_attempts: 0,
            })
            .collect();
        plans::insert(tx, &plan, &rows).await?;
        for row in &rows {
            schedule_installment(tx, plan.id, row.number, 1, row.due_at).await?;
        }
        p.provider_reference = approval.reference.clone();
        self.accept(tx, p, Some(approval.reference), None).await
    }

    /// Charges installment `number` (attempt `attempt`) of a plan, when its timer fires.
    pub async fn charge_installment(
        &self,
        tx: &mut PgConnection,
        plan_id: Uuid,
        number: i32,
        attempt: i32,
    ) -> Result<(), MoveFailure> {
        let Some(plan) = plans::get(tx, plan_id, false).await? else {
            return Ok(());
        };
        let Some(mut p) =
            store::payments::get(tx, store::payments::Key::Id(plan.payment_id), true).await?
        else {
            return Ok(());
        };
        // Re-read under the payment lock: the plan may have changed meanwhile.
        let Some(plan) = plans::get(tx, plan_id, false).await? else {
            return Ok(());
        };
        let mut all = plans::installments(tx, plan_id).await?;
        let Some(mut inst) = all.iter().find(|i| i.number == number).cloned() else {
            return Ok(());
        };
        let open = matches!(
            InstallmentStatus::parse(&inst.status),
            Some(InstallmentStatus::Scheduled | InstallmentStatus::Overdue)
        );
        if PlanStatus::parse(&plan.status) != Some(PlanStatus::Active) || !open {
            return Ok(());
        }
        let key = format!("plan:{number}:try:{attempt}");
        if transactions::find(tx, p.id, &key).await?.is_some() {
            return Ok(());
        }
        let amount = p.money(inst.amount_minor);
        let provider_key = format!("{}:{key}", p.id);
        let charged = async {
            let hold = if number == 1 {
                p.provider_reference.clone()
            } else {
                let token = p.token.clone().unwrap_or_default();
                self.provider
                    .authorize(&format!("{provider_key}:auth"), &token, amount)
                    .await?
                    .reference
            };
            self.provider
                .capture(&format!("{provider_key}:cap"), &hold, amount)
                .await?;
            Ok::<_, CallError>(hold)
        }
        .await;
        let now = self.now();
        match charged {
            Ok(hold) => {
                let mut b = p.balances();
                let legs = ledger::post(&mut b, Movement::Capture(inst.amount_minor))?;
                let mut t = TransactionRow::new(
                    p.id,
                    TransactionKind::Capture,
                    inst.amount_minor,
                    key,
                    now,
                );
                t.provider_reference = hold;
                t.installment_number = number;
                transactions::insert(tx, &t, &p.currency, &legs).await?;
                inst.status = InstallmentStatus::Captured.as_str().into();
                inst.captured_at = Some(now);
                inst.transaction_id = Some(t.id);
                plans::update_installment(tx, &inst).await?;
                p.set_balances(b);
                p.updated_at = now;
                if let Some(slot) = all.iter_mut().find(|i| i.number == number) {
                    *slot = inst.clone();
                }
                let paid_off = all
                    .iter()
                    .all(|i| i.status == InstallmentStatus::Captured.as_str());
                if paid_off {
                    plans::set_status(tx, plan.id, PlanStatus::PaidOff.as_str(), Some(now)).await?;
                    tracing::info!(plan_id = %plan.id, "installment plan paid off");
                }
                let settle = p.settled_at.is_none();
                if settle {
                    p.settled_at = Some(now);
                }
                store::payments::update(tx, &p).await?;
                self.publish_captured(tx, &p, &t).await?;
                if settle {
                    // §2b: the first installment captured and the plan active settle the order.
                    self.publish_settled(tx, &p, plan.id.to_string()).await?;
                }
            }
            Err(err) => {
                let mut t = TransactionRow::new(
                    p.id,
                    TransactionKind::Capture,
                    inst.amount_minor,
                    key,
                    now,
                );
                t.status = FAILED.into();
                t.installment_number = number;
                t.failure_message = err.to_string();
                transactions::insert(tx, &t, &p.currency, &[]).await?;
                inst.failed_attempts += 1;
                inst.status = InstallmentStatus::Overdue.as_str().into();
                plans::update_installment(tx, &inst).await?;
                let defaulted = inst.failed_attempts >= self.config.installment_max_attempts;
                let retry_at = (!defaulted).then(|| now + self.config.installment_retry);
                let missed = pb::InstallmentMissed {
                    plan_id: plan.id.to_string(),
                    payment_id: p.id.to_string(),
                    order_id: p.order_id.to_string(),
                    number,
                    amount: Some(pb_money(amount)),
                    attempt,
                    reason: err.to_string(),
                    next_attempt_at: retry_at.map(to_timestamp),
                    defaulted,
                    missed_at: Some(to_timestamp(now)),
                };
                self.outbox.append(tx, &missed).await?;
                if let Some(retry_at) = retry_at {
                    schedule_installment(tx, plan.id, number, attempt + 1, retry_at).await?;
                    tracing::warn!(plan_id = %plan.id, number, attempt, error = %err, "installment missed; will retry");
                } else {
                    self.default_plan(tx, &mut p, &plan, number).await?;
                }
            }
        }
        Ok(())
    }

    async fn default_plan(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
        plan: &PlanRow,
        number: i32,
    ) -> Result<(), MoveFailure> {
        let now = self.now();
        plans::cancel_open(tx, plan.id).await?;
        plans::set_status(tx, plan.id, PlanStatus::Defaulted.as_str(), Some(now)).await?;
        let mut b = p.balances();
        if b.authorized > 0 {
            let amount = b.authorized;
            let legs = ledger::post(&mut b, Movement::WriteOff(amount))?;
            let mut t = TransactionRow::new(
                p.id,
                TransactionKind::WriteOff,
                amount,
                "plan:default".into(),
                now,
            );
            t.reason = format!("installment {number} missed after every retry");
            transactions::insert(tx, &t, &p.currency, &legs).await?;
            p.set_balances(b);
        }
        p.updated_at = now;
        store::payments::update(tx, p).await?;
        // Reported by the last `payments.installment.missed` (defaulted), the plan's status and
        // an error in the log.
        tracing::error!(plan_id = %plan.id, payment_id = %p.id, order_id = %p.order_id, number, "installment plan defaulted");
        Ok(())
    }

    /// Captures (part of) the open hold: a shipment's share, a pickup, or COD cash collected.
    pub async fn capture(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
        req: &MoveRequest,
    ) -> Result<Moved, MoveFailure> {
        if let Some(t) = transactions::find(tx, p.id, &req.key).await? {
            return Ok(Moved {
                transaction: t,
                fresh: false,
            });
        }
        Self::check_currency(p, req)?;
        self.refuse_unless_accepted(p, "captured")?;
        match p.method() {
            Method::Installments => {
                return Err(MoveFailure::Refused(
                    "installments are captured on the plan's schedule, not on request".into(),
                ));
            }
            Method::BankTransfer => {
                return Err(MoveFailure::Refused(
                    "a bank transfer is captured in full when it is confirmed".into(),
                ));
            }
            _ => {}
        }
        let mut b = p.balances();
        let amount = req.amount.unwrap_or(b.authorized);
        if b.authorized == 0 {
            return Err(MoveFailure::Refused(format!(
                "nothing left to capture: {} captured and {} voided of {}",
                b.captured, b.voided, b.amount
            )));
        }
        let legs = ledger::post(&mut b, Movement::Capture(amount))?;
        let now = self.now();
        let kind = if p.method() == Method::CashOnDelivery {
            TransactionKind::CashCollection
        } else {
            self.ensure_hold(tx, p).await?;
            self.provider
                .capture(
                    &format!("{}:{}", p.id, req.key),
                    &p.provider_reference,
                    p.money(amount),
                )
                .await?;
            TransactionKind::Capture
        };
        let mut t = TransactionRow::new(p.id, kind, amount, req.key.clone(), now);
        t.provider_reference = p.provider_reference.clone();
        t.shipment_id = req.shipment_id.clone();
        t.reason = req.reason.clone();
        transactions::insert(tx, &t, &p.currency, &legs).await?;
        p.set_balances(b);
        p.updated_at = now;
        let settle = p.settled_at.is_none() && b.fully_captured();
        if settle {
            p.settled_at = Some(now);
        }
        store::payments::update(tx, p).await?;
        self.publish_captured(tx, p, &t).await?;
        if settle {
            self.publish_settled(tx, p, String::new()).await?;
        }
        Ok(Moved {
            transaction: t,
            fresh: true,
        })
    }

    /// Releases (part of) the open hold. For a pending bank transfer, cancels it; for an
    /// installment plan, cancels the rest of the schedule.
    pub async fn void(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
        req: &MoveRequest,
    ) -> Result<Moved, MoveFailure> {
        if let Some(t) = transactions::find(tx, p.id, &req.key).await? {
            return Ok(Moved {
                transaction: t,
                fresh: false,
            });
        }
        Self::check_currency(p, req)?;
        let now = self.now();
        if p.status() == Status::Pending {
            // A bank transfer the customer no longer needs to make.
            let t = TransactionRow {
                reason: req.reason.clone(),
                ..TransactionRow::new(p.id, TransactionKind::Void, 0, req.key.clone(), now)
            };
            transactions::insert(tx, &t, &p.currency, &[]).await?;
            messaging::timers::cancel(tx, BANK_TRANSFER_DEADLINE, &p.id.to_string()).await?;
            p.status = Status::Voided.as_str().into();
            p.updated_at = now;
            store::payments::update(tx, p).await?;
            self.publish_voided(tx, p, &t).await?;
            return Ok(Moved {
                transaction: t,
                fresh: true,
            });
        }
        self.refuse_unless_accepted(p, "voided")?;
        let mut b = p.balances();
        if b.authorized == 0 {
            return Err(MoveFailure::Refused(format!(
                "nothing left to void: {} of {} was captured and {} voided already; refund \
                 captured money instead",
                b.captured, b.amount, b.voided
            )));
        }
        let amount = req.amount.unwrap_or(b.authorized);
        let plan = plans::for_payment(tx, p.id).await?;
        if plan.is_some() && amount != b.authorized {
            return Err(MoveFailure::Refused(
                "an installment plan is voided as a whole (the rest of its schedule)".into(),
            ));
        }
        let legs = ledger::post(&mut b, Movement::Void(amount))?;
        if p.method().uses_provider_hold() {
            self.provider
                .void(
                    &format!("{}:{}", p.id, req.key),
                    &p.provider_reference,
                    p.money(amount),
                )
                .await?;
        }
        if let Some(plan) = plan {
            plans::cancel_open(tx, plan.id).await?;
            plans::set_status(tx, plan.id, PlanStatus::Cancelled.as_str(), Some(now)).await?;
        }
        let mut t = TransactionRow::new(p.id, TransactionKind::Void, amount, req.key.clone(), now);
        t.provider_reference = p.provider_reference.clone();
        t.reason = req.reason.clone();
        transactions::insert(tx, &t, &p.currency, &legs).await?;
        p.set_balances(b);
        p.updated_at = now;
        // Voiding cancelled lines can complete what the captures had not.
        let settle =
            p.settled_at.is_none() && p.method() != Method::Installments && b.fully_captured();
        if settle {
            p.settled_at = Some(now);
        }
        store::payments::update(tx, p).await?;
        self.publish_voided(tx, p, &t).await?;
        if settle {
            self.publish_settled(tx, p, String::new()).await?;
        }
        Ok(Moved {
            transaction: t,
            fresh: true,
        })
    }

    /// Gives captured money back; never more than was captured and not yet refunded.
    pub async fn refund(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
        req: &MoveRequest,
    ) -> Result<Moved, MoveFailure> {
        if let Some(t) = transactions::find(tx, p.id, &req.key).await? {
            return Ok(Moved {
                transaction: t,
                fresh: false,
            });
        }
        Self::check_currency(p, req)?;
        let mut b = p.balances();
        if b.refundable() == 0 {
            return Err(MoveFailure::Refused(format!(
                "nothing to refund: {} captured, {} refunded already",
                b.captured, b.refunded
            )));
        }
        let amount = req.amount.unwrap_or(b.refundable());
        let legs = ledger::post(&mut b, Movement::Refund(amount))?;
        let now = self.now();
        let mut t =
            TransactionRow::new(p.id, TransactionKind::Refund, amount, req.key.clone(), now);
        t.reason = req.reason.clone();
        t.return_id = req.return_id.clone();
        t.case_id = req.case_id.clone();
        let mut parts = Vec::new();
        if matches!(
            p.method(),
            Method::Card | Method::Wallet | Method::Installments
        ) {
            // Back through the provider, on the holds the money was captured from.
            let mut left = amount;
            for (hold, available) in transactions::refundable_by_reference(tx, p.id).await? {
                let part = left.min(available);
                if part <= 0 {
                    continue;
                }
                self.provider
                    .refund(
                        &format!("{}:{}:{hold}", p.id, req.key),
                        &hold,
                        p.money(part),
                    )
                    .await?;
                parts.push((hold, part));
                left -= part;
            }
            if left > 0 {
                return Err(MoveFailure::Refused(format!(
                    "the provider holds only {} refundable",
                    amount - left
                )));
            }
        }
        // Cash on delivery and bank transfers are paid back outside the provider; the ledger
        // records that they are owed back from the moment of this refund.
        t.provider_reference = parts.first().map(|(h, _)| h.clone()).unwrap_or_default();
        transactions::insert(tx, &t, &p.currency, &legs).await?;
        for (hold, part) in &parts {
            transactions::allocate_refund(tx, t.id, hold, *part).await?;
        }
        p.set_balances(b);
        p.updated_at = now;
        store::payments::update(tx, p).await?;
        self.outbox
            .append(
                tx,
                &pb::PaymentRefunded {
                    payment_id: p.id.to_string(),
                    order_id: p.order_id.to_string(),
                    transaction_id: t.id.to_string(),
                    amount: Some(pb_money(p.money(amount))),
                    refunded_total: Some(pb_money(p.money(p.refunded_minor))),
                    return_id: t.return_id.clone(),
                    case_id: t.case_id.clone(),
                    reason: t.reason.clone(),
                    refunded_at: Some(to_timestamp(now)),
                },
            )
            .await?;
        self.metrics.refunded(p.method().as_str());
        Ok(Moved {
            transaction: t,
            fresh: true,
        })
    }

    fn check_currency(p: &PaymentRow, req: &MoveRequest) -> Result<(), MoveFailure> {
        match &req.currency {
            Some(c) if *c != p.currency => Err(MoveFailure::Refused(format!(
                "the amount is in {c} but payment {} is in {}",
                p.id, p.currency
            ))),
            _ => Ok(()),
        }
    }

    fn refuse_unless_accepted(&self, p: &PaymentRow, verb: &str) -> Result<(), MoveFailure> {
        match p.status() {
            Status::Pending => Err(MoveFailure::Refused(format!(
                "payment {} is still waiting for its bank transfer and cannot be {verb}",
                p.id
            ))),
            Status::Declined => Err(MoveFailure::Refused(format!(
                "payment {} was declined and cannot be {verb}",
                p.id
            ))),
            Status::Voided => Err(MoveFailure::Refused(format!(
                "payment {} was voided and cannot be {verb}",
                p.id
            ))),
            _ => Ok(()),
        }
    }

    /// Makes sure the hold a capture is about to use has not lapsed.
    async fn ensure_hold(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
    ) -> Result<(), MoveFailure> {
        let lapsed = p
            .authorization_expires_at
            .is_some_and(|at| at <= self.now());
        if lapsed {
            self.reauthorize(tx, p).await?;
        }
        Ok(())
    }

    /// Replaces the hold on the uncaptured rest with a fresh one. On failure the payment is
    /// flagged for an operator and the error returned.
    pub async fn reauthorize(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
    ) -> Result<(), MoveFailure> {
        let b = p.balances();
        if !p.method().uses_provider_hold()
            || b.authorized == 0
            || !matches!(p.status(), Status::Authorized | Status::PartiallyCaptured)
        {
            return Ok(());
        }
        let generation = p.reauthorizations + 1;
        let key = format!("{}:reauth:{generation}", p.id);
        let token = p.token.clone().unwrap_or_default();
        let now = self.now();
        match self
            .provider
            .authorize(&key, &token, p.money(b.authorized))
            .await
        {
            Ok(approval) => {
                let old = std::mem::replace(&mut p.provider_reference, approval.reference.clone());
                // Release the old hold; it would lapse anyway, so a failure is only logged.
                if let Err(err) = self
                    .provider
                    .void(&format!("{key}:release"), &old, p.money(b.authorized))
                    .await
                {
                    tracing::warn!(payment_id = %p.id, error = %err, "releasing the replaced hold failed");
                }
                let mut t = TransactionRow::new(
                    p.id,
                    TransactionKind::Reauthorization,
                    b.authorized,
                    format!("reauth:{generation}"),
                    now,
                );
                t.provider_reference = approval.reference;
                transactions::insert(tx, &t, &p.currency, &[]).await?;
                p.authorization_expires_at = approval.expires_at;
                p.reauthorizations = generation;
                p.authorization_flag = None;
                p.updated_at = now;
                self.schedule_reauthorization(tx, p).await?;
                store::payments::update(tx, p).await?;
                tracing::info!(payment_id = %p.id, generation, "authorization renewed");
                Ok(())
            }
            Err(err) => {
                p.authorization_flag = Some(format!("re-authorization failed: {err}"));
                p.updated_at = now;
                store::payments::update(tx, p).await?;
                tracing::warn!(payment_id = %p.id, error = %err, "re-authorization failed; payment flagged");
                Err(err.into())
            }
        }
    }

    async fn schedule_reauthorization(
        &self,
        tx: &mut PgConnection,
        p: &PaymentRow,
    ) -> Result<(), sqlx::Error> {
        if let Some(expires_at) = p.authorization_expires_at {
            messaging::timers::schedule(
                tx,
                REAUTHORIZE,
                &format!("{}:{}", p.id, p.reauthorizations),
                expires_at - self.config.reauthorize_before,
                &serde_json::json!({ "payment_id": p.id, "generation": p.reauthorizations }),
            )
            .await?;
        }
        Ok(())
    }

    async fn publish_captured(
        &self,
        tx: &mut PgConnection,
        p: &PaymentRow,
        t: &TransactionRow,
    ) -> Result<(), sqlx::Error> {
        self.outbox
            .append(
                tx,
                &pb::PaymentCaptured {
                    payment_id: p.id.to_string(),
                    order_id: p.order_id.to_string(),
                    transaction_id: t.id.to_string(),
                    method: pb_method(p.method()),
                    amount: Some(pb_money(p.money(t.amount_minor))),
                    captured_total: Some(pb_money(p.money(p.captured_minor))),
                    shipment_id: t.shipment_id.clone(),
                    installment_number: t.installment_number,
                    captured_at: Some(to_timestamp(t.created_at)),
                },
            )
            .await?;
        Ok(())
    }

    async fn publish_voided(
        &self,
        tx: &mut PgConnection,
        p: &PaymentRow,
        t: &TransactionRow,
    ) -> Result<(), sqlx::Error> {
        self.outbox
            .append(
                tx,
                &pb::PaymentVoided {
                    payment_id: p.id.to_string(),
                    order_id: p.order_id.to_string(),
                    transaction_id: t.id.to_string(),
                    amount: Some(pb_money(p.money(t.amount_minor))),
                    voided_total: Some(pb_money(p.money(p.voided_minor))),
                    reason: t.reason.clone(),
                    voided_at: Some(to_timestamp(t.created_at)),
                },
            )
            .await?;
        Ok(())
    }

    async fn publish_settled(
        &self,
        tx: &mut PgConnection,
        p: &PaymentRow,
        plan_id: String,
    ) -> Result<(), sqlx::Error> {
        self.outbox
            .append(
                tx,
                &pb::OrderSettled {
                    order_id: p.order_id.to_string(),
                    payment_id: p.id.to_string(),
                    method: pb_method(p.method()),
                    captured_total: Some(pb_money(p.money(p.captured_minor))),
                    installment_plan_id: plan_id,
                    settled_at: p.settled_at.map(to_timestamp),
                },
            )
            .await?;
        tracing::info!(payment_id = %p.id, order_id = %p.order_id, "order settled");
        Ok(())
    }
}

async fn schedule_installment(
    tx: &mut PgConnection,
    plan_id: Uuid,
    number: i32,
    attempt: i32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // A key per attempt: a timer cannot move itself from inside its own firing.
    messaging::timers::schedule(
        tx,
        INSTALLMENT_DUE,
        &format!("{plan_id}:{number}:{attempt}"),
        at,
        &serde_json::json!({ "plan_id": plan_id, "number": number, "attempt": attempt }),
    )
    .await
}

pub fn pb_instructions(i: &Instructions, amount: Money) -> pb::BankTransferInstructions {
    pb::BankTransferInstructions {
        beneficiary_name: i.beneficiary_name.clone(),
        iban: i.iban.clone(),
        bic: i.bic.clone(),
        reference: i.reference.clone(),
        amount: Some(pb_money(amount)),
        pay_by: Some(to_timestamp(i.pay_by)),
    }
}
