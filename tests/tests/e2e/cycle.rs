//! Orders through the whole cycle with every real service: the catalog and stock in inventory,
//! risk and money in payments, picking and packing in fulfillment, carriers and tracking in
//! shipping (its simulated carrier delivers on the scaled clock). Each test asserts the final
//! state of every service involved, not only the order's status.

use contracts::common::{
    Address, Channel, Customer, Dimensions, FulfillmentMode, Money, PaymentMethod,
};
use contracts::fulfillment::fulfillment_service_client::FulfillmentServiceClient;
use contracts::fulfillment::{
    ConfirmPickRequest, CreatePickWaveRequest, Fulfillment, FulfillmentStatus, HandOverRequest,
    ListFulfillmentsRequest, PackParcelRequest, Parcel, ParcelLine, PickedLine,
};
use contracts::inventory::inventory_service_client::InventoryServiceClient;
use contracts::inventory::{
    Bin, GetAvailabilityRequest, Item, ReceiveStockRequest, UpsertItemRequest,
    UpsertWarehouseRequest, Warehouse,
};
use contracts::notifications::notification_service_client::NotificationServiceClient;
use contracts::notifications::{ListNotificationsRequest, Notification};
use contracts::orders::invoice_service_client::InvoiceServiceClient;
use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::review_service_client::ReviewServiceClient;
use contracts::orders::{
    ApproveOrderRequest, CancelOrderRequest, ConfirmReceiptRequest, GetInvoiceRequest,
    GetOrderRequest, GetOrderTimelineRequest, NewOrderLine, Order, OrderStatus, PaymentInstruction,
    PlaceOrderRequest, RejectOrderRequest,
};
use contracts::payments::payment_service_client::PaymentServiceClient;
use contracts::payments::{GetPaymentRequest, Payment, PaymentStatus};
use contracts::shipping::shipping_service_client::ShippingServiceClient;
use contracts::shipping::{GetShipmentRequest, Shipment, TrackingStatus};
use testkit::TestEnv;

use crate::platform::Platform;

pub(crate) const SKU: &str = "TEA-001";
pub(crate) const PRICE: i64 = 1250;
pub(crate) const BERLIN: &str = "WH-BER";

pub(crate) fn eur(amount_minor: i64) -> Money {
    Money {
        currency_code: "EUR".into(),
        amount_minor,
    }
}

/// Every service on a clock where an hour passes in a second, so the simulated carrier's
/// scans arrive quickly; shipping is told where fulfillment finds it.
pub(crate) async fn platform() -> Platform {
    let env = TestEnv::with(|s| s.clock = runtime::Clock::scaled(3600.0)).await;
    Platform::start_in(env).await
}

