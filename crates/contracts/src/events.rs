//! Which message travels on which subject. Subjects are relative to the deployment's root
//! (`oc` by default): `orders.order.placed` is published as `oc.orders.order.placed` on the
//! `OC_ORDERS` stream. `docs/events.md` is the human-readable catalogue of the same table.

/// An event message: a protobuf message bound to one subject.
pub trait Event: prost::Message + prost::Name + Default + Clone + Send + Sync + 'static {
    /// `<service>.<aggregate>.<event>`, relative to the root.
    const SUBJECT: &'static str;

    /// The id of the aggregate the event is about (CloudEvents `ce-subject`).
    fn aggregate_id(&self) -> String;
}

/// One row of the catalogue: subject, protobuf full name.
#[derive(Debug, Clone, Copy)]
pub struct EventInfo {
    pub subject: &'static str,
    pub type_name: &'static str,
}

macro_rules! events {
    ($($ty:ty => $subject:literal by $field:ident, as $name:literal;)*) => {
        $(
            impl Event for $ty {
                const SUBJECT: &'static str = $subject;

                fn aggregate_id(&self) -> String {
                    self.$field.clone()
                }
            }
        )*

        /// Every event ordercycle publishes.
        pub const EVENTS: &[EventInfo] = &[
            $(EventInfo { subject: $subject, type_name: $name },)*
        ];
    };
}

