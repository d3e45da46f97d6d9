//! One known week of the order cycle, as the producers would publish it (times inside the
//! events; 2026-03-02 is day 0):
//!
//! | order | channel | customer | lines | what happens |
//! |---|---|---|---|---|
//! | A | web | c1 | 2×TEA 1250 + 1×MUG 1000 = 3500 | placed 0d10:00, confirmed 10:30, handed over 12:30 (W1, 800 g, ETA 1d18:00), delivered 1d12:30, accepted 2d12:30, completed 2d13:00 |
//! | B | app | c2 | 4×TEA 1250 = 5000 | placed 0d11:00, confirmed 12:00, handed over 14:00 (W1, 1200 g, ETA 1d10:00), failed 1d09:00, delivered 2d11:00 (late), 2 TEA returned (wrong size) 3d10:00–16:00, 2500 refunded |
//! | C | web | c1 | 1×MUG 1000 | placed 0d12:00, held 12:00, approved 14:00, confirmed 14:30 |
//! | D | phone | c3 | 1×TEA 1250, cash on delivery | placed 1d09:00, stock shortage, cancelled 09:05 |
//! | E | web | c4 | 1×MUG 1000 | placed 1d10:00, card declined 10:01, cancelled 10:02 |
//!
//! Surveys for A (CSAT 2, NPS 5) and B (CSAT 4, NPS 9); one five-star review of TEA; a case
//! opened 3d09:00 and resolved 15:00 with a refund, one SLA breach; TEA low in W1 at 1d09:00.

use contracts::common::{
    Address, CaseResolution, Channel, Customer, FulfillmentMode, Money, PaymentMethod, ReturnReason,
};
use contracts::feedback::{
    CaseKind, CaseOpened, CaseResolved, ReviewPublished, SlaBreached, SlaKind, SurveyInvited,
    SurveySubmitted,
};
use contracts::fulfillment::{
    FulfillmentCreated, FulfillmentPicked, ParcelHandedOver, ParcelLine, ParcelPacked,
};
use contracts::inventory::{ShortLine, StockLow, StockShortage};
use contracts::orders::{
    CancelReason, OrderAccepted, OrderApproved, OrderCancelled, OrderCompleted, OrderConfirmed,
    OrderDelivered, OrderHeld, OrderLine, OrderPlaced, ReturnClosed, ReturnLine, ReturnOutcome,
    ReturnRequested, ReturnResolution,
};
use contracts::payments::{PaymentAuthorized, PaymentDeclined, PaymentRefunded};
use contracts::shipping::{
    ShipmentCreated, ShipmentDelivered, ShipmentDeliveryFailed, ShipmentDirection,
};

use crate::helpers::{TestApp, t, ts};

pub fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        currency_code: "EUR".into(),
        amount_minor,
    })
}

pub fn line(id: &str, sku: &str, quantity: i32, unit: i64) -> OrderLine {
    OrderLine {
        line_id: id.into(),
        sku: sku.into(),
        quantity,
        unit_price: eur(unit),
        line_total: eur(unit * i64::from(quantity)),
        ..Default::default()
    }
}

fn customer(id: &str) -> Option<Customer> {
    Some(Customer {
        id: id.into(),
        name: "Test Customer".into(),
        ..Default::default()
    })
}

pub struct Order {
    pub id: &'static str,
    pub channel: Channel,
    pub customer: &'static str,
    pub lines: Vec<OrderLine>,
    pub method: PaymentMethod,
    pub country: &'static str,
    pub placed: chrono::DateTime<chrono::Utc>,
}

impl Order {
    pub fn total(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| l.line_total.as_ref().unwrap().amount_minor)
            .sum()
    }

    pub fn placed(&self) -> OrderPlaced {
        OrderPlaced {
            order_id: self.id.into(),
            order_number: format!("OC-{}", self.id),
            customer: customer(self.customer),
            channel: self.channel as i32,
            fulfillment_mode: FulfillmentMode::Ship as i32,
            lines: self.lines.clone(),
            total: eur(self.total()),
            payment_method: self.method as i32,
            shipping_address: Some(Address {
                country_code: self.country.into(),
                region: "R1".into(),
                ..Default::default()
            }),
            placed_at: ts(self.placed),
            ..Default::default()
        }
    }

    pub fn confirmed(&self, at: chrono::DateTime<chrono::Utc>) -> OrderConfirmed {
        OrderConfirmed {
            order_id: self.id.into(),
            order_number: format!("OC-{}", self.id),
            customer: customer(self.customer),
            channel: self.channel as i32,
            fulfillment_mode: FulfillmentMode::Ship as i32,
            lines: self.lines.clone(),
            total: eur(self.total()),
            payment_method: self.method as i32,
            payment_id: format!("pay-{}", self.id),
            placed_at: ts(self.placed),
            confirmed_at: ts(at),
            ..Default::default()
        }
    }
}

