//! Which message travels on which subject. Subjects are relative to the deployment's root
//! (`oc` by default): `orders.order.placed` is published as `oc.orders.order.placed` on the
//! `OC_ORDERS` stream. `docs/events.md` is the human-readable catalogue of the same table.

/// A message that may be about one order: `Some` when it has an `order_id` field. Implemented
/// for every generated message by `build.rs`.
pub trait OrderScoped {
    fn order_id(&self) -> Option<&str>;
}

/// An event message: a protobuf message bound to one subject.
pub trait Event: prost::Message + prost::Name + Default + Clone + Send + Sync + 'static {
    /// `<service>.<aggregate>.<event>`, relative to the root.
    const SUBJECT: &'static str;

    /// The id of the aggregate the event is about (CloudEvents `ce-subject`).
    fn aggregate_id(&self) -> String;

    /// The order the event is about, if any: consumers put it on their spans, so every log
    /// line of the handler names the order.
    fn order_id(&self) -> Option<&str> {
        None
    }
}

/// One row of the catalogue: subject, protobuf full name.
#[derive(Debug, Clone, Copy)]
pub struct EventInfo {
    pub subject: &'static str,
    pub type_name: &'static str,
    /// The services that subscribe to it (DESIGN §2a).
    pub consumers: &'static [&'static str],
}

impl EventInfo {
    /// The service that publishes it: the subject's first token.
    pub fn producer(&self) -> &'static str {
        self.subject.split('.').next().unwrap_or(self.subject)
    }
}

/// The catalogue of every event as Markdown: `docs/events.md` is this text, and a test fails
/// when the two drift apart.
pub fn catalogue_markdown() -> String {
    let mut out = String::from(
        "# Events\n\n\
         Every event ordercycle publishes on NATS JetStream. Generated from\n\
         `crates/contracts/src/events.rs` (`cargo run -p ordercycle -- events`, or\n\
         `OC_BLESS=1 cargo test -p contracts` to rewrite this file);\n\
         a test fails when this file and the code disagree.\n\n\
         - Subject: `<root>.<subject>`, root `oc` by default (`OC_SUBJECT_ROOT`). Each producer has\n  \
           one stream, `<ROOT>_<SERVICE>` with subjects `<root>.<service>.>`.\n\
         - Body: the protobuf message (`content-type: application/protobuf`); decode it with the\n  \
           files under `proto/`.\n\
         - Headers (CloudEvents binary mode): `ce-specversion`, `ce-id` (= `Nats-Msg-Id`, the event\n  \
           id), `ce-type` (the message's full name), `ce-source` (`ordercycle/<service>`), `ce-time`,\n  \
           `ce-subject` (the aggregate id), `traceparent` (W3C trace context).\n\
         - Delivery is at least once: consumers deduplicate by `ce-id`.\n\n\
         | subject | message | producer | consumers |\n|---|---|---|---|\n",
    );
    for info in EVENTS {
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            info.subject,
            info.type_name,
            info.producer(),
            info.consumers.join(", ")
        ));
    }
    out
}

macro_rules! events {
    ($($ty:ty => $subject:literal by $field:ident, as $name:literal, to [$($consumer:literal),*];)*) => {
        $(
            impl Event for $ty {
                const SUBJECT: &'static str = $subject;

                fn aggregate_id(&self) -> String {
                    self.$field.clone()
                }

                fn order_id(&self) -> Option<&str> {
                    OrderScoped::order_id(self)
                }
            }
        )*

        /// Every event ordercycle publishes.
        pub const EVENTS: &[EventInfo] = &[
            $(EventInfo { subject: $subject, type_name: $name, consumers: &[$($consumer),*] },)*
        ];
    };
}

