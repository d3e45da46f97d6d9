//! The update saga: an order update after confirmation, carried out with the services that
//! hold a copy of the order before orders applies it (the route and step order are
//! [`crate::domain::updates`]'s).
//!
//! 1. inventory reserves the added units (`orders.reservation.amend_requested`);
//! 2. payments covers a higher total (`orders.payment.amend_requested`);
//! 3. fulfillment takes the new lines and address if picking has not started
//!    (`orders.fulfillment.amend_requested`) — the point of no return;
//! 4. orders applies the update (lines, totals, address, the units it holds, its version),
//!    publishes `orders.order.updated`, and gives back what the order no longer needs: the
//!    exact units released, and a lower total voided (`payment.amend_requested`) or, for a
//!    received bank transfer, refunded.
//!
//! A refusal at any step puts the earlier ones back (the added units released, a raised
//! authorization amended back down) and records why. Every answer is matched to the update it
//! names and to the step the update is at, so duplicates and late answers change nothing; an
//! answer for an order that was cancelled or moved on meanwhile is put back as a refusal would
//! be. All of it runs in the consumer's (or the RPC's) transaction, with the outbox.

use chrono::{DateTime, Utc};
use contracts::Event;
use contracts::common::Allocation as AllocationPb;
use contracts::orders as pb;
use contracts::time::to_timestamp;
use messaging::timers;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::convert::{address_pb, customer_pb, lines_pb, mode_parts, money_pb};
use crate::domain::updates::Step;
use crate::domain::{Fulfillment, Money, Order, OrderStatus, PaymentMethod};
use crate::invoices;
use crate::store::saga::{Allocation, SagaRow};
use crate::store::updates::UpdateRow;
use crate::store::{self, timeline};
use crate::updates::{Applied, merge_units};
use crate::workflow::{Who, Workflow, WorkflowError};

pub const IN_PROGRESS: &str = "IN_PROGRESS";
pub const APPLIED: &str = "APPLIED";
pub const REFUSED: &str = "REFUSED";

/// What another service answered for an update's step.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Inventory reserved the added units.
    StockAdded(Vec<Allocation>),
    /// Payments covers the new amount (`compensation`: it was putting an increase back).
    PaymentAmended { compensation: bool },
    /// Fulfillment took the new lines and address.
    FulfillmentAmended,
    /// The step's service refused, with why.
    Refused(Step, String),
}

impl Answer {
    fn step(&self) -> Option<Step> {
        match self {
            Self::StockAdded(_) => Some(Step::Stock),
            Self::PaymentAmended {
                compensation: false,
            } => Some(Step::Payment),
            Self::PaymentAmended { compensation: true } => None,
            Self::FulfillmentAmended => Some(Step::Fulfillment),
            Self::Refused(step, _) => Some(*step),
        }
    }
}

/// One update's saga, with the order as it is now (locked) and as the update leaves it.
struct Run<'a> {
    wf: &'a Workflow,
    update: UpdateRow,
    applied: Applied,
    order: Order,
    after: Order,
    row: SagaRow,
    who: Who,
    now: DateTime<Utc>,
    event_id: Option<Uuid>,
}

/// Starts an update recorded IN_PROGRESS at its first step (in the RPC's transaction).
pub async fn start(
    tx: &mut PgConnection,
    wf: &Workflow,
    update_id: Uuid,
) -> Result<(), WorkflowError> {
    let Some(run) = Run::load(tx, wf, update_id, None).await? else {
        return Ok(());
    };
    let step = run
        .update
        .step
        .as_deref()
        .and_then(Step::parse)
        .unwrap_or(Step::Fulfillment);
    run.request(tx, step).await
}

