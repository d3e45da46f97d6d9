//! Orders' events: received, confirmed, updated (the lines and total after the update, the
//! difference, the new address), cancelled (with the short lines or the payment decline),
//! return approved — and, for staff, an order held for review.

use contracts::common::{self, FulfillmentMode};
use contracts::orders::{
    CancelReason, OrderCancelled, OrderConfirmed, OrderHeld, OrderPlaced, OrderUpdated,
    ReturnApproved,
};
use messaging::{Envelope, Handler, HandlerError};
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::{Notifier, Source, amount, code, lines, when};
use crate::domain::messages::{
    ORDER_CANCELLED, ORDER_CONFIRMED, ORDER_RECEIVED, ORDER_UPDATED, RETURN_APPROVED,
    STAFF_ORDER_HELD,
};
use crate::domain::money;
use crate::store::contacts::{self, OrderContact};

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

impl Handler<OrderUpdated> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<OrderUpdated>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let source = Source::of(envelope);
        // Read before `remember` replaces it: the old contact is in earlier messages.
        let previous = contacts::get(tx, &e.order_id).await?;
        if let Some(details) = update_details(e, previous.as_ref()) {
            contacts::keep_update_details(tx, &e.order_id, &source.event_id, &details, self.now())
                .await?;
        }
        let contact = self
            .remember(tx, &e.order_id, &e.order_number, e.customer.as_ref())
            .await?;
        self.to_customer(tx, &source, ORDER_UPDATED, &contact, updated(e))
            .await
    }
}

fn updated(e: &OrderUpdated) -> Value {
    let address = match (&e.shipping_address, e.address_changed) {
        (Some(a), true) => address_lines(a),
        _ => Vec::new(),
    };
    json!({
        "lines": lines(&e.lines),
        "total": amount(e.total.as_ref()),
        "total_before": amount(e.total_before.as_ref()),
        "difference": difference(e.total_before.as_ref(), e.total.as_ref()),
        "address": address,
        "contact_changed": e.contact_changed,
    })
}

/// `+3.50 EUR` / `-6.50 EUR`; empty when nothing changed or the amounts cannot be compared.
fn difference(before: Option<&common::Money>, after: Option<&common::Money>) -> String {
    let (Some(before), Some(after)) = (before, after) else {
        return String::new();
    };
    if before.currency_code != after.currency_code {
        return String::new();
    }
    match after.amount_minor.checked_sub(before.amount_minor) {
        Some(0) | None => String::new(),
        Some(d) if d > 0 => format!("+{}", money::format(d, &after.currency_code)),
        Some(d) => money::format(d, &after.currency_code),
    }
}

/// An address as it is written on a parcel, one part a line, empty parts left out.
fn address_lines(a: &common::Address) -> Vec<String> {
    let town = format!("{} {}", a.postal_code, a.city).trim().to_owned();
    [
        &a.recipient,
        &a.line1,
        &a.line2,
        &town,
        &a.region,
        &a.country_code,
    ]
    .into_iter()
    .filter(|part| !part.is_empty())
    .cloned()
    .collect()
}

/// What an update's message names besides the contact it leaves in `order_contacts`: the new
/// address and the contact it replaced — `None` when neither changed.
fn update_details(e: &OrderUpdated, previous: Option<&OrderContact>) -> Option<Value> {
    let mut details = serde_json::Map::new();
    if let (Some(a), true) = (&e.shipping_address, e.address_changed) {
        details.insert(
            "address".into(),
            json!({"recipient": a.recipient, "line1": a.line1, "line2": a.line2, "phone": a.phone}),
        );
    }
    if let (Some(p), true) = (previous, e.contact_changed) {
        details.insert(
            "replaced".into(),
            json!({"name": p.name, "email": p.email, "phone": p.phone}),
        );
    }
    (!details.is_empty()).then_some(Value::Object(details))
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
        renders(ORDER_UPDATED, updated(&OrderUpdated::default()));
        renders(RETURN_APPROVED, return_approved(&ReturnApproved::default()));
        renders(STAFF_ORDER_HELD, held(&OrderHeld::default()));
    }

    fn eur(amount_minor: i64) -> Option<common::Money> {
        Some(common::Money {
            currency_code: "EUR".into(),
            amount_minor,
        })
    }

    #[test]
    fn the_difference_carries_its_sign_and_only_when_there_is_one() {
        assert_eq!(
            difference(eur(2500).as_ref(), eur(2850).as_ref()),
            "+3.50 EUR"
        );
        assert_eq!(
            difference(eur(2500).as_ref(), eur(1850).as_ref()),
            "-6.50 EUR"
        );
        assert_eq!(difference(eur(2500).as_ref(), eur(2500).as_ref()), "");
        assert_eq!(difference(None, eur(2500).as_ref()), "");
        let usd = common::Money {
            currency_code: "USD".into(),
            amount_minor: 1,
        };
        assert_eq!(difference(eur(2500).as_ref(), Some(&usd)), "");
    }

    #[test]
    fn an_update_keeps_only_what_it_changed_for_erasure() {
        let address = common::Address {
            recipient: "Mei Lin".into(),
            line1: "Hauptstr. 1".into(),
            city: "Berlin".into(),
            postal_code: "10115".into(),
            country_code: "DE".into(),
            ..Default::default()
        };
        let previous = OrderContact {
            name: "Mei".into(),
            email: "old@example.com".into(),
            ..Default::default()
        };
        let mut e = OrderUpdated {
            shipping_address: Some(address.clone()),
            ..Default::default()
        };
        assert_eq!(update_details(&e, Some(&previous)), None);
        assert!(updated(&e)["address"].as_array().unwrap().is_empty());
        e.address_changed = true;
        e.contact_changed = true;
        let details = update_details(&e, Some(&previous)).unwrap();
        assert_eq!(details["address"]["line1"], "Hauptstr. 1");
        assert_eq!(details["replaced"]["email"], "old@example.com");
        assert_eq!(
            updated(&e)["address"],
            json!(["Mei Lin", "Hauptstr. 1", "10115 Berlin", "DE"])
        );
    }
}