events! {
    crate::orders::OrderPlaced => "orders.order.placed" by order_id, as "ordercycle.orders.v1.OrderPlaced";
    crate::orders::OrderHeld => "orders.order.held" by order_id, as "ordercycle.orders.v1.OrderHeld";
    crate::orders::OrderApproved => "orders.order.approved" by order_id, as "ordercycle.orders.v1.OrderApproved";
    crate::orders::OrderRejected => "orders.order.rejected" by order_id, as "ordercycle.orders.v1.OrderRejected";
    crate::orders::ReservationRequested => "orders.reservation.requested" by reservation_id, as "ordercycle.orders.v1.ReservationRequested";
    crate::orders::PaymentRequested => "orders.payment.requested" by order_id, as "ordercycle.orders.v1.PaymentRequested";
    crate::orders::OrderConfirmed => "orders.order.confirmed" by order_id, as "ordercycle.orders.v1.OrderConfirmed";
    crate::orders::ReservationConfirmRequested => "orders.reservation.confirm_requested" by reservation_id, as "ordercycle.orders.v1.ReservationConfirmRequested";
    crate::orders::FulfillmentRequested => "orders.fulfillment.requested" by order_id, as "ordercycle.orders.v1.FulfillmentRequested";
    crate::orders::ReservationCommitRequested => "orders.reservation.commit_requested" by reservation_id, as "ordercycle.orders.v1.ReservationCommitRequested";
    crate::orders::PaymentCaptureRequested => "orders.payment.capture_requested" by order_id, as "ordercycle.orders.v1.PaymentCaptureRequested";
    crate::orders::OrderDelivered => "orders.order.delivered" by order_id, as "ordercycle.orders.v1.OrderDelivered";
    crate::orders::OrderAccepted => "orders.order.accepted" by order_id, as "ordercycle.orders.v1.OrderAccepted";
    crate::orders::OrderProblemReported => "orders.order.problem_reported" by order_id, as "ordercycle.orders.v1.OrderProblemReported";
    crate::orders::OrderCompleted => "orders.order.completed" by order_id, as "ordercycle.orders.v1.OrderCompleted";
    crate::orders::OrderCancelled => "orders.order.cancelled" by order_id, as "ordercycle.orders.v1.OrderCancelled";
    crate::orders::ReservationReleaseRequested => "orders.reservation.release_requested" by reservation_id, as "ordercycle.orders.v1.ReservationReleaseRequested";
    crate::orders::PaymentVoidRequested => "orders.payment.void_requested" by order_id, as "ordercycle.orders.v1.PaymentVoidRequested";
    crate::orders::PaymentRefundRequested => "orders.payment.refund_requested" by order_id, as "ordercycle.orders.v1.PaymentRefundRequested";
    crate::orders::FulfillmentCancelRequested => "orders.fulfillment.cancel_requested" by order_id, as "ordercycle.orders.v1.FulfillmentCancelRequested";
    crate::orders::ReturnRequested => "orders.return.requested" by return_id, as "ordercycle.orders.v1.ReturnRequested";
    crate::orders::ReturnApproved => "orders.return.approved" by return_id, as "ordercycle.orders.v1.ReturnApproved";
    crate::orders::ReturnRejected => "orders.return.rejected" by return_id, as "ordercycle.orders.v1.ReturnRejected";
    crate::orders::ReturnClosed => "orders.return.closed" by return_id, as "ordercycle.orders.v1.ReturnClosed";
    crate::orders::ReturnShipmentRequested => "orders.return_shipment.requested" by return_id, as "ordercycle.orders.v1.ReturnShipmentRequested";
    crate::orders::RestockRequested => "orders.restock.requested" by return_id, as "ordercycle.orders.v1.RestockRequested";
    crate::inventory::StockReserved => "inventory.reservation.reserved" by reservation_id, as "ordercycle.inventory.v1.StockReserved";
    crate::inventory::StockShortage => "inventory.reservation.shortage" by reservation_id, as "ordercycle.inventory.v1.StockShortage";
    crate::inventory::ReservationExpired => "inventory.reservation.expired" by reservation_id, as "ordercycle.inventory.v1.ReservationExpired";
    crate::inventory::ItemUpserted => "inventory.item.upserted" by sku, as "ordercycle.inventory.v1.ItemUpserted";
    crate::inventory::StockLow => "inventory.stock.low" by sku, as "ordercycle.inventory.v1.StockLow";
    crate::payments::RiskAssessed => "payments.risk.assessed" by order_id, as "ordercycle.payments.v1.RiskAssessed";
    crate::payments::PaymentPending => "payments.payment.pending" by payment_id, as "ordercycle.payments.v1.PaymentPending";
    crate::payments::PaymentAuthorized => "payments.payment.authorized" by payment_id, as "ordercycle.payments.v1.PaymentAuthorized";
    crate::payments::PaymentDeclined => "payments.payment.declined" by payment_id, as "ordercycle.payments.v1.PaymentDeclined";
    crate::payments::PaymentCaptured => "payments.payment.captured" by payment_id, as "ordercycle.payments.v1.PaymentCaptured";
    crate::payments::PaymentVoided => "payments.payment.voided" by payment_id, as "ordercycle.payments.v1.PaymentVoided";
    crate::payments::PaymentRefunded => "payments.payment.refunded" by payment_id, as "ordercycle.payments.v1.PaymentRefunded";
    crate::payments::OrderSettled => "payments.order.settled" by order_id, as "ordercycle.payments.v1.OrderSettled";
    crate::fulfillment::FulfillmentCreated => "fulfillment.fulfillment.created" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentCreated";
    crate::fulfillment::FulfillmentPicked => "fulfillment.fulfillment.picked" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentPicked";
    crate::fulfillment::FulfillmentShortPicked => "fulfillment.fulfillment.short_picked" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentShortPicked";
    crate::fulfillment::ParcelPacked => "fulfillment.fulfillment.packed" by fulfillment_id, as "ordercycle.fulfillment.v1.ParcelPacked";
    crate::fulfillment::ParcelHandedOver => "fulfillment.fulfillment.handed_over" by fulfillment_id, as "ordercycle.fulfillment.v1.ParcelHandedOver";
    crate::fulfillment::FulfillmentReadyForPickup => "fulfillment.fulfillment.ready_for_pickup" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentReadyForPickup";
    crate::fulfillment::FulfillmentPickedUp => "fulfillment.fulfillment.picked_up" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentPickedUp";
    crate::fulfillment::FulfillmentCancelled => "fulfillment.fulfillment.cancelled" by fulfillment_id, as "ordercycle.fulfillment.v1.FulfillmentCancelled";
    crate::fulfillment::ReturnReceived => "fulfillment.return.received" by return_id, as "ordercycle.fulfillment.v1.ReturnReceived";
    crate::fulfillment::ReturnInspected => "fulfillment.return.inspected" by return_id, as "ordercycle.fulfillment.v1.ReturnInspected";
    crate::shipping::ShipmentCreated => "shipping.shipment.created" by shipment_id, as "ordercycle.shipping.v1.ShipmentCreated";
    crate::shipping::ShipmentStatusChanged => "shipping.shipment.status_changed" by shipment_id, as "ordercycle.shipping.v1.ShipmentStatusChanged";
    crate::shipping::ShipmentDelivered => "shipping.shipment.delivered" by shipment_id, as "ordercycle.shipping.v1.ShipmentDelivered";
    crate::shipping::ShipmentDeliveryFailed => "shipping.shipment.delivery_failed" by shipment_id, as "ordercycle.shipping.v1.ShipmentDeliveryFailed";
    crate::feedback::CaseOpened => "feedback.case.opened" by case_id, as "ordercycle.feedback.v1.CaseOpened";
    crate::feedback::CaseResolved => "feedback.case.resolved" by case_id, as "ordercycle.feedback.v1.CaseResolved";
    crate::feedback::SlaBreached => "feedback.sla.breached" by case_id, as "ordercycle.feedback.v1.SlaBreached";
    crate::feedback::SurveySubmitted => "feedback.survey.submitted" by survey_id, as "ordercycle.feedback.v1.SurveySubmitted";
    crate::feedback::ReviewPublished => "feedback.review.published" by review_id, as "ordercycle.feedback.v1.ReviewPublished";
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