/// Takes a service's answer for update `update_id`.
pub async fn answer(
    tx: &mut PgConnection,
    wf: &Workflow,
    update_id: &str,
    answer: Answer,
    event_id: Uuid,
) -> Result<(), WorkflowError> {
    let Ok(update_id) = Uuid::parse_str(update_id) else {
        tracing::warn!(update_id, "an answer names no update of ours");
        return Ok(());
    };
    let Some(mut run) = Run::load(tx, wf, update_id, Some(event_id)).await? else {
        tracing::warn!(%update_id, "an answer for an unknown update");
        return Ok(());
    };
    let at = run.update.step.as_deref().and_then(Step::parse);
    let waiting = run.update.state == IN_PROGRESS && at.is_some() && at == answer.step();
    if !waiting {
        // A duplicate, a compensation's answer, or an answer after the update ended. Units
        // reserved for an update refused meanwhile go back (never for an applied one: its
        // units are the order's).
        match (&answer, run.update.state.as_str()) {
            (Answer::StockAdded(units), REFUSED) => {
                run.release(tx, units, "units reserved after the update ended released")
                    .await?;
            }
            (Answer::Refused(Step::Payment, why), APPLIED) => {
                // The give-back of a lower total was declined: the hold stays above the total.
                tracing::warn!(%update_id, why, "payments kept the difference of an applied update");
                run.note(
                    tx,
                    "orders.update.payment_not_released",
                    format!("update: payments did not release the difference: {why}"),
                    None,
                )
                .await?;
            }
            _ => {}
        }
        tracing::info!(%update_id, state = %run.update.state, ?answer, "answer not awaited");
        return Ok(());
    }
    if let Answer::StockAdded(units) = &answer {
        run.update.added_units.0.clone_from(units);
    }
    if let Answer::Refused(step, why) = &answer {
        let why = format!("{} refused: {why}", step_service(*step));
        return run.refuse(tx, &why).await;
    }
    // Once fulfillment took the update it is applied whatever happened since (the warehouse
    // works the new lines) — unless the order ended, in which case its cancellation stopped
    // the warehouse and released what the order held, and only the added units remain.
    let pivot_done = at == Some(Step::Fulfillment);
    if let Some(why) = run.moved_on(pivot_done) {
        return run.refuse(tx, &why).await;
    }
    let adds = run.update.stock_changes.0.iter().any(|c| c.quantity > 0);
    let raises = run.raises_total();
    match Step::next(at, adds, raises) {
        Some(next) => {
            store::updates::set_step(tx, update_id, next.as_str(), &run.update.added_units.0)
                .await?;
            run.request(tx, next).await
        }
        None => run.apply(tx).await,
    }
}

/// The durable timer that asks an update's current step again.
pub const UPDATE_RETRY: &str = "orders.update_retry";

/// An update's request got no answer in time: asked again if the update still waits at the
/// same step after the same number of requests (an answer or a later request makes it moot).
pub async fn retry(
    tx: &mut PgConnection,
    wf: &Workflow,
    payload: &serde_json::Value,
) -> Result<(), WorkflowError> {
    let Some(update_id) = payload["update_id"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
    else {
        return Ok(());
    };
    let Some(run) = Run::load(tx, wf, update_id, None).await? else {
        return Ok(());
    };
    let step = run.update.step.as_deref().and_then(Step::parse);
    let same = run.update.state == IN_PROGRESS
        && step.map(Step::as_str) == payload["step"].as_str()
        && payload["attempts"].as_i64() == Some(i64::from(run.update.attempts));
    let Some(step) = step.filter(|_| same) else {
        return Ok(());
    };
    tracing::warn!(%update_id, step = step.as_str(), attempts = run.update.attempts, "no answer to an update's request: asking again");
    run.request(tx, step).await
}

fn step_service(step: Step) -> &'static str {
    match step {
        Step::Stock => "inventory",
        Step::Payment => "payments",
        Step::Fulfillment => "fulfillment",
    }
}

