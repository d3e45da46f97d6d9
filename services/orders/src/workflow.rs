//! Carries out the saga: locks the order, applies an input to the pure state machine
//! ([`crate::domain::saga`]), saves the new state, and turns each command into outbox events
//! and durable timers — all inside the caller's transaction, so a transition and everything
//! it causes commit together or not at all. Event handlers, timers and RPCs all come here.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use contracts::Event;
use contracts::common::{Allocation as AllocationPb, Money as MoneyPb};
use contracts::orders as pb;
use contracts::time::to_timestamp;
use messaging::{Outbox, timers};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::config::OrdersConfig;
use crate::convert::{
    address_pb, channel_pb, customer_pb, lines_pb, method_pb, mode_parts, money_pb, status_pb,
};
use crate::domain::saga::{CancelReason, Command, Input, NotAllowed, Saga};
use crate::domain::{Fulfillment, Money, Order, OrderStatus, PaymentMethod};
use crate::invoices;
use crate::metrics::OrderMetrics;
use crate::store::orders::StoreError;
use crate::store::saga::SagaRow;
use crate::store::shipments::ProblemLine;
use crate::store::{self, timeline};

pub const REVIEW_DEADLINE: &str = "orders.review_deadline";
pub const AUTO_ACCEPT: &str = "orders.auto_accept";

/// Who caused a transition, for the timeline.
#[derive(Debug, Clone)]
pub struct Who {
    pub id: String,
    /// `customer`, `operator`, `service` or `system`.
    pub kind: &'static str,
}

impl Who {
    pub fn service(name: &str) -> Self {
        Self {
            id: name.to_owned(),
            kind: "service",
        }
    }

    /// Orders' own timers; the timeline leaves a system actor's id empty.
    pub fn system() -> Self {
        Self {
            id: String::new(),
            kind: "system",
        }
    }
}

/// A parcel (or a pickup) that left, as fulfillment reported it.
#[derive(Debug, Clone, Default)]
pub struct ParcelFacts {
    pub fulfillment_id: String,
    pub parcel_id: String,
    pub shipment_id: String,
    pub warehouse_id: String,
    /// (line id, sku, quantity)
    pub lines: Vec<(String, String, i32)>,
}

#[derive(Debug, Clone, Default)]
pub struct CaseFacts {
    pub case_id: String,
    pub refund: Option<i64>,
    pub lines: Vec<ProblemLine>,
}

/// What came with an input, for the commands and the timeline.
#[derive(Debug, Clone)]
pub struct Facts {
    pub who: Who,
    pub reason: Option<String>,
    pub event_id: Option<Uuid>,
    pub parcel: Option<ParcelFacts>,
    pub shipment_id: Option<String>,
    pub cash_collected: Option<i64>,
    pub short_lines: Vec<pb::ShortLine>,
    pub problem: Option<(Uuid, pb::OrderProblemReported)>,
    pub case: Option<CaseFacts>,
}

impl Facts {
    pub fn by(who: Who) -> Self {
        Self {
            who,
            reason: None,
            event_id: None,
            parcel: None,
            shipment_id: None,
            cash_collected: None,
            short_lines: Vec::new(),
            problem: None,
            case: None,
        }
    }

    pub fn event(service: &str, event_id: Uuid) -> Self {
        Self {
            event_id: Some(event_id),
            ..Self::by(Who::service(service))
        }
    }

    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("order {0} does not exist")]
    UnknownOrder(Uuid),
    #[error("order {0} has an unreadable saga state")]
    Corrupt(Uuid),
    #[error(transparent)]
    NotAllowed(#[from] NotAllowed),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for WorkflowError {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(StoreError::Db(err))
    }
}

impl From<WorkflowError> for messaging::HandlerError {
    fn from(err: WorkflowError) -> Self {
        match err {
            WorkflowError::Store(StoreError::Db(db)) => Self::transient(db),
            other => Self::permanent(other),
        }
    }
}

#[derive(Clone)]
pub struct Workflow {
    pub outbox: Outbox,
    pub clock: runtime::Clock,
    pub config: Arc<OrdersConfig>,
    pub metrics: OrderMetrics,
}