pub fn orders() -> [Order; 5] {
    [
        Order {
            id: "A",
            channel: Channel::Web,
            customer: "c1",
            lines: vec![line("L1", "TEA", 2, 1250), line("L2", "MUG", 1, 1000)],
            method: PaymentMethod::Card,
            country: "DE",
            placed: t(0, 10, 0),
        },
        Order {
            id: "B",
            channel: Channel::MobileApp,
            customer: "c2",
            lines: vec![line("L1", "TEA", 4, 1250)],
            method: PaymentMethod::Card,
            country: "FR",
            placed: t(0, 11, 0),
        },
        Order {
            id: "C",
            channel: Channel::Web,
            customer: "c1",
            lines: vec![line("L1", "MUG", 1, 1000)],
            method: PaymentMethod::Card,
            country: "DE",
            placed: t(0, 12, 0),
        },
        Order {
            id: "D",
            channel: Channel::Phone,
            customer: "c3",
            lines: vec![line("L1", "TEA", 1, 1250)],
            method: PaymentMethod::CashOnDelivery,
            country: "DE",
            placed: t(1, 9, 0),
        },
        Order {
            id: "E",
            channel: Channel::Web,
            customer: "c4",
            lines: vec![line("L1", "MUG", 1, 1000)],
            method: PaymentMethod::Card,
            country: "AT",
            placed: t(1, 10, 0),
        },
    ]
}

fn parcel_lines(order: &Order) -> Vec<ParcelLine> {
    order
        .lines
        .iter()
        .map(|l| ParcelLine {
            line_id: l.line_id.clone(),
            sku: l.sku.clone(),
            quantity: l.quantity,
        })
        .collect()
}

/// Ships `order` from W1: fulfillment, pick, pack, hand-over, shipment with its ETA.
#[allow(clippy::too_many_arguments)]
async fn ship(
    app: &TestApp,
    order: &Order,
    confirmed: chrono::DateTime<chrono::Utc>,
    handed: chrono::DateTime<chrono::Utc>,
    weight: i32,
    eta: chrono::DateTime<chrono::Utc>,
) {
    let f = format!("f-{}", order.id);
    let p = format!("p-{}", order.id);
    let s = format!("s-{}", order.id);
    app.publish(&PaymentAuthorized {
        payment_id: format!("pay-{}", order.id),
        order_id: order.id.into(),
        method: order.method as i32,
        amount: eur(order.total()),
        authorized_at: ts(confirmed),
        ..Default::default()
    })
    .await;
    app.publish(&order.confirmed(confirmed)).await;
    app.publish(&FulfillmentCreated {
        fulfillment_id: f.clone(),
        order_id: order.id.into(),
        warehouse_id: "W1".into(),
        fulfillment_mode: FulfillmentMode::Ship as i32,
        lines: parcel_lines(order),
        created_at: ts(confirmed),
        ..Default::default()
    })
    .await;
    app.publish(&FulfillmentPicked {
        fulfillment_id: f.clone(),
        order_id: order.id.into(),
        warehouse_id: "W1".into(),
        lines: parcel_lines(order),
        picked_at: ts(handed),
        ..Default::default()
    })
    .await;
    app.publish(&ParcelPacked {
        fulfillment_id: f.clone(),
        parcel_id: p.clone(),
        order_id: order.id.into(),
        warehouse_id: "W1".into(),
        lines: parcel_lines(order),
        weight_grams: weight,
        shipment_id: s.clone(),
        packed_at: ts(handed),
        ..Default::default()
    })
    .await;
    app.publish(&ShipmentCreated {
        shipment_id: s.clone(),
        order_id: order.id.into(),
        direction: ShipmentDirection::Outbound as i32,
        fulfillment_id: f.clone(),
        parcel_id: p.clone(),
        warehouse_id: "W1".into(),
        carrier: "sim".into(),
        eta: ts(eta),
        created_at: ts(handed),
        ..Default::default()
    })
    .await;
    app.publish(&ParcelHandedOver {
        fulfillment_id: f,
        parcel_id: p,
        order_id: order.id.into(),
        warehouse_id: "W1".into(),
        lines: parcel_lines(order),
        shipment_id: s,
        carrier: "sim".into(),
        fulfillment_complete: true,
        handed_over_at: ts(handed),
        ..Default::default()
    })
    .await;
}