events! {
    crate::orders::OrderPlaced => "orders.order.placed" by order_id, as "ordercycle.orders.v1.OrderPlaced", to ["payments", "notifications", "analytics"];
    crate::orders::OrderHeld => "orders.order.held" by order_id, as "ordercycle.orders.v1.OrderHeld", to ["notifications", "analytics"];
    crate::orders::OrderApproved => "orders.order.approved" by order_id, as "ordercycle.orders.v1.OrderApproved", to ["notifications", "analytics"];
    crate::orders::OrderRejected => "orders.order.rejected" by order_id, as "ordercycle.orders.v1.OrderRejected", to ["notifications", "analytics"];
    crate::orders::ReservationRequested => "orders.reservation.requested" by reservation_id, as "ordercycle.orders.v1.ReservationRequested", to ["inventory"];
    crate::orders::PaymentRequested => "orders.payment.requested" by order_id, as "ordercycle.orders.v1.PaymentRequested", to ["payments"];
    crate::orders::OrderConfirmed => "orders.order.confirmed" by order_id, as "ordercycle.orders.v1.OrderConfirmed", to ["notifications", "analytics"];
    crate::orders::ReservationConfirmRequested => "orders.reservation.confirm_requested" by reservation_id, as "ordercycle.orders.v1.ReservationConfirmRequested", to ["inventory"];
    crate::orders::FulfillmentRequested => "orders.fulfillment.requested" by order_id, as "ordercycle.orders.v1.FulfillmentRequested", to ["fulfillment"];
    crate::orders::ReservationCommitRequested => "orders.reservation.commit_requested" by reservation_id, as "ordercycle.orders.v1.ReservationCommitRequested", to ["inventory"];
    crate::orders::PaymentCaptureRequested => "orders.payment.capture_requested" by order_id, as "ordercycle.orders.v1.PaymentCaptureRequested", to ["payments"];
    crate::orders::OrderDelivered => "orders.order.delivered" by order_id, as "ordercycle.orders.v1.OrderDelivered", to ["feedback", "analytics"];
    crate::orders::OrderAccepted => "orders.order.accepted" by order_id, as "ordercycle.orders.v1.OrderAccepted", to ["feedback", "analytics"];
    crate::orders::OrderProblemReported => "orders.order.problem_reported" by order_id, as "ordercycle.orders.v1.OrderProblemReported", to ["feedback", "analytics"];
    crate::orders::OrderCompleted => "orders.order.completed" by order_id, as "ordercycle.orders.v1.OrderCompleted", to ["notifications", "analytics"];
    crate::orders::OrderCancelled => "orders.order.cancelled" by order_id, as "ordercycle.orders.v1.OrderCancelled", to ["notifications", "analytics"];
    crate::orders::ReservationReleaseRequested => "orders.reservation.release_requested" by reservation_id, as "ordercycle.orders.v1.ReservationReleaseRequested", to ["inventory"];
    crate::orders::PaymentVoidRequested => "orders.payment.void_requested" by order_id, as "ordercycle.orders.v1.PaymentVoidRequested", to ["payments"];
    crate::orders::PaymentRefundRequested => "orders.payment.refund_requested" by order_id, as "ordercycle.orders.v1.PaymentRefundRequested", to ["payments"];
    crate::orders::FulfillmentCancelRequested => "orders.fulfillment.cancel_requested" by order_id, as "ordercycle.orders.v1.FulfillmentCancelRequested", to ["fulfillment"];
    crate::orders::ReturnRequested => "orders.return.requested" by return_id, as "ordercycle.orders.v1.ReturnRequested", to ["notifications", "analytics"];
    crate::orders::ReturnApproved => "orders.return.approved" by return_id, as "ordercycle.orders.v1.ReturnApproved", to ["notifications", "analytics"];
    crate::orders::ReturnRejected => "orders.return.rejected" by return_id, as "ordercycle.orders.v1.ReturnRejected", to ["notifications", "analytics"];
    crate::orders::ReturnClosed => "orders.return.closed" by return_id, as "ordercycle.orders.v1.ReturnClosed", to ["notifications", "analytics"];
    crate::orders::ReturnShipmentRequested => "orders.return_shipment.requested" by return_id, as "ordercycle.orders.v1.ReturnShipmentRequested", to ["shipping"];
    crate::orders::RestockRequested => "orders.restock.requested" by return_id, as "ordercycle.orders.v1.RestockRequested", to ["inventory"];
    crate::orders::ReservationAmendRequested => "orders.reservation.amend_requested" by reservation_id, as "ordercycle.orders.v1.ReservationAmendRequested", to ["inventory"];
    crate::orders::PaymentAmendRequested => "orders.payment.amend_requested" by order_id, as "ordercycle.orders.v1.PaymentAmendRequested", to ["payments"];
    crate::orders::FulfillmentAmendRequested => "orders.fulfillment.amend_requested" by order_id, as "ordercycle.orders.v1.FulfillmentAmendRequested", to ["fulfillment"];
    crate::orders::OrderUpdated => "orders.order.updated" by order_id, as "ordercycle.orders.v1.OrderUpdated", to ["notifications", "analytics"];
    crate::orders::CustomerDataErased => "orders.customer.erased" by erasure_id, as "ordercycle.orders.v1.CustomerDataErased", to ["payments", "fulfillment", "shipping", "notifications", "feedback", "analytics"];
    crate::inventory::StockReserved => "inventory.reservation.reserved" by reservation_id, as "ordercycle.inventory.v1.StockReserved", to ["orders"];
    crate::inventory::StockShortage => "inventory.reservation.shortage" by reservation_id, as "ordercycle.inventory.v1.StockShortage", to ["orders"];
    crate::inventory::ReservationExpired => "inventory.reservation.expired" by reservation_id, as "ordercycle.inventory.v1.ReservationExpired", to ["orders"];
    crate::inventory::ReservationAmended => "inventory.reservation.amended" by reservation_id, as "ordercycle.inventory.v1.ReservationAmended", to ["orders", "analytics"];
    crate::inventory::ReservationAmendRefused => "inventory.reservation.amend_refused" by reservation_id, as "ordercycle.inventory.v1.ReservationAmendRefused", to ["orders", "analytics"];
    crate::inventory::ItemUpserted => "inventory.item.upserted" by sku, as "ordercycle.inventory.v1.ItemUpserted", to ["orders"];
    crate::inventory::StockLow => "inventory.stock.low" by sku, as "ordercycle.inventory.v1.StockLow", to ["notifications", "analytics"];
    crate::payments::RiskAssessed => "payments.risk.assessed" by order_id, as "ordercycle.payments.v1.RiskAssessed", to ["orders"];
    crate::payments::PaymentPending => "payments.payment.pending" by payment_id, as "ordercycle.payments.v1.PaymentPending", to ["orders", "notifications"];
    crate::payments::PaymentAuthorized => "payments.payment.authorized" by payment_id, as "ordercycle.payments.v1.PaymentAuthorized", to ["orders"];
    crate::payments::PaymentDeclined => "payments.payment.declined" by payment_id, as "ordercycle.payments.v1.PaymentDeclined", to ["orders", "notifications"];
    crate::payments::PaymentCaptured => "payments.payment.captured" by payment_id, as "ordercycle.payments.v1.PaymentCaptured", to ["orders", "notifications", "analytics"];
    crate::payments::PaymentVoided => "payments.payment.voided" by payment_id, as "ordercycle.payments.v1.PaymentVoided", to ["orders", "notifications", "analytics"];
    crate::payments::PaymentRefunded => "payments.payment.refunded" by payment_id, as "ordercycle.payments.v1.PaymentRefunded", to ["orders", "notifications", "analytics"];
    crate::payments::PaymentAmended => "payments.payment.amended" by payment_id, as "ordercycle.payments.v1.PaymentAmended", to ["orders", "analytics"];
    crate::payments::PaymentAmendDeclined => "payments.payment.amend_declined" by payment_id, as "ordercycle.payments.v1.PaymentAmendDeclined", to ["orders", "analytics"];
    crate::payments::OrderSettled => "payments.order.settled" by order_id, as "ordercycle.payments.v1.OrderSettled", to ["orders"];
    crate::payments::InstallmentMissed => "payments.installment.missed" by plan_id, as "ordercycle.payments.v1.InstallmentMissed", to ["notifications", "analytics"];
    crate::fulfillment::FulfillmentCreated => "fulfillment.fulfillment.created" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentCreated", to ["orders", "notifications", "analytics"];
    crate::fulfillment::FulfillmentPicked => "fulfillment.fulfillment.picked" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentPicked", to ["orders", "notifications", "analytics"];
    crate::fulfillment::FulfillmentShortPicked => "fulfillment.fulfillment.short_picked" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentShortPicked", to ["orders", "notifications", "analytics"];
    crate::fulfillment::ParcelPacked => "fulfillment.fulfillment.packed" by fulfillment_id, as "ordercycle.fulfillment.v1.ParcelPacked", to ["orders", "notifications", "analytics"];
    crate::fulfillment::ParcelHandedOver => "fulfillment.fulfillment.handed_over" by fulfillment_id, as "ordercycle.fulfillment.v1.ParcelHandedOver", to ["orders", "notifications", "analytics"];
    crate::fulfillment::FulfillmentReadyForPickup => "fulfillment.fulfillment.ready_for_pickup" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentReadyForPickup", to ["orders", "notifications", "analytics"];
    crate::fulfillment::FulfillmentPickedUp => "fulfillment.fulfillment.picked_up" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentPickedUp", to ["orders", "notifications", "analytics"];
    crate::fulfillment::FulfillmentCancelled => "fulfillment.fulfillment.cancelled" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentCancelled", to ["orders", "notifications", "analytics"];
    crate::fulfillment::FulfillmentAmended => "fulfillment.order.amended" by order_id, as "ordercycle.fulfillment.v1.FulfillmentAmended", to ["orders", "analytics"];
    crate::fulfillment::FulfillmentAmendRefused => "fulfillment.order.amend_refused" by order_id, as "ordercycle.fulfillment.v1.FulfillmentAmendRefused", to ["orders", "analytics"];
    crate::fulfillment::ReturnReceived => "fulfillment.return.received" by return_id, as "ordercycle.fulfillment.v1.ReturnReceived", to ["orders"];
    crate::fulfillment::ReturnInspected => "fulfillment.return.inspected" by return_id, as "ordercycle.fulfillment.v1.ReturnInspected", to ["orders"];
    crate::shipping::ShipmentCreated => "shipping.shipment.created" by shipment_id, as "ordercycle.shipping.v1.ShipmentCreated", to ["orders", "notifications", "analytics"];
    crate::shipping::ShipmentStatusChanged => "shipping.shipment.status_changed" by shipment_id, as "ordercycle.shipping.v1.ShipmentStatusChanged", to ["orders", "notifications", "analytics"];
    crate::shipping::ShipmentDelivered => "shipping.shipment.delivered" by shipment_id, as "ordercycle.shipping.v1.ShipmentDelivered", to ["orders", "notifications", "analytics"];
    crate::shipping::ShipmentDeliveryFailed => "shipping.shipment.delivery_failed" by shipment_id, as "ordercycle.shipping.v1.ShipmentDeliveryFailed", to ["orders", "notifications", "analytics"];
    crate::feedback::CaseOpened => "feedback.case.opened" by case_id, as "ordercycle.feedback.v1.CaseOpened", to ["analytics"];
    crate::feedback::CaseResolved => "feedback.case.resolved" by case_id, as "ordercycle.feedback.v1.CaseResolved", to ["orders", "analytics"];
    crate::feedback::SlaBreached => "feedback.sla.breached" by case_id, as "ordercycle.feedback.v1.SlaBreached", to ["notifications", "analytics"];
    crate::feedback::SurveyInvited => "feedback.survey.invited" by survey_id, as "ordercycle.feedback.v1.SurveyInvited", to ["notifications", "analytics"];
    crate::feedback::SurveySubmitted => "feedback.survey.submitted" by survey_id, as "ordercycle.feedback.v1.SurveySubmitted", to ["analytics"];
    crate::feedback::ReviewPublished => "feedback.review.published" by review_id, as "ordercycle.feedback.v1.ReviewPublished", to ["analytics"];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_is_unique_and_names_its_producer_first() {
        let mut seen = std::collections::HashSet::new();
        for info in EVENTS {
            assert!(seen.insert(info.subject), "{} twice", info.subject);
            let producer = info.subject.split('.').next().unwrap();
            assert!(
                info.type_name
                    .starts_with(&format!("ordercycle.{producer}.v1.")),
                "{} is published by {producer} but typed {}",
                info.subject,
                info.type_name
            );
        }
    }

    #[test]
    fn docs_events_md_is_the_generated_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/events.md");
        if std::env::var_os("OC_BLESS").is_some() {
            std::fs::write(path, catalogue_markdown()).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == catalogue_markdown(),
            "docs/events.md is stale: run `OC_BLESS=1 cargo test -p contracts`"
        );
    }

    #[test]
    fn an_event_with_an_order_id_field_names_its_order() {
        let placed = crate::orders::OrderPlaced {
            order_id: "o-1".into(),
            ..Default::default()
        };
        assert_eq!(Event::order_id(&placed), Some("o-1"));
        assert_eq!(
            Event::order_id(&crate::inventory::StockLow::default()),
            None
        );
    }

    #[test]
    fn the_type_name_matches_the_generated_message() {
        use prost::Name as _;
        assert_eq!(
            crate::orders::OrderPlaced::full_name(),
            "ordercycle.orders.v1.OrderPlaced"
        );
        assert_eq!(
            <crate::orders::OrderPlaced as Event>::SUBJECT,
            "orders.order.placed"
        );
    }
}