impl Workflow {
    /// Applies `input` to the order; returns its status afterwards.
    pub async fn apply(
        &self,
        tx: &mut PgConnection,
        order_id: Uuid,
        input: Input,
        facts: &Facts,
    ) -> Result<OrderStatus, WorkflowError> {
        let (mut order, row) = store::orders::lock_with_saga(tx, order_id)
            .await?
            .ok_or(WorkflowError::UnknownOrder(order_id))?;
        let saga = row.saga().ok_or(WorkflowError::Corrupt(order_id))?;
        let (next, commands) = saga.apply(&input)?;
        let now = self.clock.now();
        if next != saga {
            store::saga::save(tx, order_id, &next, now).await?;
            // The commands below see the order as saved (the lines' fulfilment status in their
            // events follows the order's).
            order.status = next.status;
            order.updated_at = now;
        }
        if next.status != saga.status {
            let cancel = commands.iter().find_map(|c| match c {
                Command::EmitCancelled(reason) => Some(*reason),
                _ => None,
            });
            self.metrics
                .transition(row.status_since, saga.status, next.status, cancel, now);
            timeline::append(
                tx,
                timeline::Entry {
                    order_id,
                    occurred_at: now,
                    kind: "status.changed",
                    summary: format!(
                        "{} → {}",
                        saga.status.as_str().to_lowercase(),
                        next.status.as_str().to_lowercase()
                    ),
                    actor_id: &facts.who.id,
                    actor_type: facts.who.kind,
                    reason: facts.reason.as_deref(),
                    status_before: Some(saga.status),
                    status_after: Some(next.status),
                    event_id: facts.event_id,
                },
            )
            .await?;
        }
        if commands.is_empty() {
            return Ok(next.status);
        }
        let step = Step {
            wf: self,
            order: &order,
            row: &row,
            saga: &next,
            facts,
            now,
            cancel: commands.iter().find_map(|c| match c {
                Command::EmitCancelled(reason) => Some(*reason),
                _ => None,
            }),
        };
        for command in &commands {
            step.execute(tx, command).await?;
        }
        Ok(next.status)
    }
}

/// One transition's context while its commands are carried out.
struct Step<'a> {
    wf: &'a Workflow,
    order: &'a Order,
    row: &'a SagaRow,
    saga: &'a Saga,
    facts: &'a Facts,
    now: DateTime<Utc>,
    /// Why the order is cancelled, when this transition cancels it.
    cancel: Option<CancelReason>,
}

fn money(currency: &str, minor: i64) -> MoneyPb {
    MoneyPb {
        currency_code: currency.to_owned(),
        amount_minor: minor,
    }
}