async fn deliver(app: &TestApp, order: &Order, at: chrono::DateTime<chrono::Utc>) {
    app.publish(&ShipmentDelivered {
        shipment_id: format!("s-{}", order.id),
        order_id: order.id.into(),
        direction: ShipmentDirection::Outbound as i32,
        delivered_at: ts(at),
        ..Default::default()
    })
    .await;
    app.publish(&OrderDelivered {
        order_id: order.id.into(),
        order_number: format!("OC-{}", order.id),
        customer: customer(order.customer),
        channel: order.channel as i32,
        fulfillment_mode: FulfillmentMode::Ship as i32,
        lines: order.lines.clone(),
        total: eur(order.total()),
        placed_at: ts(order.placed),
        delivered_at: ts(at),
        ..Default::default()
    })
    .await;
}

/// Publishes the week and waits until analytics kept all of it.
pub async fn play(app: &TestApp) {
    let [a, b, c, d, e] = orders();
    for order in [&a, &b, &c, &d, &e] {
        app.publish(&order.placed()).await;
    }

    // A: the perfect order.
    ship(app, &a, t(0, 10, 30), t(0, 12, 30), 800, t(1, 18, 0)).await;
    deliver(app, &a, t(1, 12, 30)).await;
    app.publish(&OrderAccepted {
        order_id: "A".into(),
        customer_id: "c1".into(),
        accepted_at: ts(t(2, 12, 30)),
        ..Default::default()
    })
    .await;
    app.publish(&OrderCompleted {
        order_id: "A".into(),
        customer: customer("c1"),
        channel: Channel::Web as i32,
        total: eur(3500),
        net_paid: eur(3500),
        placed_at: ts(a.placed),
        completed_at: ts(t(2, 13, 0)),
        ..Default::default()
    })
    .await;

    // B: late after a failed attempt, then half returned.
    ship(app, &b, t(0, 12, 0), t(0, 14, 0), 1200, t(1, 10, 0)).await;
    app.publish(&ShipmentDeliveryFailed {
        shipment_id: "s-B".into(),
        order_id: "B".into(),
        direction: ShipmentDirection::Outbound as i32,
        attempt: 1,
        failed_at: ts(t(1, 9, 0)),
        ..Default::default()
    })
    .await;
    deliver(app, &b, t(2, 11, 0)).await;
    let returned = vec![ReturnLine {
        line_id: "L1".into(),
        sku: "TEA".into(),
        quantity: 2,
        reason: ReturnReason::WrongSize as i32,
        ..Default::default()
    }];
    app.publish(&ReturnRequested {
        return_id: "R-B".into(),
        order_id: "B".into(),
        resolution: ReturnResolution::Refund as i32,
        lines: returned.clone(),
        requested_at: ts(t(3, 10, 0)),
        ..Default::default()
    })
    .await;
    app.publish(&ReturnClosed {
        return_id: "R-B".into(),
        order_id: "B".into(),
        outcome: ReturnOutcome::Refunded as i32,
        lines: returned,
        refund_total: eur(2500),
        closed_at: ts(t(3, 16, 0)),
        ..Default::default()
    })
    .await;
    app.publish(&PaymentRefunded {
        payment_id: "pay-B".into(),
        order_id: "B".into(),
        transaction_id: "tx-refund-B".into(),
        amount: eur(2500),
        refunded_total: eur(2500),
        return_id: "R-B".into(),
        refunded_at: ts(t(3, 16, 0)),
        ..Default::default()
    })
    .await;

    // C: held, approved after two hours, confirmed.
    app.publish(&OrderHeld {
        order_id: "C".into(),
        total: eur(1000),
        customer: customer("c1"),
        channel: Channel::Web as i32,
        held_at: ts(t(0, 12, 0)),
        ..Default::default()
    })
    .await;
    app.publish(&OrderApproved {
        order_id: "C".into(),
        reviewer_id: "op-1".into(),
        approved_at: ts(t(0, 14, 0)),
        ..Default::default()
    })
    .await;
    app.publish(&PaymentAuthorized {
        payment_id: "pay-C".into(),
        order_id: "C".into(),
        method: PaymentMethod::Card as i32,
        amount: eur(1000),
        authorized_at: ts(t(0, 14, 30)),
        ..Default::default()
    })
    .await;
    app.publish(&c.confirmed(t(0, 14, 30))).await;

    // D: out of stock.
    app.publish(&StockShortage {
        reservation_id: "D".into(),
        order_id: "D".into(),
        short_lines: vec![ShortLine {
            line_id: "L1".into(),
            sku: "TEA".into(),
            requested_quantity: 1,
            available_quantity: 0,
        }],
        detected_at: ts(t(1, 9, 1)),
    })
    .await;
    app.publish(&OrderCancelled {
        order_id: "D".into(),
        customer: customer("c3"),
        reason: CancelReason::OutOfStock as i32,
        total: eur(1250),
        lines: d.lines.clone(),
        placed_at: ts(d.placed),
        cancelled_at: ts(t(1, 9, 5)),
        ..Default::default()
    })
    .await;
    app.publish(&StockLow {
        sku: "TEA".into(),
        warehouse_id: "W1".into(),
        available: 0,
        reorder_point: 5,
        detected_at: ts(t(1, 9, 0)),
        ..Default::default()
    })
    .await;

    // E: card declined.
    app.publish(&PaymentDeclined {
        payment_id: "pay-E".into(),
        order_id: "E".into(),
        method: PaymentMethod::Card as i32,
        declined_at: ts(t(1, 10, 1)),
        ..Default::default()
    })
    .await;
    app.publish(&OrderCancelled {
        order_id: "E".into(),
        customer: customer("c4"),
        reason: CancelReason::PaymentDeclined as i32,
        total: eur(1000),
        lines: e.lines.clone(),
        placed_at: ts(e.placed),
        cancelled_at: ts(t(1, 10, 2)),
        ..Default::default()
    })
    .await;

    // Customer voice.
    for (survey, order, invited, csat, nps) in [
        ("sv-A", "A", t(2, 0, 0), 2, 5),
        ("sv-B", "B", t(3, 0, 0), 4, 9),
    ] {
        app.publish(&SurveyInvited {
            survey_id: survey.into(),
            order_id: order.into(),
            invited_at: ts(invited),
            ..Default::default()
        })
        .await;
        app.publish(&SurveySubmitted {
            survey_id: survey.into(),
            order_id: order.into(),
            csat_score: csat,
            nps_score: Some(nps),
            submitted_at: ts(invited + chrono::Duration::hours(1)),
            ..Default::default()
        })
        .await;
    }
    app.publish(&ReviewPublished {
        review_id: "rv-1".into(),
        sku: "TEA".into(),
        order_id: "A".into(),
        rating: 5,
        published_at: ts(t(3, 8, 0)),
        ..Default::default()
    })
    .await;
    app.publish(&CaseOpened {
        case_id: "case-1".into(),
        order_id: "B".into(),
        kind: CaseKind::Complaint as i32,
        opened_at: ts(t(3, 9, 0)),
        ..Default::default()
    })
    .await;
    app.publish(&SlaBreached {
        case_id: "case-1".into(),
        order_id: "B".into(),
        sla: SlaKind::FirstResponse as i32,
        breached_at: ts(t(3, 10, 0)),
        ..Default::default()
    })
    .await;
    app.publish(&CaseResolved {
        case_id: "case-1".into(),
        order_id: "B".into(),
        kind: CaseKind::Complaint as i32,
        resolution: CaseResolution::Refund as i32,
        sla_breached: true,
        opened_at: ts(t(3, 9, 0)),
        resolved_at: ts(t(3, 15, 0)),
        ..Default::default()
    })
    .await;

    app.settle().await;
}