impl<'a> Run<'a> {
    async fn load(
        tx: &mut PgConnection,
        wf: &'a Workflow,
        update_id: Uuid,
        event_id: Option<Uuid>,
    ) -> Result<Option<Run<'a>>, WorkflowError> {
        let Some(found) = store::updates::get(tx, update_id).await? else {
            return Ok(None);
        };
        // The order's lock first, as everywhere, then the update's.
        let Some(row) = store::saga::lock(tx, found.order_id).await? else {
            return Ok(None);
        };
        let Some(update) = store::updates::lock(tx, update_id).await? else {
            return Ok(None);
        };
        let Some(order) = store::orders::get(tx, update.order_id).await? else {
            return Ok(None);
        };
        let applied = update
            .applied
            .as_ref()
            .map(|a| a.0.clone())
            .unwrap_or(Applied {
                customer: None,
                address: None,
                priced: None,
            });
        let after = applied.order_after(&order);
        let who = if event_id.is_some() {
            Who::service("orders")
        } else {
            Who {
                id: update.actor_id.clone(),
                kind: actor_kind(&update.actor_type),
            }
        };
        Ok(Some(Run {
            wf,
            now: wf.clock.now(),
            update,
            applied,
            order,
            after,
            row,
            who,
            event_id,
        }))
    }

    fn raises_total(&self) -> bool {
        self.update.total_after_minor > self.update.total_before_minor
    }

    /// Why the update can no longer be applied, if the order moved on while it ran (after
    /// fulfillment's yes only an ended order stops it).
    fn moved_on(&self, pivot_done: bool) -> Option<String> {
        let status = self.order.status;
        let gone = if pivot_done {
            matches!(
                status,
                OrderStatus::Cancelled | OrderStatus::Rejected | OrderStatus::Completed
            )
        } else {
            self.row.shipped_any
                || !matches!(status, OrderStatus::Confirmed | OrderStatus::InFulfillment)
        };
        if gone {
            return Some(format!(
                "the order became {} meanwhile",
                status.as_str().to_lowercase().replace('_', " ")
            ));
        }
        None
    }

    fn reservation_id(&self) -> String {
        self.row
            .reservation_id
            .map(|r| r.to_string())
            .unwrap_or_default()
    }

    fn money(&self, minor: i64) -> contracts::common::Money {
        money_pb(Money::new(self.order.total.currency, minor))
    }

    /// Writes `event` to the outbox and notes it on the order's timeline.
    async fn emit<E: Event>(
        &self,
        tx: &mut PgConnection,
        event: &E,
        summary: String,
    ) -> Result<(), WorkflowError> {
        let event_id = self.wf.outbox.append(tx, event).await?;
        self.note(tx, E::SUBJECT, summary, Some(event_id)).await
    }

    async fn note(
        &self,
        tx: &mut PgConnection,
        kind: &str,
        summary: String,
        event_id: Option<Uuid>,
    ) -> Result<(), WorkflowError> {
        timeline::append(
            tx,
            timeline::Entry {
                order_id: self.order.id,
                occurred_at: self.now,
                kind,
                summary,
                actor_id: &self.who.id,
                actor_type: self.who.kind,
                reason: Some(&self.update.reason),
                status_before: None,
                status_after: None,
                event_id: event_id.or(self.event_id),
            },
        )
        .await?;
        Ok(())
    }

    /// Asks the service of `step` for its part, and sets the timer that asks again if no
    /// answer comes ([`retry`]).
    async fn request(&self, tx: &mut PgConnection, step: Step) -> Result<(), WorkflowError> {
        self.ask(tx, step).await?;
        let attempts = self.update.attempts + 1;
        store::updates::set_attempts(tx, self.update.id, attempts).await?;
        let after = chrono::Duration::from_std(self.wf.config.update_retry)
            .unwrap_or(chrono::Duration::minutes(10));
        timers::schedule(
            tx,
            UPDATE_RETRY,
            &format!("{}:{attempts}", self.update.id),
            self.now + after,
            &serde_json::json!({ "update_id": self.update.id, "step": step.as_str(), "attempts": attempts }),
        )
        .await?;
        Ok(())
    }

    /// Sends the request of `step`.
    async fn ask(&self, tx: &mut PgConnection, step: Step) -> Result<(), WorkflowError> {
        let order_id = self.order.id.to_string();
        let update_id = self.update.id.to_string();
        let ts = Some(to_timestamp(self.now));
        match step {
            Step::Stock => {
                let (_, pickup_store_id, _) = mode_parts(&self.after);
                let (country, region) = match &self.after.fulfillment {
                    Fulfillment::Ship { address } => {
                        (address.country_code.clone(), address.region.clone())
                    }
                    Fulfillment::StorePickup { .. } => (String::new(), String::new()),
                };
                let event = pb::ReservationAmendRequested {
                    order_id,
                    reservation_id: self.reservation_id(),
                    update_id,
                    lines: self
                        .update
                        .stock_changes
                        .0
                        .iter()
                        .filter(|c| c.quantity > 0)
                        .map(|c| pb::ReservationLine {
                            line_id: c.line_id.clone(),
                            sku: c.sku.clone(),
                            quantity: c.quantity,
                        })
                        .collect(),
                    allow_split: pickup_store_id.is_empty(),
                    pickup_store_id,
                    ship_to_country_code: country,
                    ship_to_region: region,
                    requested_at: ts,
                };
                self.emit(tx, &event, "update: added units requested".into())
                    .await
            }
            Step::Payment => {
                let event = self.payment_amend(self.update.total_after_minor, false);
                self.emit(
                    tx,
                    &event,
                    format!(
                        "update: payment of {} requested",
                        Money::new(self.order.total.currency, self.update.total_after_minor)
                    ),
                )
                .await
            }
            Step::Fulfillment => {
                let units = merge_units(&self.update.kept_units.0, &self.update.added_units.0);
                let (_, _, shipping_address) = mode_parts(&self.after);
                let event = pb::FulfillmentAmendRequested {
                    order_id,
                    update_id,
                    lines: lines_pb(&self.after),
                    allocations: units.iter().map(allocation_pb).collect(),
                    shipping_address,
                    customer: Some(customer_pb(&self.after.customer)),
                    collect_cash_on_delivery: self.order.payment_method
                        == PaymentMethod::CashOnDelivery,
                    requested_at: ts,
                };
                self.emit(tx, &event, "update: fulfilment asked to change".into())
                    .await
            }
        }
    }

    fn payment_amend(&self, amount: i64, compensation: bool) -> pb::PaymentAmendRequested {
        let previous = if compensation {
            self.update.total_after_minor
        } else {
            self.update.total_before_minor
        };
        pb::PaymentAmendRequested {
            order_id: self.order.id.to_string(),
            payment_id: self.row.payment_id.clone().unwrap_or_default(),
            update_id: self.update.id.to_string(),
            amount: Some(self.money(amount)),
            previous_amount: Some(self.money(previous)),
            compensation,
            requested_at: Some(to_timestamp(self.now)),
        }
    }

    async fn release(
        &self,
        tx: &mut PgConnection,
        units: &[Allocation],
        summary: &str,
    ) -> Result<(), WorkflowError> {
        if units.is_empty() {
            return Ok(());
        }
        let event = pb::ReservationReleaseRequested {
            order_id: self.order.id.to_string(),
            reservation_id: self.reservation_id(),
            lines: Vec::new(),
            reason: pb::CancelReason::Unspecified.into(),
            requested_at: Some(to_timestamp(self.now)),
            allocations: units.iter().map(allocation_pb).collect(),
            update_id: self.update.id.to_string(),
        };
        self.emit(tx, &event, summary.to_owned()).await
    }

    /// Puts back what the update's earlier steps did, and records why it was refused.
    async fn refuse(&self, tx: &mut PgConnection, why: &str) -> Result<(), WorkflowError> {
        self.release(
            tx,
            &self.update.added_units.0,
            "update refused: added units released",
        )
        .await?;
        let at = self.update.step.as_deref().and_then(Step::parse);
        // The increase was asked (and perhaps granted) once the saga went past the payment step.
        if self.raises_total() && matches!(at, Some(Step::Payment | Step::Fulfillment)) {
            let event = self.payment_amend(self.update.total_before_minor, true);
            self.emit(tx, &event, "update refused: payment put back".into())
                .await?;
        }
        store::updates::finish(tx, self.update.id, REFUSED, Some(why), self.now).await?;
        self.note(
            tx,
            "orders.update.refused",
            format!("update refused: {why}"),
            None,
        )
        .await?;
        tracing::info!(order_id = %self.order.id, update_id = %self.update.id, why, "update refused");
        Ok(())
    }

    /// Everything agreed: applies the update and gives back what the order no longer needs.
    async fn apply(&self, tx: &mut PgConnection) -> Result<(), WorkflowError> {
        let version = store::updates::write(tx, self.order.id, &self.applied, self.now).await?;
        let units = merge_units(&self.update.kept_units.0, &self.update.added_units.0);
        store::saga::set_allocations(tx, self.order.id, &units).await?;
        store::updates::finish(tx, self.update.id, APPLIED, None, self.now).await?;
        published_updated(tx, self.wf, &self.update, &self.after, version, self.now).await?;
        self.note(
            tx,
            "orders.update.applied",
            format!("update applied: {}", self.update.summary),
            None,
        )
        .await?;
        self.release(
            tx,
            &self.update.released_units.0,
            "update: units no longer needed released",
        )
        .await?;
        let lower = self.update.total_before_minor - self.update.total_after_minor;
        if lower > 0 {
            if self.order.payment_method == PaymentMethod::BankTransfer {
                let event = pb::PaymentRefundRequested {
                    order_id: self.order.id.to_string(),
                    payment_id: self.row.payment_id.clone().unwrap_or_default(),
                    amount: Some(self.money(lower)),
                    reason: pb::RefundReason::OrderUpdated.into(),
                    return_id: String::new(),
                    case_id: String::new(),
                    requested_by: self.update.actor_id.clone(),
                    note: self.update.reason.clone(),
                    requested_at: Some(to_timestamp(self.now)),
                };
                self.emit(tx, &event, format!("update: refund of {lower} requested"))
                    .await?;
                // The transfer settled the order at confirmation, so it is invoiced: the
                // refund gets its credit note (the units given back, the amount refunded).
                let refund = invoices::Refund {
                    key: format!("update:{}", self.update.id),
                    reason: "order updated".into(),
                    lines: invoices::Refunded::Units(
                        self.update
                            .stock_changes
                            .0
                            .iter()
                            .filter(|c| c.quantity < 0)
                            .map(|c| (c.line_id.clone(), -c.quantity))
                            .collect(),
                    ),
                    amount: Some(lower),
                };
                invoices::credit(tx, self.order.id, &refund, self.now).await?;
            } else {
                let event = self.payment_amend(self.update.total_after_minor, false);
                self.emit(
                    tx,
                    &event,
                    format!("update: {lower} of the payment released"),
                )
                .await?;
            }
        }
        tracing::info!(order_id = %self.order.id, update_id = %self.update.id, version, "update applied");
        Ok(())
    }
}

