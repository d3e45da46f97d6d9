//! Amendments: an order update after confirmation changed the order's total, and orders asks
//! that "from now on the payment covers `amount`" (`orders.payment.amend_requested`).
//!
//! | payment | more | less |
//! |---|---|---|
//! | card, wallet: authorized, nothing captured | the provider raises the hold by the difference (incremental authorization; may be declined) | the difference is voided, as a partial void |
//! | cash on delivery: accepted, nothing collected | the amount to collect grows, up to the COD limit | the difference is voided |
//! | anything else: bank transfer, installments, captured, voided, declined, unknown | declined with the reason | declined with the reason |
//!
//! The payment's amount becomes the new one ([`Balances::amend`]), so GetPayment, the
//! captures and the settlement all go by it. Each (payment, update, compensation) is amended
//! once: its outcome is stored and a repeated request is answered with it again, changing
//! nothing. A request that cannot be carried out is answered with `PaymentAmendDeclined`
//! rather than retried; the one exception is a provider outage while voiding a decrease,
//! which is retried — orders has applied a lower total already and never hears "no" to it.
//!
//! [`Balances::amend`]: crate::domain::payment::Balances::amend

use contracts::payments as pb;
use contracts::time::to_timestamp;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{MoveFailure, MoveRequest, Movements, pb_decline, pb_method, pb_money};
use crate::domain::ledger::{self, Movement};
use crate::domain::payment::{Amendment, DeclineReason, Method, Status, TransactionKind};
use crate::store;
use crate::store::amendments::{self, AMENDED, AmendmentRow, DECLINED};
use crate::store::payments::{Key, PaymentRow};
use crate::store::transactions::{self, TransactionRow};

/// orders' request as it came; checked here, since every fault is answered, not dropped.
#[derive(Debug, Clone, Default)]
pub struct AmendRequest {
    pub order_id: String,
    pub payment_id: String,
    pub update_id: String,
    /// (currency code, minor units); None when the request carries no amount.
    pub amount: Option<(String, i64)>,
    /// Puts back an earlier amendment of the same update; echoed in the answer.
    pub compensation: bool,
}

/// Why an amendment is declined: a reason of the contract's list when one fits, and words.
struct Decline(Option<DeclineReason>, String);

/// What a carried-out amendment did.
#[derive(Default)]
struct Done {
    transaction_id: Option<Uuid>,
    provider_reference: String,
}

impl Movements {
    /// Amends the order's payment (or finds it amended under the same update) and answers
    /// with `payments.payment.amended` or `.amend_declined`.
    pub async fn amend(
        &self,
        tx: &mut PgConnection,
        req: &AmendRequest,
    ) -> Result<(), MoveFailure> {
        let mut p = match self.payment_to_amend(tx, req).await? {
            Ok(p) => p,
            Err(message) => {
                // No payment to key an outcome on; asked again, it is answered the same.
                tracing::warn!(order_id = %req.order_id, update_id = %req.update_id, reason = %message, "amendment declined");
                self.outbox
                    .append(
                        tx,
                        &pb::PaymentAmendDeclined {
                            payment_id: req.payment_id.clone(),
                            order_id: req.order_id.clone(),
                            update_id: req.update_id.clone(),
                            reason: pb::DeclineReason::Unspecified as i32,
                            message,
                            declined_at: Some(to_timestamp(self.now())),
                        },
                    )
                    .await?;
                return Ok(());
            }
        };
        let row = match amendments::find(tx, p.id, &req.update_id, req.compensation).await? {
            Some(row) => {
                tracing::info!(payment_id = %p.id, update_id = %req.update_id, compensation = req.compensation, "amendment asked again; answered as before");
                row
            }
            None => {
                let row = self.carry_out(tx, &mut p, req).await?;
                amendments::insert(tx, &row).await?;
                let outcome = if row.outcome == AMENDED {
                    tracing::info!(payment_id = %p.id, update_id = %req.update_id, amount = row.amount_minor, previous = row.previous_amount_minor, "payment amended");
                    "amended"
                } else {
                    tracing::warn!(payment_id = %p.id, update_id = %req.update_id, reason = %row.message, "amendment declined");
                    "declined"
                };
                self.metrics.amended(p.method().as_str(), outcome);
                row
            }
        };
        self.publish_amendment(tx, &p, &row).await?;
        Ok(())
    }

