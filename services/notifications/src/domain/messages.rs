//! Every message this service sends: its template and how it is treated. Template names are
//! what `Notification.template` shows and what files under `templates/<locale>/` are called.

use super::Topic;
use super::plan::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    pub template: &'static str,
    pub kind: Kind,
}

const fn customer(template: &'static str, topic: Topic, urgent: bool, essential: bool) -> Message {
    Message {
        template,
        kind: Kind {
            topic,
            urgent,
            essential,
        },
    }
}

const fn staff(template: &'static str) -> Message {
    Message {
        template,
        kind: Kind {
            topic: Topic::Operations,
            urgent: true,
            essential: true,
        },
    }
}

use Topic::{DeliveryUpdates, FeedbackRequests, OrderUpdates, PaymentUpdates, ReturnUpdates};

pub const ORDER_RECEIVED: Message = customer("order.received", OrderUpdates, false, false);
pub const ORDER_CONFIRMED: Message = customer("order.confirmed", OrderUpdates, false, false);
pub const ORDER_CANCELLED: Message = customer("order.cancelled", OrderUpdates, false, false);
/// An applied order update (lines, address or contact), asked for by the customer or on their
/// behalf: a confirmation like the order's own, muted with it.
pub const ORDER_UPDATED: Message = customer("order.updated", OrderUpdates, false, false);
pub const PAYMENT_DECLINED: Message = customer("payment.declined", PaymentUpdates, false, false);
/// Bank transfer instructions: the order waits for the money, against a deadline.
pub const PAYMENT_PENDING: Message = customer("payment.pending", PaymentUpdates, true, true);
pub const PAYMENT_REFUNDED: Message = customer("payment.refunded", PaymentUpdates, false, false);
/// An installment could not be charged: the customer can fix the card before the retry.
pub const INSTALLMENT_MISSED: Message = customer("installment.missed", PaymentUpdates, true, true);
pub const SHIPMENT_SHIPPED: Message = customer("shipment.shipped", DeliveryUpdates, false, false);
/// The courier is on the way today: no use tomorrow morning.
pub const SHIPMENT_OUT_FOR_DELIVERY: Message =
    customer("shipment.out_for_delivery", DeliveryUpdates, true, false);
pub const SHIPMENT_DELIVERED: Message =
    customer("shipment.delivered", DeliveryUpdates, false, false);
/// The customer may need to rearrange the next attempt.
pub const SHIPMENT_DELIVERY_FAILED: Message =
    customer("shipment.delivery_failed", DeliveryUpdates, true, false);
/// The pickup code: the order cannot be collected without it.
pub const PICKUP_READY: Message = customer("pickup.ready", DeliveryUpdates, false, true);
pub const RETURN_APPROVED: Message = customer("return.approved", ReturnUpdates, false, false);
pub const SURVEY_INVITED: Message = customer("survey.invited", FeedbackRequests, false, false);

pub const STAFF_ORDER_HELD: Message = staff("staff.order_held");
pub const STAFF_STOCK_LOW: Message = staff("staff.stock_low");
pub const STAFF_DEAD_LETTER: Message = staff("staff.dead_letter");
pub const STAFF_SLA_BREACHED: Message = staff("staff.sla_breached");

/// Every message, for the check that each has a template in every locale.
pub const ALL: [Message; 19] = [
    ORDER_RECEIVED,
    ORDER_CONFIRMED,
    ORDER_CANCELLED,
    ORDER_UPDATED,
    PAYMENT_DECLINED,
    PAYMENT_PENDING,
    PAYMENT_REFUNDED,
    INSTALLMENT_MISSED,
    SHIPMENT_SHIPPED,
    SHIPMENT_OUT_FOR_DELIVERY,
    SHIPMENT_DELIVERED,
    SHIPMENT_DELIVERY_FAILED,
    PICKUP_READY,
    RETURN_APPROVED,
    SURVEY_INVITED,
    STAFF_ORDER_HELD,
    STAFF_STOCK_LOW,
    STAFF_DEAD_LETTER,
    STAFF_SLA_BREACHED,
];