/// Publishes `orders.order.updated` for an applied update (either route).
pub async fn published_updated(
    tx: &mut PgConnection,
    wf: &Workflow,
    update: &UpdateRow,
    after: &Order,
    version: i64,
    now: DateTime<Utc>,
) -> Result<(), WorkflowError> {
    let currency = after.total.currency;
    let event = pb::OrderUpdated {
        order_id: after.id.to_string(),
        order_number: after.number.clone(),
        update_id: update.id.to_string(),
        customer: Some(customer_pb(&after.customer)),
        lines: lines_pb(after),
        total_before: Some(money_pb(Money::new(currency, update.total_before_minor))),
        total: Some(money_pb(after.total)),
        lines_changed: update.lines_changed,
        address_changed: update.address_changed,
        contact_changed: update.contact_changed,
        shipping_address: match &after.fulfillment {
            Fulfillment::Ship { address } => Some(address_pb(address)),
            Fulfillment::StorePickup { .. } => None,
        },
        updated_by: update.actor_id.clone(),
        reason: update.reason.clone(),
        version,
        updated_at: Some(to_timestamp(now)),
    };
    wf.outbox.append(tx, &event).await?;
    Ok(())
}

fn allocation_pb(a: &Allocation) -> AllocationPb {
    AllocationPb {
        line_id: a.line_id.clone(),
        sku: a.sku.clone(),
        warehouse_id: a.warehouse_id.clone(),
        quantity: a.quantity,
        bins: Vec::new(),
    }
}

fn actor_kind(stored: &str) -> &'static str {
    match stored {
        "customer" => "customer",
        "operator" => "operator",
        "service" => "service",
        _ => "system",
    }
}