    /// The order's payment, locked; or why there is none to amend.
    async fn payment_to_amend(
        &self,
        tx: &mut PgConnection,
        req: &AmendRequest,
    ) -> Result<Result<PaymentRow, String>, sqlx::Error> {
        let Ok(order) = Uuid::parse_str(&req.order_id) else {
            return Ok(Err(format!("order_id {:?} is not a UUID", req.order_id)));
        };
        if req.update_id.trim().is_empty() {
            return Ok(Err("the request names no update (update_id)".into()));
        }
        store::parked::lock_order(tx, order).await?;
        Ok(
            match store::payments::get(tx, Key::Order(order), true).await? {
                None => Err(format!("order {order} has no payment")),
                Some(p) if !req.payment_id.is_empty() && req.payment_id != p.id.to_string() => {
                    Err(format!(
                        "payment {} is not the payment of order {order}",
                        req.payment_id
                    ))
                }
                Some(p) => Ok(p),
            },
        )
    }

    /// Carries the amendment out, or declines it; the outcome to store either way.
    async fn carry_out(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
        req: &AmendRequest,
    ) -> Result<AmendmentRow, MoveFailure> {
        let now = self.now();
        let mut row = AmendmentRow {
            payment_id: p.id,
            update_id: req.update_id.clone(),
            compensation: req.compensation,
            outcome: AMENDED.into(),
            currency: p.currency.clone(),
            amount_minor: req.amount.as_ref().map_or(0, |(_, minor)| *minor),
            previous_amount_minor: p.balances().covered(),
            decline_reason: None,
            message: String::new(),
            provider_reference: String::new(),
            transaction_id: None,
            created_at: now,
        };
        match self.change_amount(tx, p, req).await? {
            Ok(done) => {
                row.transaction_id = done.transaction_id;
                row.provider_reference = done.provider_reference;
            }
            Err(Decline(reason, message)) => {
                row.outcome = DECLINED.into();
                row.decline_reason = reason.map(|r| r.as_str().to_owned());
                row.message = message;
            }
        }
        Ok(row)
    }

    async fn change_amount(
        &self,
        tx: &mut PgConnection,
        p: &mut PaymentRow,
        req: &AmendRequest,
    ) -> Result<Result<Done, Decline>, MoveFailure> {
        let target = match &req.amount {
            None => return Ok(Err(Decline(None, "the request carries no amount".into()))),
            Some((currency, _)) if *currency != p.currency => {
                return Ok(Err(Decline(
                    None,
                    format!(
                        "the amount is in {currency} but payment {} is in {}",
                        p.id, p.currency
                    ),
                )));
            }
            Some((_, minor)) => *minor,
        };
        if let Some(decline) = self.not_amendable(p, target) {
            return Ok(Err(decline));
        }
        let mut b = p.balances();
        let change = match b.amend(target) {
            Ok(change) => change,
            Err(err) => return Ok(Err(Decline(None, err.to_string()))),
        };
        let key = format!(
            "amend:{}:{}",
            req.update_id,
            if req.compensation {
                "compensation"
            } else {
                "request"
            }
        );
        let reason = if req.compensation {
            format!("order update {} put back", req.update_id)
        } else {
            format!("order update {}", req.update_id)
        };
        let now = self.now();
        match change {
            Amendment::Unchanged => {
                p.set_balances(b);
                p.updated_at = now;
                store::payments::update(tx, p).await?;
                Ok(Ok(Done::default()))
            }
            Amendment::Decrease(difference) => {
                // The re-based balances go in with the void, which releases the difference
                // exactly as orders' void of cancelled lines would.
                p.set_balances(b);
                let request = MoveRequest {
                    key,
                    amount: Some(difference),
                    reason,
                    ..MoveRequest::default()
                };
                match self.void(tx, p, &request).await {
                    Ok(moved) => Ok(Ok(Done {
                        transaction_id: Some(moved.transaction.id),
                        provider_reference: String::new(),
                    })),
                    Err(err @ MoveFailure::Unavailable(_)) => Err(err),
                    Err(err) => declined(err).map(Err),
                }
            }
            Amendment::Increase(difference) => {
                let mut provider_reference = String::new();
                if p.method().uses_provider_hold() {
                    let raised = async {
                        self.ensure_hold(tx, p).await?;
                        let approval = self
                            .provider
                            .increment(
                                &format!("{}:{key}", p.id),
                                &p.provider_reference,
                                p.money(difference),
                            )
                            .await?;
                        Ok::<_, MoveFailure>(approval.reference)
                    }
                    .await;
                    match raised {
                        Ok(reference) => provider_reference = reference,
                        Err(err) => {
                            let Decline(reason, why) = declined(err)?;
                            let message = format!(
                                "the increase to {} was not authorized: {why}",
                                p.money(target)
                            );
                            return Ok(Err(Decline(reason, message)));
                        }
                    }
                }
                let legs = ledger::post(&mut b, Movement::Authorize(difference))?;
                let mut t =
                    TransactionRow::new(p.id, TransactionKind::Authorization, difference, key, now);
                t.provider_reference = provider_reference.clone();
                t.reason = reason;
                transactions::insert(tx, &t, &p.currency, &legs).await?;
                p.set_balances(b);
                p.updated_at = now;
                store::payments::update(tx, p).await?;
                Ok(Ok(Done {
                    transaction_id: Some(t.id),
                    provider_reference,
                }))
            }
        }
    }

