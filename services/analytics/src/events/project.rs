//! Projects one kept event into the read models: decodes the body by its subject and hands
//! plain values to [`crate::store::facts`]. Used alike by the live consumers and by
//! [`crate::rebuild()`]. Subjects kept only in `raw_events` (reservations, risk scores,
//! settlements, return receipts, the steps of an order update — its outcome, `OrderUpdated`, is
//! projected) have no projection yet: a rebuild adds one later.

use chrono::{DateTime, Utc};
use contracts::Event;
use prost::Message as _;
use prost_types::Timestamp;
use sqlx::PgConnection;

use crate::store::facts::{self, Header, Line, Milestone, ReturnLine};
use contracts::{feedback as fb, fulfillment as ff, inventory as inv, orders as ord};
use contracts::{payments as pay, shipping as ship};

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot decode the event: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// OrderStatus values; they follow the cycle, so the furthest one reached is the status.
mod status {
    pub const PENDING: i32 = 1;
    pub const ON_HOLD: i32 = 2;
    pub const AWAITING_STOCK: i32 = 3;
    pub const CONFIRMED: i32 = 5;
    pub const IN_FULFILLMENT: i32 = 6;
    pub const SHIPPED: i32 = 8;
    pub const READY_FOR_PICKUP: i32 = 9;
    pub const DELIVERED: i32 = 10;
    pub const ACCEPTED: i32 = 11;
    pub const DISPUTED: i32 = 12;
    pub const COMPLETED: i32 = 13;
    pub const CANCELLED: i32 = 14;
    pub const REJECTED: i32 = 15;
}

const CANCEL_REASON_OUT_OF_STOCK: i32 = ord::CancelReason::OutOfStock as i32;

/// The event's own time field, or the envelope's time when the producer left it unset.
fn at(ts: Option<&Timestamp>, fallback: DateTime<Utc>) -> DateTime<Utc> {
    ts.and_then(contracts::time::from_timestamp)
        .unwrap_or(fallback)
}

fn money(m: Option<&contracts::common::Money>) -> (String, i64) {
    m.map_or_else(
        || (String::new(), 0),
        |m| (m.currency_code.clone(), m.amount_minor),
    )
}

fn lines(lines: &[ord::OrderLine]) -> Vec<Line> {
    lines
        .iter()
        .map(|l| Line {
            line_id: l.line_id.clone(),
            sku: l.sku.clone(),
            quantity: i64::from(l.quantity),
            unit_price_minor: l.unit_price.as_ref().map_or(0, |m| m.amount_minor),
            line_total_minor: l.line_total.as_ref().map_or_else(
                || {
                    l.unit_price
                        .as_ref()
                        .map_or(0, |m| m.amount_minor.saturating_mul(i64::from(l.quantity)))
                },
                |m| m.amount_minor,
            ),
        })
        .collect()
}

fn header(
    order_id: &str,
    order_lines: &[ord::OrderLine],
    total: Option<&contracts::common::Money>,
) -> Header {
    let (currency_code, total_minor) = money(total);
    Header {
        order_id: order_id.to_owned(),
        currency_code,
        total_minor,
        units: order_lines.iter().map(|l| i64::from(l.quantity)).sum(),
        line_count: i32::try_from(order_lines.len()).unwrap_or(i32::MAX),
        ..Header::default()
    }
}

fn return_lines(lines: &[ord::ReturnLine]) -> Vec<ReturnLine> {
    lines
        .iter()
        .map(|l| ReturnLine {
            line_id: l.line_id.clone(),
            sku: l.sku.clone(),
            quantity: i64::from(l.quantity),
            reason: l.reason,
        })
        .collect()
}

fn customer_id(c: Option<&contracts::common::Customer>) -> String {
    c.map(|c| c.id.clone()).unwrap_or_default()
}