impl Step<'_> {
    fn id(&self) -> String {
        self.order.id.to_string()
    }

    fn reservation_id(&self) -> String {
        self.row
            .reservation_id
            .map(|id| id.to_string())
            .unwrap_or_default()
    }

    fn payment_id(&self) -> String {
        self.row.payment_id.clone().unwrap_or_default()
    }

    fn currency(&self) -> &str {
        self.order.total.currency.as_str()
    }

    fn allocations_pb(&self) -> Vec<AllocationPb> {
        self.row
            .allocations
            .0
            .iter()
            .map(|a| AllocationPb {
                line_id: a.line_id.clone(),
                sku: a.sku.clone(),
                warehouse_id: a.warehouse_id.clone(),
                quantity: a.quantity,
                bins: Vec::new(),
            })
            .collect()
    }

    /// Writes `event` to the outbox and notes it on the timeline.
    async fn emit<E: Event>(
        &self,
        tx: &mut PgConnection,
        event: &E,
        summary: String,
    ) -> Result<(), WorkflowError> {
        let event_id = self.wf.outbox.append(tx, event).await?;
        timeline::append(
            tx,
            timeline::Entry {
                order_id: self.order.id,
                occurred_at: self.now,
                kind: E::SUBJECT,
                summary,
                actor_id: &self.facts.who.id,
                actor_type: self.facts.who.kind,
                reason: self.facts.reason.as_deref(),
                status_before: None,
                status_after: None,
                event_id: Some(event_id),
            },
        )
        .await?;
        Ok(())
    }

    async fn execute(&self, tx: &mut PgConnection, command: &Command) -> Result<(), WorkflowError> {
        let order = self.order;
        let id = self.id();
        let ts = Some(to_timestamp(self.now));
        match command {
            Command::RequestReservation => {
                let reservation_id = Uuid::now_v7();
                store::saga::set_reservation_id(tx, order.id, reservation_id).await?;
                let ttl = self.wf.config.reservation_ttl;
                let (mode, pickup_store_id, _) = mode_parts(order);
                let (country, region) = match &order.fulfillment {
                    Fulfillment::Ship { address } => {
                        (address.country_code.clone(), address.region.clone())
                    }
                    Fulfillment::StorePickup { .. } => (String::new(), String::new()),
                };
                let event = pb::ReservationRequested {
                    reservation_id: reservation_id.to_string(),
                    order_id: id,
                    order_number: order.number.clone(),
                    lines: order
                        .lines
                        .iter()
                        .map(|l| pb::ReservationLine {
                            line_id: l.line_id.clone(),
                            sku: l.sku.clone(),
                            quantity: l.quantity,
                        })
                        .collect(),
                    fulfillment_mode: mode.into(),
                    pickup_store_id,
                    ship_to_country_code: country,
                    ship_to_region: region,
                    allow_split: true,
                    ttl: prost_types::Duration::try_from(ttl).ok(),
                    expires_at: Some(to_timestamp(
                        self.now
                            + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(4)),
                    )),
                    requested_at: ts,
                };
                self.emit(tx, &event, "stock reservation requested".into())
                    .await
            }
            Command::RequestPayment => {
                let event = pb::PaymentRequested {
                    order_id: id,
                    order_number: order.number.clone(),
                    method: method_pb(order.payment_method).into(),
                    token: self.row.payment_token.clone().unwrap_or_default(),
                    installment_count: i32::from(order.installments),
                    amount: Some(money_pb(order.total)),
                    customer: Some(customer_pb(&order.customer)),
                    billing_address: order
                        .billing_address
                        .as_ref()
                        .map(address_pb)
                        .or_else(|| mode_parts(order).2),
                    channel: channel_pb(order.channel).into(),
                    requested_at: ts,
                };
                self.emit(tx, &event, format!("payment of {} requested", order.total))
                    .await
            }
            Command::ConfirmReservation => {
                let event = pb::ReservationConfirmRequested {
                    order_id: id,
                    reservation_id: self.reservation_id(),
                    requested_at: ts,
                };
                self.emit(tx, &event, "reservation made firm".into()).await
            }
            Command::RequestFulfillment => {
                let (mode, pickup_store_id, shipping_address) = mode_parts(order);
                let event = pb::FulfillmentRequested {
                    order_id: id,
                    order_number: order.number.clone(),
                    customer: Some(customer_pb(&order.customer)),
                    fulfillment_mode: mode.into(),
                    pickup_store_id,
                    shipping_address,
                    lines: lines_pb(order),
                    allocations: self.allocations_pb(),
                    reservation_id: self.reservation_id(),
                    collect_cash_on_delivery: order.payment_method == PaymentMethod::CashOnDelivery,
                    reship_case_id: String::new(),
                    exchange_return_id: String::new(),
                    requested_at: ts,
                };
                self.emit(tx, &event, "fulfilment requested".into()).await
            }
            Command::CommitAndCapture => self.commit_and_capture(tx).await,
            Command::CaptureCollected => {
                let amount = self.facts.cash_collected.unwrap_or(order.total.minor);
                let event = pb::PaymentCaptureRequested {
                    order_id: id,
                    payment_id: self.payment_id(),
                    amount: Some(money(self.currency(), amount)),
                    shipment_id: self.facts.shipment_id.clone().unwrap_or_default(),
                    fulfillment_id: String::new(),
                    cash_collected: true,
                    requested_at: ts,
                };
                self.emit(
                    tx,
                    &event,
                    format!("capture of {amount} collected on delivery requested"),
                )
                .await
            }
            Command::CaptureFirstInstallment => {
                // Payments captures the first installment of the plan and schedules the rest.
                let event = pb::PaymentCaptureRequested {
                    order_id: id,
                    payment_id: self.payment_id(),
                    amount: Some(money_pb(order.total)),
                    shipment_id: String::new(),
                    fulfillment_id: String::new(),
                    cash_collected: false,
                    requested_at: ts,
                };
                self.emit(tx, &event, "first installment capture requested".into())
                    .await
            }
            Command::ReleaseReservation => {
                let event = pb::ReservationReleaseRequested {
                    order_id: id,
                    reservation_id: self.reservation_id(),
                    lines: order
                        .lines
                        .iter()
                        .map(|l| pb::ReservationLine {
                            line_id: l.line_id.clone(),
                            sku: l.sku.clone(),
                            quantity: l.quantity,
                        })
                        .collect(),
                    reason: self.cancel_reason().into(),
                    requested_at: ts,
                    allocations: Vec::new(),
                    update_id: String::new(),
                };
                self.emit(tx, &event, "stock release requested".into())
                    .await
            }
            Command::VoidPayment => {
                let event = pb::PaymentVoidRequested {
                    order_id: id,
                    payment_id: self.payment_id(),
                    amount: Some(money_pb(order.total)),
                    reason: self.cancel_reason().into(),
                    requested_at: ts,
                };
                self.emit(tx, &event, "authorization void requested".into())
                    .await
            }
            Command::RefundCaptured => {
                // Unset amount: everything captured so far (captures may still be arriving).
                let event = pb::PaymentRefundRequested {
                    order_id: id,
                    payment_id: self.payment_id(),
                    amount: None,
                    reason: pb::RefundReason::OrderCancelled.into(),
                    requested_by: self.facts.who.id.clone(),
                    note: self.facts.reason.clone().unwrap_or_default(),
                    requested_at: ts,
                    ..Default::default()
                };
                self.emit(tx, &event, "refund of the captured amount requested".into())
                    .await?;
                let refund = invoices::Refund {
                    key: format!("cancel:{}", order.id),
                    reason: "order cancelled".into(),
                    lines: invoices::Refunded::Everything,
                    amount: None,
                };
                invoices::credit(tx, order.id, &refund, self.now).await?;
                Ok(())
            }
            Command::CancelFulfillment => {
                // While an update runs, fulfillment may have opened a fulfillment orders has
                // not heard of yet: then every one of the order's is cancelled (empty = all).
                let fulfillment_ids = if store::updates::in_progress(tx, order.id).await?.is_some()
                {
                    Vec::new()
                } else {
                    store::shipments::fulfillment_ids(tx, order.id).await?
                };
                let event = pb::FulfillmentCancelRequested {
                    order_id: id,
                    fulfillment_ids,
                    reason: self.cancel_reason().into(),
                    requested_at: ts,
                };
                self.emit(tx, &event, "fulfilment cancellation requested".into())
                    .await
            }
            Command::RefundProblemLines => {
                let case = self.facts.case.clone().unwrap_or_default();
                let value = case.refund.unwrap_or_else(|| self.lines_value(&case.lines));
                let event = pb::PaymentRefundRequested {
                    order_id: id,
                    payment_id: self.payment_id(),
                    amount: Some(money(self.currency(), value)),
                    reason: pb::RefundReason::CaseResolution.into(),
                    case_id: case.case_id.clone(),
                    requested_by: self.facts.who.id.clone(),
                    note: self.facts.reason.clone().unwrap_or_default(),
                    requested_at: ts,
                    ..Default::default()
                };
                self.emit(
                    tx,
                    &event,
                    format!("refund of {value} requested for case {}", case.case_id),
                )
                .await?;
                let refund = invoices::Refund {
                    key: format!("case:{}", case.case_id),
                    reason: format!("case {} resolved with a refund", case.case_id),
                    lines: invoices::Refunded::Units(
                        case.lines
                            .iter()
                            .map(|l| (l.line_id.clone(), l.quantity))
                            .collect(),
                    ),
                    amount: Some(value),
                };
                invoices::credit(tx, order.id, &refund, self.now).await?;
                Ok(())
            }
            Command::IssueInvoice => {
                invoices::issue(tx, &self.wf.config.legal_entities, order, self.now).await?;
                Ok(())
            }
            Command::ReshipProblemLines => {
                let case = self.facts.case.clone().unwrap_or_default();
                let (mode, pickup_store_id, shipping_address) = mode_parts(order);
                let lines = lines_pb(order)
                    .into_iter()
                    .filter_map(|mut l| {
                        let problem = case.lines.iter().find(|p| p.line_id == l.line_id)?;
                        l.quantity = problem.quantity;
                        Some(l)
                    })
                    .collect();
                let event = pb::FulfillmentRequested {
                    order_id: id,
                    order_number: order.number.clone(),
                    customer: Some(customer_pb(&order.customer)),
                    fulfillment_mode: mode.into(),
                    pickup_store_id,
                    shipping_address,
                    lines,
                    allocations: self.allocations_pb(),
                    reservation_id: self.reservation_id(),
                    collect_cash_on_delivery: false,
                    reship_case_id: case.case_id.clone(),
                    exchange_return_id: String::new(),
                    requested_at: ts,
                };
                self.emit(
                    tx,
                    &event,
                    format!("replacement shipment requested for case {}", case.case_id),
                )
                .await
            }
            Command::ScheduleReviewDeadline => {
                let deadline = self.now
                    + chrono::Duration::from_std(self.wf.config.review_deadline)
                        .unwrap_or(chrono::Duration::days(1));
                store::saga::set_review_deadline(tx, order.id, deadline).await?;
                timers::schedule(tx, REVIEW_DEADLINE, &id, deadline, &serde_json::json!({}))
                    .await?;
                Ok(())
            }
            Command::CancelReviewDeadline => {
                timers::cancel(tx, REVIEW_DEADLINE, &id).await?;
                Ok(())
            }
            Command::ScheduleAutoAccept => {
                let at = self.now
                    + chrono::Duration::from_std(self.wf.config.auto_accept_after)
                        .unwrap_or(chrono::Duration::days(7));
                store::saga::set_accept_by(tx, order.id, at).await?;
                timers::schedule(tx, AUTO_ACCEPT, &id, at, &serde_json::json!({})).await?;
                Ok(())
            }
            Command::CancelAutoAccept => {
                timers::cancel(tx, AUTO_ACCEPT, &id).await?;
                Ok(())
            }
            Command::EmitHeld => {
                let reasons = &self.row.hold_reasons.0;
                let deadline = self.now
                    + chrono::Duration::from_std(self.wf.config.review_deadline)
                        .unwrap_or(chrono::Duration::days(1));
                let event = pb::OrderHeld {
                    order_id: id,
                    order_number: order.number.clone(),
                    reasons: reasons.iter().map(crate::convert::hold_reason_pb).collect(),
                    risk_score: self.row.risk_score,
                    total: Some(money_pb(order.total)),
                    customer: Some(customer_pb(&order.customer)),
                    channel: channel_pb(order.channel).into(),
                    review_deadline: Some(to_timestamp(deadline)),
                    held_at: ts,
                };
                let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
                self.emit(tx, &event, format!("held for review: {}", codes.join(", ")))
                    .await
            }
            Command::EmitApproved => {
                let event = pb::OrderApproved {
                    order_id: id,
                    order_number: order.number.clone(),
                    reviewer_id: self.facts.who.id.clone(),
                    reason: self.facts.reason.clone().unwrap_or_default(),
                    approved_at: ts,
                };
                self.emit(tx, &event, format!("approved by {}", self.facts.who.id))
                    .await
            }
            Command::EmitRejected => {
                let by_deadline = self.facts.who.kind == "system";
                let event = pb::OrderRejected {
                    order_id: id,
                    order_number: order.number.clone(),
                    reviewer_id: if by_deadline {
                        String::new()
                    } else {
                        self.facts.who.id.clone()
                    },
                    reason: self.facts.reason.clone().unwrap_or_default(),
                    by_deadline,
                    customer: Some(customer_pb(&order.customer)),
                    rejected_at: ts,
                };
                self.emit(tx, &event, "rejected in review".into()).await
            }
            Command::EmitConfirmed => {
                let (mode, pickup_store_id, _) = mode_parts(order);
                let event = pb::OrderConfirmed {
                    order_id: id,
                    order_number: order.number.clone(),
                    customer: Some(customer_pb(&order.customer)),
                    channel: channel_pb(order.channel).into(),
                    fulfillment_mode: mode.into(),
                    pickup_store_id,
                    lines: lines_pb(order),
                    total: Some(money_pb(order.total)),
                    payment_method: method_pb(order.payment_method).into(),
                    payment_id: self.payment_id(),
                    placed_at: Some(to_timestamp(order.created_at)),
                    confirmed_at: ts,
                };
                self.emit(tx, &event, format!("order {} confirmed", order.number))
                    .await
            }
            Command::EmitDelivered => {
                let accept_by = self.now
                    + chrono::Duration::from_std(self.wf.config.auto_accept_after)
                        .unwrap_or(chrono::Duration::days(7));
                let (mode, _, _) = mode_parts(order);
                let event = pb::OrderDelivered {
                    order_id: id,
                    order_number: order.number.clone(),
                    customer: Some(customer_pb(&order.customer)),
                    channel: channel_pb(order.channel).into(),
                    fulfillment_mode: mode.into(),
                    lines: lines_pb(order),
                    total: Some(money_pb(order.total)),
                    placed_at: Some(to_timestamp(order.created_at)),
                    delivered_at: ts,
                    accept_by: Some(to_timestamp(accept_by)),
                };
                self.emit(tx, &event, "every shipment delivered".into())
                    .await
            }
            Command::EmitAccepted => {
                let auto = self.facts.who.kind == "system";
                let event = pb::OrderAccepted {
                    order_id: id,
                    order_number: order.number.clone(),
                    customer_id: order.customer.id.clone(),
                    auto_accepted: auto,
                    accepted_at: ts,
                };
                let summary = if auto {
                    "accepted automatically after the window"
                } else {
                    "receipt confirmed"
                };
                self.emit(tx, &event, summary.into()).await
            }
            Command::EmitProblemReported => {
                let Some((problem_id, event)) = &self.facts.problem else {
                    return Ok(());
                };
                self.emit(tx, event, format!("problem {problem_id} reported"))
                    .await
            }
            Command::EmitCompleted => {
                let (returns, _) = store::returns::order_summary(tx, order.id).await?;
                let return_status =
                    pb::OrderReturnStatus::from_str_name(&format!("ORDER_RETURN_STATUS_{returns}"))
                        .unwrap_or(pb::OrderReturnStatus::None);
                let captured = self.row.captured_minor.max(if self.saga.settled {
                    order.total.minor
                } else {
                    0
                });
                let event = pb::OrderCompleted {
                    order_id: id,
                    order_number: order.number.clone(),
                    customer: Some(customer_pb(&order.customer)),
                    channel: channel_pb(order.channel).into(),
                    total: Some(money_pb(order.total)),
                    net_paid: Some(money(self.currency(), captured - self.row.refunded_minor)),
                    return_status: return_status.into(),
                    placed_at: Some(to_timestamp(order.created_at)),
                    completed_at: ts,
                };
                self.emit(tx, &event, format!("order {} completed", order.number))
                    .await
            }
            Command::EmitCancelled(reason) => {
                let name = store::saga::cancel_reason_name(*reason);
                store::saga::set_cancel(tx, order.id, name, self.facts.reason.as_deref()).await?;
                let event = pb::OrderCancelled {
                    order_id: id,
                    order_number: order.number.clone(),
                    customer: Some(customer_pb(&order.customer)),
                    reason: self.cancel_reason().into(),
                    note: self.facts.reason.clone().unwrap_or_default(),
                    cancelled_by: self.facts.who.id.clone(),
                    previous_status: status_pb(
                        OrderStatus::parse(&self.row.status).unwrap_or(OrderStatus::Pending),
                    )
                    .into(),
                    total: Some(money_pb(order.total)),
                    lines: lines_pb(order),
                    short_lines: self.facts.short_lines.clone(),
                    placed_at: Some(to_timestamp(order.created_at)),
                    cancelled_at: ts,
                };
                self.emit(
                    tx,
                    &event,
                    format!("cancelled: {}", name.to_lowercase().replace('_', " ")),
                )
                .await
            }
        }
    }

    /// Why the order is being cancelled, as the events name it.
    fn cancel_reason(&self) -> pb::CancelReason {
        let reason = self.cancel.unwrap_or(CancelReason::Operator);
        match reason {
            CancelReason::CustomerRequest => pb::CancelReason::CustomerRequest,
            CancelReason::Operator => pb::CancelReason::Operator,
            CancelReason::OutOfStock => pb::CancelReason::OutOfStock,
            CancelReason::PaymentDeclined
                if self.order.payment_method == PaymentMethod::BankTransfer =>
            {
                pb::CancelReason::PaymentNotReceived
            }
            CancelReason::PaymentDeclined => pb::CancelReason::PaymentDeclined,
            CancelReason::ReservationExpired => pb::CancelReason::ReservationExpired,
            CancelReason::FulfillmentFailed => pb::CancelReason::FulfillmentFailed,
            CancelReason::DeliveryFailed => pb::CancelReason::DeliveryFailed,
            CancelReason::DeliveryRefused => pb::CancelReason::DeliveryRefused,
        }
    }

    /// What some units of the order's lines were charged: their share of each line's charge
    /// (discounts and tax included), so a whole line is worth exactly what it was charged.
    fn lines_value(&self, lines: &[ProblemLine]) -> i64 {
        lines
            .iter()
            .filter_map(|p| {
                let line = self.order.lines.iter().find(|l| l.line_id == p.line_id)?;
                Some(line.value_of(0, p.quantity))
            })
            .sum()
    }

    /// What the units of a parcel just handed over were charged. The order read here already
    /// counts them as shipped, and a line's shipped units are its first ones, so the parcel's
    /// units of a line are those just below `shipped_quantity`: the parcels of a line add up
    /// to exactly its charge.
    fn parcel_value(&self, lines: &[ProblemLine]) -> i64 {
        lines
            .iter()
            .filter_map(|p| {
                let line = self.order.lines.iter().find(|l| l.line_id == p.line_id)?;
                let after = line.shipped_quantity;
                let before = (after - p.quantity).max(0);
                Some(line.value_of(before, after - before))
            })
            .sum()
    }

    async fn commit_and_capture(&self, tx: &mut PgConnection) -> Result<(), WorkflowError> {
        let order = self.order;
        let parcel = self.facts.parcel.clone().unwrap_or_default();
        let ts = Some(to_timestamp(self.now));
        let allocations = parcel
            .lines
            .iter()
            .map(|(line_id, sku, quantity)| AllocationPb {
                line_id: line_id.clone(),
                sku: sku.clone(),
                warehouse_id: parcel.warehouse_id.clone(),
                quantity: *quantity,
                bins: Vec::new(),
            })
            .collect();
        let commit = pb::ReservationCommitRequested {
            order_id: self.id(),
            reservation_id: self.reservation_id(),
            fulfillment_id: parcel.fulfillment_id.clone(),
            parcel_id: parcel.parcel_id.clone(),
            allocations,
            requested_at: ts,
        };
        self.emit(
            tx,
            &commit,
            format!("stock of parcel {} committed", parcel.parcel_id),
        )
        .await?;

        let share = self.parcel_value(
            &parcel
                .lines
                .iter()
                .map(|(line_id, sku, quantity)| ProblemLine {
                    line_id: line_id.clone(),
                    sku: sku.clone(),
                    quantity: *quantity,
                })
                .collect::<Vec<_>>(),
        );
        // The shipping fee goes with the first parcel, so the parcels add up to the total.
        let share = if self.row.shipped_any {
            share
        } else {
            share.saturating_add(order.breakdown.shipping)
        };
        let (amount, cash) = match order.payment_method {
            PaymentMethod::Card | PaymentMethod::Wallet => (share, false),
            // Cash at the store counter is collected at pickup; shipped cash at delivery.
            PaymentMethod::CashOnDelivery if self.saga.status == OrderStatus::Delivered => {
                (self.facts.cash_collected.unwrap_or(share), true)
            }
            // Bank transfers are captured when confirmed; installments on their schedule.
            _ => return Ok(()),
        };
        let capture = pb::PaymentCaptureRequested {
            order_id: self.id(),
            payment_id: self.payment_id(),
            amount: Some(money(self.currency(), amount)),
            shipment_id: parcel.shipment_id.clone(),
            fulfillment_id: parcel.fulfillment_id.clone(),
            cash_collected: cash,
            requested_at: ts,
        };
        self.emit(
            tx,
            &capture,
            format!(
                "capture of {} requested",
                Money::new(order.total.currency, amount)
            ),
        )
        .await
    }
}