    /// Why this payment cannot cover `target`, if it cannot: only an accepted card, wallet or
    /// cash-on-delivery payment with nothing captured changes its amount.
    fn not_amendable(&self, p: &PaymentRow, target: i64) -> Option<Decline> {
        let id = p.id;
        let refused = |reason, message: String| Some(Decline(reason, message));
        match p.method() {
            Method::BankTransfer => {
                return refused(
                    Some(DeclineReason::MethodNotAllowed),
                    format!(
                        "payment {id} is a bank transfer of a fixed amount; it cannot be amended \
                         (a difference is refunded or paid separately)"
                    ),
                );
            }
            Method::Installments => {
                return refused(
                    Some(DeclineReason::MethodNotAllowed),
                    format!(
                        "payment {id} is an installment plan split over the order total when it \
                         was accepted; it cannot be amended"
                    ),
                );
            }
            Method::Card | Method::Wallet | Method::CashOnDelivery => {}
        }
        match p.status() {
            Status::Authorized => {}
            Status::Declined => {
                return refused(None, format!("payment {id} was declined; nothing to amend"));
            }
            Status::Voided => {
                return refused(
                    None,
                    format!("payment {id} was voided (its order was cancelled); nothing to amend"),
                );
            }
            Status::Pending => {
                return refused(
                    None,
                    format!("payment {id} is not accepted yet; nothing to amend"),
                );
            }
            Status::PartiallyCaptured
            | Status::Captured
            | Status::PartiallyRefunded
            | Status::Refunded => {
                return refused(
                    None,
                    format!(
                        "{} of payment {id} was captured already; a payment is amended only \
                         before its first capture",
                        p.money(p.captured_minor)
                    ),
                );
            }
        }
        if p.method() == Method::CashOnDelivery && target > self.config.cod_limit_minor {
            return refused(
                Some(DeclineReason::MethodNotAllowed),
                format!(
                    "cash on delivery is limited to {} minor units",
                    self.config.cod_limit_minor
                ),
            );
        }
        None
    }

    async fn publish_amendment(
        &self,
        tx: &mut PgConnection,
        p: &PaymentRow,
        row: &AmendmentRow,
    ) -> Result<(), sqlx::Error> {
        if row.outcome == AMENDED {
            self.outbox
                .append(
                    tx,
                    &pb::PaymentAmended {
                        payment_id: p.id.to_string(),
                        order_id: p.order_id.to_string(),
                        update_id: row.update_id.clone(),
                        method: pb_method(p.method()),
                        amount: Some(pb_money(p.money(row.amount_minor))),
                        previous_amount: Some(pb_money(p.money(row.previous_amount_minor))),
                        compensation: row.compensation,
                        provider_reference: row.provider_reference.clone(),
                        amended_at: Some(to_timestamp(row.created_at)),
                    },
                )
                .await?;
        } else {
            let reason = row
                .decline_reason
                .as_deref()
                .and_then(DeclineReason::parse)
                .map_or(pb::DeclineReason::Unspecified as i32, pb_decline);
            self.outbox
                .append(
                    tx,
                    &pb::PaymentAmendDeclined {
                        payment_id: p.id.to_string(),
                        order_id: p.order_id.to_string(),
                        update_id: row.update_id.clone(),
                        reason,
                        message: row.message.clone(),
                        declined_at: Some(to_timestamp(row.created_at)),
                    },
                )
                .await?;
        }
        Ok(())
    }
}

/// A failed movement as a decline: refusals and provider answers are; database errors are
/// not (they are retried).
fn declined(err: MoveFailure) -> Result<Decline, MoveFailure> {
    match err {
        MoveFailure::Refused(why) => Ok(Decline(None, why)),
        MoveFailure::Declined(why) => Ok(Decline(Some(DeclineReason::ProviderDeclined), why)),
        MoveFailure::Unavailable(why) => Ok(Decline(Some(DeclineReason::ProviderUnavailable), why)),
        MoveFailure::Store(err) => Err(MoveFailure::Store(err)),
    }
}