/// Applies the event `body` published on `subject` at `time`.
pub async fn apply(
    tx: &mut PgConnection,
    subject: &str,
    body: &[u8],
    time: DateTime<Utc>,
) -> Result<(), ProjectError> {
    macro_rules! is {
        ($ty:ty) => {
            subject == <$ty as Event>::SUBJECT
        };
    }
    if is!(ord::OrderPlaced) {
        let e = ord::OrderPlaced::decode(body)?;
        let address = e.shipping_address.clone().unwrap_or_default();
        let h = Header {
            order_number: e.order_number.clone(),
            customer_id: customer_id(e.customer.as_ref()),
            channel: e.channel,
            fulfillment_mode: e.fulfillment_mode,
            pickup_store_id: e.pickup_store_id.clone(),
            country_code: address.country_code,
            region: address.region,
            payment_method: e.payment_method,
            placed_at: Some(at(e.placed_at.as_ref(), time)),
            ..header(&e.order_id, &e.lines, e.total.as_ref())
        };
        facts::upsert_order(tx, &h, status::PENDING, None).await?;
        facts::upsert_lines(tx, &e.order_id, &lines(&e.lines)).await?;
    } else if is!(ord::OrderHeld) {
        let e = ord::OrderHeld::decode(body)?;
        let h = Header {
            order_number: e.order_number.clone(),
            customer_id: customer_id(e.customer.as_ref()),
            channel: e.channel,
            ..header(&e.order_id, &[], e.total.as_ref())
        };
        let held = (Milestone::Held, at(e.held_at.as_ref(), time));
        facts::upsert_order(tx, &h, status::ON_HOLD, Some(held)).await?;
    } else if is!(ord::OrderApproved) {
        let e = ord::OrderApproved::decode(body)?;
        facts::upsert_order(tx, &Header::id(&e.order_id), status::AWAITING_STOCK, None).await?;
        facts::decide(
            tx,
            &e.order_id,
            "approved",
            at(e.approved_at.as_ref(), time),
        )
        .await?;
    } else if is!(ord::OrderRejected) {
        let e = ord::OrderRejected::decode(body)?;
        let when = at(e.rejected_at.as_ref(), time);
        facts::upsert_order(tx, &Header::id(&e.order_id), status::REJECTED, None).await?;
        facts::decide(tx, &e.order_id, "rejected", when).await?;
        facts::set_order_time(tx, &e.order_id, Milestone::Rejected, when).await?;
    } else if is!(ord::OrderConfirmed) {
        let e = ord::OrderConfirmed::decode(body)?;
        let h = Header {
            order_number: e.order_number.clone(),
            customer_id: customer_id(e.customer.as_ref()),
            channel: e.channel,
            fulfillment_mode: e.fulfillment_mode,
            pickup_store_id: e.pickup_store_id.clone(),
            payment_method: e.payment_method,
            placed_at: e
                .placed_at
                .as_ref()
                .and_then(contracts::time::from_timestamp),
            ..header(&e.order_id, &e.lines, e.total.as_ref())
        };
        let confirmed = (Milestone::Confirmed, at(e.confirmed_at.as_ref(), time));
        facts::upsert_order(tx, &h, status::CONFIRMED, Some(confirmed)).await?;
        facts::upsert_lines(tx, &e.order_id, &lines(&e.lines)).await?;
    } else if is!(ord::OrderDelivered) {
        let e = ord::OrderDelivered::decode(body)?;
        let h = Header {
            order_number: e.order_number.clone(),
            customer_id: customer_id(e.customer.as_ref()),
            channel: e.channel,
            fulfillment_mode: e.fulfillment_mode,
            placed_at: e
                .placed_at
                .as_ref()
                .and_then(contracts::time::from_timestamp),
            ..header(&e.order_id, &e.lines, e.total.as_ref())
        };
        let delivered = (Milestone::Delivered, at(e.delivered_at.as_ref(), time));
        facts::upsert_order(tx, &h, status::DELIVERED, Some(delivered)).await?;
        facts::upsert_lines(tx, &e.order_id, &lines(&e.lines)).await?;
    } else if is!(ord::OrderAccepted) {
        let e = ord::OrderAccepted::decode(body)?;
        facts::upsert_order(tx, &Header::id(&e.order_id), status::ACCEPTED, None).await?;
        facts::accept(
            tx,
            &e.order_id,
            at(e.accepted_at.as_ref(), time),
            e.auto_accepted,
        )
        .await?;
    } else if is!(ord::OrderProblemReported) {
        let e = ord::OrderProblemReported::decode(body)?;
        let when = at(e.reported_at.as_ref(), time);
        let reported = (Milestone::ProblemReported, when);
        facts::upsert_order(
            tx,
            &Header::id(&e.order_id),
            status::DISPUTED,
            Some(reported),
        )
        .await?;
        facts::problem(tx, &e.problem_id, &e.order_id, e.kind, when).await?;
    } else if is!(ord::OrderCompleted) {
        let e = ord::OrderCompleted::decode(body)?;
        let h = Header {
            order_number: e.order_number.clone(),
            customer_id: customer_id(e.customer.as_ref()),
            channel: e.channel,
            placed_at: e
                .placed_at
                .as_ref()
                .and_then(contracts::time::from_timestamp),
            ..header(&e.order_id, &[], e.total.as_ref())
        };
        facts::upsert_order(tx, &h, status::COMPLETED, None).await?;
        let net_paid = e.net_paid.as_ref().map(|m| m.amount_minor);
        facts::complete(
            tx,
            &e.order_id,
            at(e.completed_at.as_ref(), time),
            net_paid,
            e.return_status,
        )
        .await?;
    } else if is!(ord::OrderUpdated) {
        let e = ord::OrderUpdated::decode(body)?;
        if e.order_id.is_empty() || e.version <= 0 {
            // Without them an update cannot be ordered against the order's other updates.
            tracing::warn!(order_id = %e.order_id, version = e.version, "order update without an order id or version; not projected");
            return Ok(());
        }
        // The address only when the update changed it: the region figures follow the parcel.
        let address = e
            .shipping_address
            .clone()
            .filter(|_| e.address_changed)
            .unwrap_or_default();
        let h = Header {
            order_number: e.order_number.clone(),
            customer_id: customer_id(e.customer.as_ref()),
            country_code: address.country_code,
            region: address.region,
            ..header(&e.order_id, &e.lines, e.total.as_ref())
        };
        // An order keeps at least one line: an update without any says nothing about them.
        let new_lines = lines(&e.lines);
        let new_lines = (!new_lines.is_empty()).then_some(new_lines.as_slice());
        facts::apply_update(tx, &h, e.version, new_lines).await?;
    } else if is!(ord::OrderCancelled) {
        let e = ord::OrderCancelled::decode(body)?;
        let when = at(e.cancelled_at.as_ref(), time);
        let h = Header {
            order_number: e.order_number.clone(),
            customer_id: customer_id(e.customer.as_ref()),
            placed_at: e
                .placed_at
                .as_ref()
                .and_then(contracts::time::from_timestamp),
            ..header(&e.order_id, &e.lines, e.total.as_ref())
        };
        facts::upsert_order(tx, &h, status::CANCELLED, None).await?;
        facts::upsert_lines(tx, &e.order_id, &lines(&e.lines)).await?;
        facts::cancel(tx, &e.order_id, when, e.reason).await?;
        if e.reason == CANCEL_REASON_OUT_OF_STOCK {
            facts::set_order_time(tx, &e.order_id, Milestone::Shortage, when).await?;
        }
    } else if is!(ord::ReturnRequested) {
        let e = ord::ReturnRequested::decode(body)?;
        facts::return_requested(
            tx,
            &e.return_id,
            &e.order_id,
            e.resolution,
            at(e.requested_at.as_ref(), time),
            &return_lines(&e.lines),
        )
        .await?;
    } else if is!(ord::ReturnApproved) {
        let e = ord::ReturnApproved::decode(body)?;
        facts::return_time(
            tx,
            &e.return_id,
            &e.order_id,
            "approved_at",
            at(e.approved_at.as_ref(), time),
        )
        .await?;
    } else if is!(ord::ReturnRejected) {
        let e = ord::ReturnRejected::decode(body)?;
        facts::return_time(
            tx,
            &e.return_id,
            &e.order_id,
            "rejected_at",
            at(e.rejected_at.as_ref(), time),
        )
        .await?;
    } else if is!(ord::ReturnClosed) {
        let e = ord::ReturnClosed::decode(body)?;
        let refund = e
            .refund_total
            .as_ref()
            .map(|m| (m.currency_code.clone(), m.amount_minor));
        facts::return_closed(
            tx,
            &e.return_id,
            &e.order_id,
            at(e.closed_at.as_ref(), time),
            e.outcome,
            refund,
        )
        .await?;
    } else if is!(inv::StockShortage) {
        let e = inv::StockShortage::decode(body)?;
        let short = (Milestone::Shortage, at(e.detected_at.as_ref(), time));
        facts::upsert_order(tx, &Header::id(&e.order_id), 0, Some(short)).await?;
    } else if is!(inv::StockLow) {
        let e = inv::StockLow::decode(body)?;
        facts::stock_low(
            tx,
            &e.sku,
            &e.warehouse_id,
            at(e.detected_at.as_ref(), time),
            i64::from(e.available),
            i64::from(e.reorder_point),
            e.below_safety_stock,
        )
        .await?;
    } else if is!(pay::PaymentAuthorized) {
        let e = pay::PaymentAuthorized::decode(body)?;
        facts::payment(
            tx,
            &e.payment_id,
            &e.order_id,
            e.method,
            Some(at(e.authorized_at.as_ref(), time)),
            None,
        )
        .await?;
    } else if is!(pay::PaymentDeclined) {
        let e = pay::PaymentDeclined::decode(body)?;
        facts::payment(
            tx,
            &e.payment_id,
            &e.order_id,
            e.method,
            None,
            Some((at(e.declined_at.as_ref(), time), e.reason)),
        )
        .await?;
    } else if is!(pay::PaymentCaptured) {
        let e = pay::PaymentCaptured::decode(body)?;
        let (currency, amount) = money(e.amount.as_ref());
        let mv = facts::MoneyMove {
            transaction_id: &e.transaction_id,
            kind: "captured",
            payment_id: &e.payment_id,
            order_id: &e.order_id,
            currency: &currency,
            amount_minor: amount,
            return_id: "",
            case_id: "",
            at: at(e.captured_at.as_ref(), time),
        };
        facts::money_move(tx, &mv).await?;
    } else if is!(pay::PaymentVoided) {
        let e = pay::PaymentVoided::decode(body)?;
        let (currency, amount) = money(e.amount.as_ref());
        let mv = facts::MoneyMove {
            transaction_id: &e.transaction_id,
            kind: "voided",
            payment_id: &e.payment_id,
            order_id: &e.order_id,
            currency: &currency,
            amount_minor: amount,
            return_id: "",
            case_id: "",
            at: at(e.voided_at.as_ref(), time),
        };
        facts::money_move(tx, &mv).await?;
    } else if is!(pay::PaymentRefunded) {
        let e = pay::PaymentRefunded::decode(body)?;
        let (currency, amount) = money(e.amount.as_ref());
        let mv = facts::MoneyMove {
            transaction_id: &e.transaction_id,
            kind: "refunded",
            payment_id: &e.payment_id,
            order_id: &e.order_id,
            currency: &currency,
            amount_minor: amount,
            return_id: &e.return_id,
            case_id: &e.case_id,
            at: at(e.refunded_at.as_ref(), time),
        };
        facts::money_move(tx, &mv).await?;
    } else if is!(ff::FulfillmentCreated) {
        let e = ff::FulfillmentCreated::decode(body)?;
        let units = e.lines.iter().map(|l| i64::from(l.quantity)).sum();
        facts::upsert_order(tx, &Header::id(&e.order_id), status::IN_FULFILLMENT, None).await?;
        facts::fulfillment_created(
            tx,
            &e.fulfillment_id,
            &e.order_id,
            &e.warehouse_id,
            e.fulfillment_mode,
            units,
            at(e.created_at.as_ref(), time),
        )
        .await?;
    } else if is!(ff::FulfillmentPicked) {
        let e = ff::FulfillmentPicked::decode(body)?;
        let units = e.lines.iter().map(|l| i64::from(l.quantity)).sum();
        facts::fulfillment_picked(
            tx,
            &e.fulfillment_id,
            &e.order_id,
            &e.warehouse_id,
            at(e.picked_at.as_ref(), time),
            units,
            0,
        )
        .await?;
    } else if is!(ff::FulfillmentShortPicked) {
        let e = ff::FulfillmentShortPicked::decode(body)?;
        let picked = e.lines.iter().map(|l| i64::from(l.picked_quantity)).sum();
        let short = e
            .lines
            .iter()
            .map(|l| i64::from((l.expected_quantity - l.picked_quantity).max(0)))
            .sum();
        facts::fulfillment_picked(
            tx,
            &e.fulfillment_id,
            &e.order_id,
            &e.warehouse_id,
            at(e.picked_at.as_ref(), time),
            picked,
            short,
        )
        .await?;
    } else if is!(ff::ParcelPacked) {
        let e = ff::ParcelPacked::decode(body)?;
        facts::parcel_packed(
            tx,
            &e.parcel_id,
            &e.fulfillment_id,
            &e.order_id,
            &e.warehouse_id,
            &e.shipment_id,
            i64::from(e.weight_grams),
            at(e.packed_at.as_ref(), time),
        )
        .await?;
    } else if is!(ff::ParcelHandedOver) {
        let e = ff::ParcelHandedOver::decode(body)?;
        let when = at(e.handed_over_at.as_ref(), time);
        facts::upsert_order(tx, &Header::id(&e.order_id), status::SHIPPED, None).await?;
        facts::parcel_handed_over(
            tx,
            &e.parcel_id,
            &e.fulfillment_id,
            &e.order_id,
            &e.warehouse_id,
            &e.shipment_id,
            &e.carrier,
            when,
        )
        .await?;
        facts::dispatched(tx, &e.order_id, when).await?;
    } else if is!(ff::FulfillmentReadyForPickup) {
        let e = ff::FulfillmentReadyForPickup::decode(body)?;
        let when = at(e.ready_at.as_ref(), time);
        facts::upsert_order(tx, &Header::id(&e.order_id), status::READY_FOR_PICKUP, None).await?;
        facts::fulfillment_time(
            tx,
            &e.fulfillment_id,
            &e.order_id,
            &e.warehouse_id,
            "ready_at",
            when,
        )
        .await?;
        facts::dispatched(tx, &e.order_id, when).await?;
    } else if is!(ff::FulfillmentPickedUp) {
        let e = ff::FulfillmentPickedUp::decode(body)?;
        facts::fulfillment_time(
            tx,
            &e.fulfillment_id,
            &e.order_id,
            &e.warehouse_id,
            "picked_up_at",
            at(e.picked_up_at.as_ref(), time),
        )
        .await?;
    } else if is!(ff::FulfillmentCancelled) {
        let e = ff::FulfillmentCancelled::decode(body)?;
        facts::fulfillment_time(
            tx,
            &e.fulfillment_id,
            &e.order_id,
            &e.warehouse_id,
            "cancelled_at",
            at(e.cancelled_at.as_ref(), time),
        )
        .await?;
    } else if is!(ship::ShipmentCreated) {
        let e = ship::ShipmentCreated::decode(body)?;
        let eta = e.eta.as_ref().and_then(contracts::time::from_timestamp);
        facts::shipment_created(
            tx,
            &e.shipment_id,
            &e.order_id,
            e.direction,
            &e.warehouse_id,
            &e.carrier,
            eta,
            at(e.created_at.as_ref(), time),
        )
        .await?;
    } else if is!(ship::ShipmentStatusChanged) {
        let e = ship::ShipmentStatusChanged::decode(body)?;
        let eta = e.eta.as_ref().and_then(contracts::time::from_timestamp);
        facts::shipment_eta(tx, &e.shipment_id, &e.order_id, e.direction, eta).await?;
    } else if is!(ship::ShipmentDelivered) {
        let e = ship::ShipmentDelivered::decode(body)?;
        facts::shipment_delivered(
            tx,
            &e.shipment_id,
            &e.order_id,
            e.direction,
            at(e.delivered_at.as_ref(), time),
        )
        .await?;
    } else if is!(ship::ShipmentDeliveryFailed) {
        let e = ship::ShipmentDeliveryFailed::decode(body)?;
        facts::delivery_failed(
            tx,
            &e.shipment_id,
            e.attempt,
            &e.order_id,
            e.reason,
            at(e.failed_at.as_ref(), time),
        )
        .await?;
    } else if is!(fb::SurveyInvited) {
        let e = fb::SurveyInvited::decode(body)?;
        facts::survey_invited(
            tx,
            &e.survey_id,
            &e.order_id,
            at(e.invited_at.as_ref(), time),
        )
        .await?;
    } else if is!(fb::SurveySubmitted) {
        let e = fb::SurveySubmitted::decode(body)?;
        facts::survey_submitted(
            tx,
            &e.survey_id,
            &e.order_id,
            at(e.submitted_at.as_ref(), time),
            e.csat_score,
            e.nps_score,
        )
        .await?;
    } else if is!(fb::ReviewPublished) {
        let e = fb::ReviewPublished::decode(body)?;
        facts::review(
            tx,
            &e.review_id,
            &e.sku,
            &e.order_id,
            e.rating,
            at(e.published_at.as_ref(), time),
        )
        .await?;
    } else if is!(fb::CaseOpened) {
        let e = fb::CaseOpened::decode(body)?;
        let due = e
            .resolve_due_at
            .as_ref()
            .and_then(contracts::time::from_timestamp);
        facts::case_opened(
            tx,
            &e.case_id,
            &e.order_id,
            e.kind,
            at(e.opened_at.as_ref(), time),
            due,
        )
        .await?;
    } else if is!(fb::CaseResolved) {
        let e = fb::CaseResolved::decode(body)?;
        let opened = e
            .opened_at
            .as_ref()
            .and_then(contracts::time::from_timestamp);
        facts::case_resolved(
            tx,
            &e.case_id,
            &e.order_id,
            e.kind,
            opened,
            at(e.resolved_at.as_ref(), time),
            e.resolution,
            e.sla_breached,
        )
        .await?;
        if !e.order_id.is_empty() {
            // A resolved case ends the dispute (DESIGN §2a).
            facts::end_dispute(tx, &e.order_id, status::DISPUTED, status::ACCEPTED).await?;
        }
    } else if is!(fb::SlaBreached) {
        let e = fb::SlaBreached::decode(body)?;
        facts::sla_breached(
            tx,
            &e.case_id,
            &e.order_id,
            e.sla,
            at(e.breached_at.as_ref(), time),
        )
        .await?;
    }
    Ok(())
}