/// The Berlin warehouse (bin A-01) and the tea in the catalog, with `units` of it received
/// there.
pub(crate) async fn stock(p: &Platform, units: i32) {
    warehouse(p, BERLIN, "Berlin", false).await;
    let mut inventory = InventoryServiceClient::new(p.service("inventory").channel().await);
    inventory
        .upsert_item(UpsertItemRequest {
            item: Some(Item {
                sku: SKU.into(),
                name: "Longjing green tea 250 g".into(),
                unit_price: Some(eur(PRICE)),
                weight_grams: 260,
                reorder_point: 2,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    if units > 0 {
        receive(p, BERLIN, units).await;
    }
}

/// A German warehouse `id` in `city` with one bin, A-01; `pickup` makes it a pickup store.
pub(crate) async fn warehouse(p: &Platform, id: &str, city: &str, pickup: bool) {
    InventoryServiceClient::new(p.service("inventory").channel().await)
        .upsert_warehouse(UpsertWarehouseRequest {
            warehouse: Some(Warehouse {
                id: id.into(),
                name: city.into(),
                country_code: "DE".into(),
                region: "BE".into(),
                pickup_enabled: pickup,
                address: Some(Address {
                    recipient: format!("ordercycle {city}"),
                    line1: "Lagerstraße 1".into(),
                    city: city.into(),
                    postal_code: "10115".into(),
                    country_code: "DE".into(),
                    ..Default::default()
                }),
                bins: vec![Bin {
                    code: "A-01".into(),
                    zone: "A".into(),
                    pick_sequence: 10,
                    pickable: Some(true),
                }],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
}

/// Receives `units` of the tea into bin A-01 of `warehouse_id`.
pub(crate) async fn receive(p: &Platform, warehouse_id: &str, units: i32) {
    InventoryServiceClient::new(p.service("inventory").channel().await)
        .receive_stock(ReceiveStockRequest {
            request_id: format!("receive-{warehouse_id}"),
            sku: SKU.into(),
            warehouse_id: warehouse_id.into(),
            quantity: units,
            bin: "A-01".into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

pub(crate) fn order_request(request_id: &str, quantity: i32, token: &str) -> PlaceOrderRequest {
    PlaceOrderRequest {
        request_id: request_id.into(),
        customer: Some(Customer {
            id: "cust-e2e".into(),
            name: "Mei Lin".into(),
            email: "mei@example.com".into(),
            phone: "+49 30 1234567".into(),
        }),
        channel: Channel::Web.into(),
        fulfillment_mode: FulfillmentMode::Ship.into(),
        lines: vec![NewOrderLine {
            sku: SKU.into(),
            quantity,
            unit_price: Some(eur(PRICE)),
            ..Default::default()
        }],
        shipping_address: Some(Address {
            recipient: "Mei Lin".into(),
            line1: "Unter den Linden 1".into(),
            city: "Berlin".into(),
            region: "BE".into(),
            postal_code: "10117".into(),
            country_code: "DE".into(),
            ..Default::default()
        }),
        payment: Some(PaymentInstruction {
            method: PaymentMethod::Card.into(),
            token: token.into(),
            installment_count: 0,
        }),
        ..Default::default()
    }
}

/// Places an order once orders has heard of the catalog (inventory's event may still travel).
pub(crate) async fn place(p: &Platform, request: PlaceOrderRequest) -> Order {
    let orders = OrderServiceClient::new(p.service("orders").channel().await);
    testkit::eventually("orders to know the catalog", || {
        let mut orders = orders.clone();
        let request = request.clone();
        async move { orders.place_order(request).await.ok() }
    })
    .await
    .into_inner()
    .order
    .unwrap()
}

pub(crate) async fn order_in(p: &Platform, id: &str, status: OrderStatus) -> Order {
    let orders = OrderServiceClient::new(p.service("orders").channel().await);
    testkit::eventually(&format!("order {id} to be {status:?}"), || {
        let mut orders = orders.clone();
        let id = id.to_owned();
        async move {
            let order = orders
                .get_order(GetOrderRequest { id })
                .await
                .ok()?
                .into_inner()
                .order?;
            (order.status() == status).then_some(order)
        }
    })
    .await
}

/// (on hand, reserved, available) of the tea in Berlin.
pub(crate) async fn available(p: &Platform) -> (i32, i32, i32) {
    available_in(p, BERLIN).await
}

/// (on hand, reserved, available) of the tea in `warehouse_id`.
pub(crate) async fn available_in(p: &Platform, warehouse_id: &str) -> (i32, i32, i32) {
    let mut inventory = InventoryServiceClient::new(p.service("inventory").channel().await);
    let levels = inventory
        .get_availability(GetAvailabilityRequest {
            sku: SKU.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .levels;
    let level = levels
        .into_iter()
        .find(|l| l.warehouse_id == warehouse_id)
        .unwrap();
    (level.on_hand, level.reserved, level.available)
}

/// Waits until the tea in `warehouse_id` stands at (on hand, reserved, available).
pub(crate) async fn stock_settles_at(p: &Platform, warehouse_id: &str, levels: (i32, i32, i32)) {
    testkit::eventually(&format!("{warehouse_id} to hold {levels:?}"), || async {
        (available_in(p, warehouse_id).await == levels).then_some(())
    })
    .await;
}

pub(crate) async fn payment_of(p: &Platform, order_id: &str) -> Payment {
    payment_if_any(p, order_id)
        .await
        .expect("the order has a payment")
}

/// The order's payment, or `None` while payments has not taken the request yet (an order can
/// show AWAITING_PAYMENT before payments' consumer has created its payment).
pub(crate) async fn payment_if_any(p: &Platform, order_id: &str) -> Option<Payment> {
    let answer = PaymentServiceClient::new(p.service("payments").channel().await)
        .get_payment(GetPaymentRequest {
            order_id: order_id.to_owned(),
            ..Default::default()
        })
        .await;
    match answer {
        Ok(response) => response.into_inner().payment,
        Err(status) if status.code() == tonic::Code::NotFound => None,
        Err(status) => panic!("GetPayment: {status}"),
    }
}

pub(crate) async fn shipment_of(p: &Platform, id: &str) -> Shipment {
    ShippingServiceClient::new(p.service("shipping").channel().await)
        .get_shipment(GetShipmentRequest { id: id.to_owned() })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap()
}

pub(crate) async fn fulfillments_of(p: &Platform, order_id: &str) -> Vec<Fulfillment> {
    FulfillmentServiceClient::new(p.service("fulfillment").channel().await)
        .list_fulfillments(ListFulfillmentsRequest {
            order_id: order_id.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .fulfillments
}

/// The kinds of the order's timeline entries, oldest first.
pub(crate) async fn timeline_kinds(p: &Platform, order_id: &str) -> Vec<String> {
    OrderServiceClient::new(p.service("orders").channel().await)
        .get_order_timeline(GetOrderTimelineRequest {
            order_id: order_id.to_owned(),
            page_size: 200,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// Every message about the order, sorted by template and channel.
pub(crate) async fn notifications_of(p: &Platform, order_id: &str) -> Vec<Notification> {
    let mut list = NotificationServiceClient::new(p.service("notifications").channel().await)
        .list_notifications(ListNotificationsRequest {
            page_size: 200,
            order_id: order_id.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .notifications;
    list.sort_by(|a, b| (&a.template, a.channel).cmp(&(&b.template, b.channel)));
    list
}

/// The warehouse works the order's fulfilment that waits (picks every unit from A-01, packs
/// one parcel, hands it over) and returns the parcel; `tag` keeps request ids apart.
pub(crate) async fn ship_pending(p: &Platform, order_id: &str, tag: &str) -> Parcel {
    ship_pending_from(p, order_id, BERLIN, tag).await
}

/// The order's fulfilment waiting in `warehouse_id`.
pub(crate) async fn pending_fulfillment(
    p: &Platform,
    order_id: &str,
    warehouse_id: &str,
) -> Fulfillment {
    let fulfillment = FulfillmentServiceClient::new(p.service("fulfillment").channel().await);
    testkit::eventually(
        &format!("a pending fulfilment of {order_id} in {warehouse_id}"),
        || {
            let mut fulfillment = fulfillment.clone();
            let order_id = order_id.to_owned();
            async move {
                fulfillment
                    .list_fulfillments(ListFulfillmentsRequest {
                        order_id,
                        ..Default::default()
                    })
                    .await
                    .ok()?
                    .into_inner()
                    .fulfillments
                    .into_iter()
                    .find(|f| {
                        f.status() == FulfillmentStatus::Pending && f.warehouse_id == warehouse_id
                    })
            }
        },
    )
    .await
}

/// [`ship_pending`] from `warehouse_id`.
pub(crate) async fn ship_pending_from(
    p: &Platform,
    order_id: &str,
    warehouse_id: &str,
    tag: &str,
) -> Parcel {
    let mut fulfillment = FulfillmentServiceClient::new(p.service("fulfillment").channel().await);
    let f = pending_fulfillment(p, order_id, warehouse_id).await;
    fulfillment
        .create_pick_wave(CreatePickWaveRequest {
            request_id: format!("wave-{tag}"),
            warehouse_id: warehouse_id.into(),
            fulfillment_ids: vec![f.id.clone()],
            max_fulfillments: 0,
        })
        .await
        .unwrap();
    fulfillment
        .confirm_pick(ConfirmPickRequest {
            fulfillment_id: f.id.clone(),
            lines: f
                .lines
                .iter()
                .map(|l| PickedLine {
                    line_id: l.line_id.clone(),
                    bin: "A-01".into(),
                    quantity: l.quantity,
                })
                .collect(),
            picker_id: "picker-1".into(),
        })
        .await
        .unwrap();
    let parcel = fulfillment
        .pack_parcel(PackParcelRequest {
            request_id: format!("pack-{tag}"),
            fulfillment_id: f.id.clone(),
            lines: f
                .lines
                .iter()
                .map(|l| ParcelLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect(),
            weight_grams: 600,
            dimensions: Some(Dimensions {
                length_mm: 200,
                width_mm: 150,
                height_mm: 100,
            }),
            packed_by: "packer-1".into(),
            preferred_carrier: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .parcel
        .unwrap();
    let handed = fulfillment
        .hand_over(HandOverRequest {
            request_id: format!("handover-{tag}"),
            fulfillment_id: f.id.clone(),
            parcel_ids: vec![parcel.id.clone()],
            handed_over_by: "dock-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .fulfillment
        .unwrap();
    assert_eq!(handed.status(), FulfillmentStatus::HandedOver);
    parcel
}

#[tokio::test]
async fn a_card_order_shipped_to_a_home_runs_the_whole_cycle_to_completed() {
    let p = platform().await;
    stock(&p, 10).await;
    let order = place(&p, order_request("cycle-card", 2, "tok_visa")).await;

    let confirmed = order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    assert_eq!(confirmed.risk_score, Some(5), "first order of the customer");
    assert_eq!(
        available(&p).await,
        (10, 2, 8),
        "reserved, not yet committed"
    );

    // The warehouse works the order.
    let parcel = ship_pending(&p, &order.id, "e2e").await;

    // The simulated carrier delivers on the scaled clock; orders hears it through shipping.
    let delivered = order_in(&p, &order.id, OrderStatus::Delivered).await;
    assert_eq!(delivered.shipments.len(), 1);
    assert_eq!(
        delivered.shipments[0].tracking_number,
        parcel.tracking_number
    );

    let mut orders = OrderServiceClient::new(p.service("orders").channel().await);
    orders
        .confirm_receipt(ConfirmReceiptRequest {
            order_id: order.id.clone(),
        })
        .await
        .unwrap();
    let completed = order_in(&p, &order.id, OrderStatus::Completed).await;
    assert_eq!(
        completed.payment.as_ref().unwrap().captured_amount,
        Some(eur(2 * PRICE))
    );
    // Settled, so invoiced: the invoice comes to the order's total.
    let invoice = InvoiceServiceClient::new(p.service("orders").channel().await)
        .get_invoice(GetInvoiceRequest {
            id: completed.invoice_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .invoice
        .unwrap();
    assert_eq!(invoice.order_id, order.id);
    assert_eq!(invoice.total, completed.total);

    // Every service agrees.
    assert_eq!(available(&p).await, (8, 0, 8), "committed at hand-over");
    let payment = payment_of(&p, &order.id).await;
    assert_eq!(payment.status(), PaymentStatus::Captured);
    assert_eq!(payment.captured_amount, Some(eur(2 * PRICE)));
    let shipment = shipment_of(&p, &parcel.shipment_id).await;
    assert_eq!(shipment.status(), TrackingStatus::Delivered);
}

#[tokio::test]
async fn a_shortage_cancels_the_order_and_reserves_nothing() {
    let p = platform().await;
    stock(&p, 1).await;
    let order = place(&p, order_request("cycle-short", 3, "tok_visa")).await;
    let cancelled = order_in(&p, &order.id, OrderStatus::Cancelled).await;
    assert_eq!(
        cancelled.cancel_reason(),
        contracts::orders::CancelReason::OutOfStock
    );
    assert_eq!(available(&p).await, (1, 0, 1));
}

#[tokio::test]
async fn a_declined_card_cancels_the_order_and_gives_the_stock_back() {
    let p = platform().await;
    stock(&p, 5).await;
    let order = place(&p, order_request("cycle-decline", 2, "tok_decline")).await;
    let cancelled = order_in(&p, &order.id, OrderStatus::Cancelled).await;
    assert_eq!(
        cancelled.cancel_reason(),
        contracts::orders::CancelReason::PaymentDeclined
    );
    testkit::eventually("the reservation to be released", || async {
        (available(&p).await == (5, 0, 5)).then_some(())
    })
    .await;
    let payment = payment_of(&p, &order.id).await;
    assert_eq!(payment.status(), PaymentStatus::Declined);
}

async fn place_high_value(p: &Platform, request_id: &str) -> Order {
    // 800 teas: 1,000,000 minor units, at the hold threshold.
    place(p, order_request(request_id, 800, "tok_visa")).await
}

#[tokio::test]
async fn a_held_order_approved_by_a_reviewer_goes_on_to_payment_and_fulfilment() {
    let p = platform().await;
    stock(&p, 1000).await;
    let order = place_high_value(&p, "cycle-hold-ok").await;
    let held = order_in(&p, &order.id, OrderStatus::OnHold).await;
    assert!(
        held.hold_reasons.iter().any(|r| r.code == "high_value"),
        "{:?}",
        held.hold_reasons
    );
    assert_eq!(
        available(&p).await,
        (1000, 0, 1000),
        "nothing reserved while held"
    );

    let mut review = ReviewServiceClient::new(p.service("orders").channel().await);
    review
        .approve_order(ApproveOrderRequest {
            order_id: order.id.clone(),
            reviewer_id: "rev-anna".into(),
            reason: "known wholesale customer".into(),
        })
        .await
        .unwrap();
    let confirmed = order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    assert_eq!(confirmed.reviewed_by, "rev-anna");
    assert_eq!(available(&p).await, (1000, 800, 200));
    let payment = payment_of(&p, &order.id).await;
    assert_eq!(payment.status(), PaymentStatus::Authorized);
}

#[tokio::test]
async fn a_held_order_rejected_by_a_reviewer_never_touches_stock_or_money() {
    let p = platform().await;
    stock(&p, 1000).await;
    let order = place_high_value(&p, "cycle-hold-no").await;
    order_in(&p, &order.id, OrderStatus::OnHold).await;
    let mut review = ReviewServiceClient::new(p.service("orders").channel().await);
    review
        .reject_order(RejectOrderRequest {
            order_id: order.id.clone(),
            reviewer_id: "rev-anna".into(),
            reason: "address on a fraud report".into(),
        })
        .await
        .unwrap();
    let rejected = order_in(&p, &order.id, OrderStatus::Rejected).await;
    assert_eq!(rejected.review_note, "address on a fraud report");
    assert_eq!(available(&p).await, (1000, 0, 1000));
    let none = PaymentServiceClient::new(p.service("payments").channel().await)
        .get_payment(GetPaymentRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        none.code(),
        tonic::Code::NotFound,
        "payments was never asked"
    );
}

#[tokio::test]
async fn cancelling_a_confirmed_order_releases_stock_voids_money_and_stops_the_warehouse() {
    let p = platform().await;
    stock(&p, 10).await;
    let order = place(&p, order_request("cycle-cancel", 3, "tok_visa")).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    let mut orders = OrderServiceClient::new(p.service("orders").channel().await);
    orders
        .cancel_order(CancelOrderRequest {
            request_id: "cancel-1".into(),
            order_id: order.id.clone(),
            reason: contracts::orders::CancelReason::CustomerRequest.into(),
            note: "changed my mind".into(),
        })
        .await
        .unwrap();
    order_in(&p, &order.id, OrderStatus::Cancelled).await;

    testkit::eventually("the stock to be released", || async {
        (available(&p).await == (10, 0, 10)).then_some(())
    })
    .await;
    let payments = PaymentServiceClient::new(p.service("payments").channel().await);
    testkit::eventually("the authorization to be voided", || {
        let mut payments = payments.clone();
        let order_id = order.id.clone();
        async move {
            let payment = payments
                .get_payment(GetPaymentRequest {
                    order_id,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .payment?;
            (payment.status() == PaymentStatus::Voided).then_some(())
        }
    })
    .await;
    let fulfillment = FulfillmentServiceClient::new(p.service("fulfillment").channel().await);
    testkit::eventually("the fulfilment to be cancelled", || {
        let mut fulfillment = fulfillment.clone();
        let order_id = order.id.clone();
        async move {
            let list = fulfillment
                .list_fulfillments(ListFulfillmentsRequest {
                    order_id,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .fulfillments;
            (list.len() == 1 && list[0].status() == FulfillmentStatus::Cancelled).then_some(())
        }
    })
    .await;
}
