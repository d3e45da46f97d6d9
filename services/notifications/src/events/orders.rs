//! Orders' events: received, confirmed, cancelled (with the short lines or the payment
//! decline), return approved — and, for staff, an order held for review.

use contracts::common::FulfillmentMode;
use contracts::orders::{
    CancelReason, OrderCancelled, OrderConfirmed, OrderHeld, OrderPlaced, ReturnApproved,
};
use messaging::{Envelope, Handler, HandlerError};
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::{Notifier, Source, amount, code, lines, when};
use crate::domain::messages::{
    ORDER_CANCELLED, ORDER_CONFIRMED, ORDER_RECEIVED, RETURN_APPROVED, STAFF_ORDER_HELD,
};
use crate::store::contacts;

impl Handler<OrderPlaced> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<OrderPlaced>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let contact = self
            .remember(tx, &e.order_id, &e.order_number, e.customer.as_ref())
            .await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            ORDER_RECEIVED,
            &contact,
            received(e),
        )
        .await
    }
}

fn received(e: &OrderPlaced) -> Value {
    json!({
        "total": amount(e.total.as_ref()),
        "lines": lines(&e.lines),
        "pickup": e.fulfillment_mode == FulfillmentMode::StorePickup as i32,
    })
}

impl Handler<OrderConfirmed> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<OrderConfirmed>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let contact = self
            .remember(tx, &e.order_id, &e.order_number, e.customer.as_ref())
            .await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            ORDER_CONFIRMED,
            &contact,
            confirmed(e),
        )
        .await
    }
}

fn confirmed(e: &OrderConfirmed) -> Value {
    json!({"total": amount(e.total.as_ref()), "lines": lines(&e.lines)})
}

impl Handler<OrderCancelled> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<OrderCancelled>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let contact = self
            .remember(tx, &e.order_id, &e.order_number, e.customer.as_ref())
            .await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            ORDER_CANCELLED,
            &contact,
            cancelled(e),
        )
        .await
    }
}

fn cancelled(e: &OrderCancelled) -> Value {
    let reason = CancelReason::try_from(e.reason).unwrap_or(CancelReason::Unspecified);
    json!({
        "reason": code(reason.as_str_name(), "CANCEL_REASON_"),
        // A free-text note is for the customer only when the customer wrote it.
        "note": if e.cancelled_by.is_empty() { String::new() } else { e.note.clone() },
        "short_lines": e.short_lines.iter().map(|l| json!({
            "sku": l.sku,
            "requested": l.requested_quantity,
            "available": l.available_quantity,
        })).collect::<Vec<_>>(),
        "total": amount(e.total.as_ref()),
    })
}

impl Handler<ReturnApproved> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReturnApproved>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let contact = self
            .remember(tx, &e.order_id, "", e.customer.as_ref())
            .await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            RETURN_APPROVED,
            &contact,
            return_approved(e),
        )
        .await
    }
}

fn return_approved(e: &ReturnApproved) -> Value {
    json!({"rma_number": e.rma_number})
}

impl Handler<OrderHeld> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<OrderHeld>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        // The held order's customer hears about it later (confirmed or rejected); keep their
        // contact for then.
        if !e.order_id.is_empty() {
            let contact = contacts::OrderContact {
                order_id: e.order_id.clone(),
                order_number: e.order_number.clone(),
                customer_id: e
                    .customer
                    .as_ref()
                    .map(|c| c.id.clone())
                    .unwrap_or_default(),
                ..Default::default()
            };
            contacts::upsert(tx, &contact, self.now()).await?;
        }
        self.to_staff(
            tx,
            &Source::of(envelope),
            STAFF_ORDER_HELD,
            &e.order_id,
            held(e),
        )
        .await
    }
}

fn held(e: &OrderHeld) -> Value {
    json!({
        "order_id": e.order_id,
        "order_number": if e.order_number.is_empty() { &e.order_id } else { &e.order_number },
        "total": amount(e.total.as_ref()),
        "risk_score": e.risk_score,
        "reasons": e.reasons.iter().map(|r| if r.description.is_empty() { r.code.clone() } else { r.description.clone() }).collect::<Vec<_>>(),
        "deadline": when(e.review_deadline.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::renders;
    use super::*;

    #[test]
    fn every_order_message_renders_from_its_event() {
        renders(ORDER_RECEIVED, received(&OrderPlaced::default()));
        renders(ORDER_CONFIRMED, confirmed(&OrderConfirmed::default()));
        renders(ORDER_CANCELLED, cancelled(&OrderCancelled::default()));
        renders(RETURN_APPROVED, return_approved(&ReturnApproved::default()));
        renders(STAFF_ORDER_HELD, held(&OrderHeld::default()));
    }
}
