//! The order saga end to end, with inventory, payments, fulfillment and shipping played by
//! publishing their facts and orders' requests observed as an outside subscriber would.

use contracts::common::{Address, CaseResolution, FulfillmentMode, PaymentMethod, ProblemKind};
use contracts::feedback::CaseResolved;
use contracts::fulfillment::{FulfillmentPickedUp, FulfillmentReadyForPickup};
use contracts::inventory::{ShortLine, StockShortage};
use contracts::orders::{
    CancelOrderRequest, CancelReason, ConfirmReceiptRequest, FulfillmentRequested, OrderAccepted,
    OrderCancelled, OrderCompleted, OrderConfirmed, OrderDelivered, OrderStatus,
    PaymentCaptureRequested, PaymentRefundRequested, PaymentRequested, PaymentVoidRequested,
    ReportProblemRequest, ReservationCommitRequested, ReservationConfirmRequested,
    ReservationReleaseRequested, ReservationRequested,
};
use contracts::payments::PaymentDeclined;
use contracts::shipping::{ShipmentDirection, ShipmentStatusChanged, TrackingStatus};

use crate::helpers::{
    TestApp, WAREHOUSE, authorized, eur, fulfillment_id, money, parcel_lines, payment_id,
    valid_request,
};

/// 2 × TEA-001 at 12.50 and 1 × CUP-002 at 8.99.
const TOTAL: i64 = 2 * 1250 + 899;

fn pickup_request(
    request_id: &str,
    method: PaymentMethod,
    token: &str,
) -> contracts::orders::PlaceOrderRequest {
    let mut request = valid_request(request_id);
    request.fulfillment_mode = FulfillmentMode::StorePickup.into();
    request.pickup_store_id = "store-mitte".into();
    request.shipping_address = None;
    let payment = request.payment.as_mut().unwrap();
    payment.method = method.into();
    payment.token = token.into();
    request
}

fn cash_on_delivery(request_id: &str) -> contracts::orders::PlaceOrderRequest {
    let mut request = valid_request(request_id);
    let payment = request.payment.as_mut().unwrap();
    payment.method = PaymentMethod::CashOnDelivery.into();
    payment.token = String::new();
    request
}

#[tokio::test]
async fn a_card_order_shipped_to_an_address_runs_from_placement_to_completed() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("happy")).await;
    assert_eq!(money(&order.total), ("EUR".into(), TOTAL));

    // Risk assessed, low: orders asks inventory for the stock.
    let mut reservations = app.env.tap("orders.reservation.requested").await;
    app.assess_risk(&order, 12, &[]).await;
    let requested: ReservationRequested = reservations.next().await;
    assert_eq!(requested.order_id, order.id);
    assert_eq!(requested.order_number, order.order_number);
    let lines: Vec<(String, String, i32)> = requested
        .lines
        .iter()
        .map(|l| (l.line_id.clone(), l.sku.clone(), l.quantity))
        .collect();
    assert_eq!(
        lines,
        [
            ("L1".into(), "TEA-001".into(), 2),
            ("L2".into(), "CUP-002".into(), 1)
        ]
    );
    assert_eq!(requested.fulfillment_mode(), FulfillmentMode::Ship);
    assert_eq!(requested.ship_to_country_code, "DE");
    assert_eq!(requested.ship_to_region, "BE");
    assert_eq!(
        requested.ttl.unwrap().seconds,
        4 * 86_400,
        "the default reservation TTL"
    );
    assert!(requested.expires_at.is_some());
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::AwaitingStock);
    assert_eq!(got.risk_score, Some(12));
    assert!(got.hold_reasons.is_empty());

    // Stock reserved: orders asks payments for the money, with the customer's token.
    let mut payments = app.env.tap("orders.payment.requested").await;
    let reserved = app.stock_reserved(&order).await;
    assert_eq!(reserved.reservation_id, requested.reservation_id);
    app.publish("inventory", &reserved).await;
    let payment: PaymentRequested = payments.next().await;
    assert_eq!(payment.order_id, order.id);
    assert_eq!(payment.token, "tok_visa");
    assert_eq!(payment.method(), PaymentMethod::Card);
    assert_eq!(money(&payment.amount), ("EUR".into(), TOTAL));
    assert_eq!(payment.customer.as_ref().unwrap().email, "mei@example.com");
    assert_eq!(payment.billing_address.as_ref().unwrap().country_code, "DE");
    assert_eq!(
        app.order(&order.id).await.status(),
        OrderStatus::AwaitingPayment
    );
    let token_kept: bool = sqlx::query_scalar("SELECT payment_token IS NOT NULL FROM orders")
        .fetch_one(&app.orders.pool)
        .await
        .unwrap();
    assert!(!token_kept, "the token is dropped once payments has it");

    // Payment authorized: confirmed, the reservation made firm, fulfilment requested.
    let mut confirmed = app.env.tap("orders.order.confirmed").await;
    let mut firm = app.env.tap("orders.reservation.confirm_requested").await;
    let mut fulfil = app.env.tap("orders.fulfillment.requested").await;
    app.authorize(&order).await;
    let event: OrderConfirmed = confirmed.next().await;
    assert_eq!(event.order_id, order.id);
    assert_eq!(event.payment_id, payment_id(&order));
    assert_eq!(money(&event.total), ("EUR".into(), TOTAL));
    assert_eq!(event.lines.len(), 2);
    let event: ReservationConfirmRequested = firm.next().await;
    assert_eq!(event.reservation_id, requested.reservation_id);
    let event: FulfillmentRequested = fulfil.next().await;
    assert_eq!(event.reservation_id, requested.reservation_id);
    assert_eq!(event.fulfillment_mode(), FulfillmentMode::Ship);
    assert_eq!(event.shipping_address.as_ref().unwrap().city, "Berlin");
    assert!(!event.collect_cash_on_delivery);
    let allocations: Vec<(String, String, i32)> = event
        .allocations
        .iter()
        .map(|a| (a.line_id.clone(), a.warehouse_id.clone(), a.quantity))
        .collect();
    assert_eq!(
        allocations,
        [
            ("L1".into(), WAREHOUSE.into(), 2),
            ("L2".into(), WAREHOUSE.into(), 1)
        ]
    );
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Confirmed);
    assert_eq!(got.payment.as_ref().unwrap().payment_id, payment_id(&order));
    assert!(got.confirmed_at.is_some());

    app.fulfillment_created(&order).await;
    assert_eq!(
        app.order(&order.id).await.status(),
        OrderStatus::InFulfillment
    );

    // The parcel left: stock committed and the parcel's share captured.
    let mut commits = app.env.tap("orders.reservation.commit_requested").await;
    let mut captures = app.env.tap("orders.payment.capture_requested").await;
    app.hand_over(&order, "shipment-1", &[]).await;
    let commit: ReservationCommitRequested = commits.next().await;
    assert_eq!(commit.reservation_id, requested.reservation_id);
    assert_eq!(commit.fulfillment_id, fulfillment_id(&order));
    assert_eq!(commit.parcel_id, "parcel-shipment-1");
    let committed: Vec<(String, String, i32)> = commit
        .allocations
        .iter()
        .map(|a| (a.line_id.clone(), a.warehouse_id.clone(), a.quantity))
        .collect();
    assert_eq!(
        committed,
        [
            ("L1".into(), WAREHOUSE.into(), 2),
            ("L2".into(), WAREHOUSE.into(), 1)
        ]
    );
    let capture: PaymentCaptureRequested = captures.next().await;
    assert_eq!(capture.payment_id, payment_id(&order));
    assert_eq!(money(&capture.amount), ("EUR".into(), TOTAL));
    assert_eq!(capture.shipment_id, "shipment-1");
    assert!(!capture.cash_collected);
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Shipped);
    assert_eq!(got.shipments.len(), 1);
    assert_eq!(got.shipments[0].tracking_number, "TRK-shipment-1");
    assert_eq!(got.shipments[0].carrier, "sim-express");
    assert!(got.shipments[0].handed_over_at.is_some());
    assert!(got.lines.iter().all(|l| l.shipped_quantity == l.quantity));

    // Delivered: the customer's inspection window starts.
    let mut delivered = app.env.tap("orders.order.delivered").await;
    app.deliver(&order, "shipment-1", None).await;
    let event: OrderDelivered = delivered.next().await;
    assert_eq!(event.order_id, order.id);
    assert!(event.accept_by.is_some());
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Delivered);
    assert!(got.delivered_at.is_some());
    assert_eq!(got.accept_by, event.accept_by);
    assert!(got.shipments[0].delivered_at.is_some());

    // Settled, then the customer confirms receipt: completed.
    app.settle(&order).await;
    let got = app.order(&order.id).await;
    assert_eq!(
        got.status(),
        OrderStatus::Delivered,
        "settled alone does not complete"
    );
    assert!(got.payment.as_ref().unwrap().settled);
    assert_eq!(
        money(&got.payment.as_ref().unwrap().captured_amount),
        ("EUR".into(), TOTAL)
    );

    let mut accepted = app.env.tap("orders.order.accepted").await;
    let mut completed = app.env.tap("orders.order.completed").await;
    let got = app
        .client()
        .await
        .confirm_receipt(ConfirmReceiptRequest {
            order_id: order.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(got.status(), OrderStatus::Completed);
    assert!(got.accepted_at.is_some());
    assert!(got.completed_at.is_some());
    let event: OrderAccepted = accepted.next().await;
    assert_eq!(event.customer_id, "cust-1");
    assert!(!event.auto_accepted);
    let event: OrderCompleted = completed.next().await;
    assert_eq!(event.order_id, order.id);
    assert_eq!(money(&event.net_paid), ("EUR".into(), TOTAL));
    assert_eq!(app.outbox_count("orders.order.completed").await, 1);
}

#[tokio::test]
async fn a_split_order_is_partially_shipped_after_its_first_parcel_and_shipped_after_the_last() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("split")).await;
    app.fulfillment_created(&order).await;
    let mut captures = app.env.tap("orders.payment.capture_requested").await;
    let mut commits = app.env.tap("orders.reservation.commit_requested").await;

    app.hand_over(&order, "shipment-a", &[("L1", 2)]).await;
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::PartiallyShipped);
    assert_eq!(got.lines[0].shipped_quantity, 2);
    assert_eq!(got.lines[1].shipped_quantity, 0);
    let capture: PaymentCaptureRequested = captures.next().await;
    assert_eq!(
        money(&capture.amount),
        ("EUR".into(), 2 * 1250),
        "only this parcel's share"
    );
    assert_eq!(capture.shipment_id, "shipment-a");
    let commit: ReservationCommitRequested = commits.next().await;
    assert_eq!(commit.allocations.len(), 1);
    assert_eq!(commit.allocations[0].line_id, "L1");

    // An order that has partly left can no longer be cancelled.
    let refused = app
        .client()
        .await
        .cancel_order(CancelOrderRequest {
            request_id: "cancel-split".into(),
            order_id: order.id.clone(),
            reason: CancelReason::CustomerRequest.into(),
            note: "too slow".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);

    app.hand_over(&order, "shipment-b", &[("L2", 1)]).await;
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Shipped);
    assert_eq!(got.shipments.len(), 2);
    let capture: PaymentCaptureRequested = captures.next().await;
    assert_eq!(money(&capture.amount), ("EUR".into(), 899));
    assert_eq!(capture.shipment_id, "shipment-b");

    // Delivered once both shipments are, and only then.
    app.deliver(&order, "shipment-a", None).await;
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Shipped);
    app.deliver(&order, "shipment-b", None).await;
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Delivered);
    assert_eq!(app.outbox_count("orders.order.delivered").await, 1);
    assert_eq!(
        app.outbox_count("orders.payment.capture_requested").await,
        2
    );
}

#[tokio::test]
async fn a_store_pickup_paid_in_cash_at_the_counter_is_captured_when_collected() {
    let app = TestApp::start().await;
    let order = app
        .place(pickup_request("pickup", PaymentMethod::CashOnDelivery, ""))
        .await;
    assert_eq!(order.fulfillment_mode(), FulfillmentMode::StorePickup);
    assert_eq!(order.pickup_store_id, "store-mitte");

    let mut reservations = app.env.tap("orders.reservation.requested").await;
    app.assess_risk(&order, 5, &[]).await;
    let requested: ReservationRequested = reservations.next().await;
    assert_eq!(requested.fulfillment_mode(), FulfillmentMode::StorePickup);
    assert_eq!(requested.pickup_store_id, "store-mitte");

    let mut payments = app.env.tap("orders.payment.requested").await;
    app.reserve_stock(&order).await;
    let payment: PaymentRequested = payments.next().await;
    assert_eq!(payment.method(), PaymentMethod::CashOnDelivery);
    assert!(payment.token.is_empty());

    let mut fulfil = app.env.tap("orders.fulfillment.requested").await;
    app.authorize(&order).await;
    let event: FulfillmentRequested = fulfil.next().await;
    assert_eq!(event.fulfillment_mode(), FulfillmentMode::StorePickup);
    assert_eq!(event.pickup_store_id, "store-mitte");
    assert!(event.collect_cash_on_delivery);
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Confirmed);

    app.fulfillment_created(&order).await;
    app.publish(
        "fulfillment",
        &FulfillmentReadyForPickup {
            fulfillment_id: fulfillment_id(&order),
            order_id: order.id.clone(),
            order_number: order.order_number.clone(),
            warehouse_id: "store-mitte".into(),
            pickup_code: "4711".into(),
            cash_due: Some(eur(TOTAL)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        app.order(&order.id).await.status(),
        OrderStatus::ReadyForPickup
    );
    assert_eq!(
        app.outbox_count("orders.payment.capture_requested").await,
        0
    );

    let mut captures = app.env.tap("orders.payment.capture_requested").await;
    let mut commits = app.env.tap("orders.reservation.commit_requested").await;
    app.publish(
        "fulfillment",
        &FulfillmentPickedUp {
            fulfillment_id: fulfillment_id(&order),
            order_id: order.id.clone(),
            warehouse_id: "store-mitte".into(),
            lines: parcel_lines(&order, &[]),
            collected_by: "Mei Lin".into(),
            cash_collected: Some(eur(TOTAL)),
            picked_up_at: None,
        },
    )
    .await;
    let capture: PaymentCaptureRequested = captures.next().await;
    assert_eq!(money(&capture.amount), ("EUR".into(), TOTAL));
    assert!(capture.cash_collected);
    let commit: ReservationCommitRequested = commits.next().await;
    assert_eq!(commit.allocations.len(), 2);
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Delivered);
    assert!(got.lines.iter().all(|l| l.shipped_quantity == l.quantity));
    assert_eq!(app.outbox_count("orders.order.delivered").await, 1);

    app.settle(&order).await;
    let got = app
        .client()
        .await
        .confirm_receipt(ConfirmReceiptRequest {
            order_id: order.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(got.status(), OrderStatus::Completed);
}

#[tokio::test]
async fn cash_on_delivery_is_captured_with_the_cash_collected_at_delivery() {
    let app = TestApp::start().await;
    let order = app.confirmed(cash_on_delivery("cod")).await;
    let mut fulfil = app.env.tap("orders.fulfillment.requested").await;
    let event: FulfillmentRequested = fulfil.next().await;
    assert!(event.collect_cash_on_delivery);

    app.fulfillment_created(&order).await;
    app.hand_over(&order, "shipment-1", &[]).await;
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Shipped);
    assert_eq!(
        app.outbox_count("orders.reservation.commit_requested")
            .await,
        1
    );
    assert_eq!(
        app.outbox_count("orders.payment.capture_requested").await,
        0,
        "nothing to capture before the courier has the cash"
    );

    let mut captures = app.env.tap("orders.payment.capture_requested").await;
    app.deliver(&order, "shipment-1", Some(TOTAL)).await;
    let capture: PaymentCaptureRequested = captures.next().await;
    assert_eq!(money(&capture.amount), ("EUR".into(), TOTAL));
    assert!(capture.cash_collected);
    assert_eq!(capture.shipment_id, "shipment-1");
    assert_eq!(capture.payment_id, payment_id(&order));
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Delivered);
    assert_eq!(
        app.outbox_count("orders.payment.capture_requested").await,
        1
    );
}

#[tokio::test]
async fn a_shortage_cancels_the_order_and_names_the_short_lines() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("short")).await;
    app.assess_risk(&order, 10, &[]).await;

    let mut cancelled = app.env.tap("orders.order.cancelled").await;
    app.publish(
        "inventory",
        &StockShortage {
            reservation_id: app.reservation_id(&order.id).await,
            order_id: order.id.clone(),
            short_lines: vec![ShortLine {
                line_id: "L1".into(),
                sku: "TEA-001".into(),
                requested_quantity: 2,
                available_quantity: 1,
            }],
            detected_at: None,
        },
    )
    .await;

    let event: OrderCancelled = cancelled.next().await;
    assert_eq!(event.order_id, order.id);
    assert_eq!(event.reason(), CancelReason::OutOfStock);
    assert_eq!(event.previous_status(), OrderStatus::AwaitingStock);
    assert_eq!(event.customer.as_ref().unwrap().email, "mei@example.com");
    assert_eq!(event.short_lines.len(), 1);
    let short = &event.short_lines[0];
    assert_eq!(
        (
            short.line_id.as_str(),
            short.sku.as_str(),
            short.requested_quantity,
            short.available_quantity
        ),
        ("L1", "TEA-001", 2, 1)
    );
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Cancelled);
    assert_eq!(got.cancel_reason(), CancelReason::OutOfStock);
    assert!(got.cancel_note.contains("TEA-001"), "{}", got.cancel_note);
    assert!(got.cancelled_at.is_some());
    // Nothing was reserved or charged, so nothing is released or voided.
    assert_eq!(
        app.outbox_count("orders.reservation.release_requested")
            .await,
        0
    );
    assert_eq!(app.outbox_count("orders.payment.requested").await, 0);
    assert_eq!(app.outbox_count("orders.payment.void_requested").await, 0);
}

#[tokio::test]
async fn a_declined_payment_cancels_the_order_and_releases_its_stock() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("decline")).await;
    app.assess_risk(&order, 10, &[]).await;
    app.reserve_stock(&order).await;
    let reservation_id = app.reservation_id(&order.id).await;

    let mut releases = app.env.tap("orders.reservation.release_requested").await;
    let mut cancelled = app.env.tap("orders.order.cancelled").await;
    app.publish(
        "payments",
        &PaymentDeclined {
            payment_id: payment_id(&order),
            order_id: order.id.clone(),
            method: PaymentMethod::Card.into(),
            message: "card declined by the issuer".into(),
            ..Default::default()
        },
    )
    .await;

    let release: ReservationReleaseRequested = releases.next().await;
    assert_eq!(release.order_id, order.id);
    assert_eq!(release.reservation_id, reservation_id);
    assert_eq!(release.reason(), CancelReason::PaymentDeclined);
    assert_eq!(release.lines.len(), 2);
    let event: OrderCancelled = cancelled.next().await;
    assert_eq!(event.reason(), CancelReason::PaymentDeclined);
    assert_eq!(event.note, "card declined by the issuer");
    assert_eq!(event.previous_status(), OrderStatus::AwaitingPayment);
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Cancelled);
    assert_eq!(got.cancel_reason(), CancelReason::PaymentDeclined);
    assert_eq!(
        app.outbox_count("orders.payment.void_requested").await,
        0,
        "a declined payment has nothing to void"
    );
    assert_eq!(app.outbox_count("orders.fulfillment.requested").await, 0);
}

#[tokio::test]
async fn the_same_fact_twice_under_different_event_ids_takes_effect_once() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("dup")).await;
    app.assess_risk(&order, 10, &[]).await;
    app.assess_risk(&order, 95, &[]).await;
    let got = app.order(&order.id).await;
    assert_eq!(
        got.status(),
        OrderStatus::AwaitingStock,
        "the first assessment decides"
    );
    assert_eq!(app.outbox_count("orders.reservation.requested").await, 1);

    let reserved = app.stock_reserved(&order).await;
    app.publish("inventory", &reserved).await;
    app.publish("inventory", &reserved).await;
    assert_eq!(app.outbox_count("orders.payment.requested").await, 1);
    assert_eq!(
        app.order(&order.id).await.status(),
        OrderStatus::AwaitingPayment
    );

    app.authorize(&order).await;
    app.authorize(&order).await;
    assert_eq!(app.outbox_count("orders.order.confirmed").await, 1);
    assert_eq!(app.outbox_count("orders.fulfillment.requested").await, 1);

    app.fulfillment_created(&order).await;
    app.hand_over(&order, "shipment-1", &[]).await;
    app.hand_over(&order, "shipment-1", &[]).await;
    assert_eq!(
        app.outbox_count("orders.payment.capture_requested").await,
        1
    );
    assert_eq!(
        app.outbox_count("orders.reservation.commit_requested")
            .await,
        1
    );
    let got = app.order(&order.id).await;
    assert!(got.lines.iter().all(|l| l.shipped_quantity == l.quantity));

    app.deliver(&order, "shipment-1", None).await;
    app.deliver(&order, "shipment-1", None).await;
    assert_eq!(app.outbox_count("orders.order.delivered").await, 1);
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Delivered);
}

#[tokio::test]
async fn stock_reserved_after_the_order_was_cancelled_is_released_again() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("late-stock")).await;
    app.assess_risk(&order, 10, &[]).await;
    let reservation_id = app.reservation_id(&order.id).await;
    let mut releases = app.env.tap("orders.reservation.release_requested").await;

    let got = app
        .client()
        .await
        .cancel_order(CancelOrderRequest {
            request_id: "cancel-late-stock".into(),
            order_id: order.id.clone(),
            reason: CancelReason::CustomerRequest.into(),
            note: "changed my mind".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(got.status(), OrderStatus::Cancelled);
    let release: ReservationReleaseRequested = releases.next().await;
    assert_eq!(release.reservation_id, reservation_id);
    assert_eq!(release.reason(), CancelReason::CustomerRequest);

    // Inventory's answer was already on its way.
    app.reserve_stock(&order).await;
    let release: ReservationReleaseRequested = releases.next().await;
    assert_eq!(release.reservation_id, reservation_id);
    assert_eq!(release.lines.len(), 2);
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Cancelled);
    assert_eq!(app.outbox_count("orders.payment.requested").await, 0);
}

#[tokio::test]
async fn a_payment_authorized_after_the_order_was_cancelled_is_voided() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("late-pay")).await;
    app.assess_risk(&order, 10, &[]).await;
    app.reserve_stock(&order).await;
    let mut voids = app.env.tap("orders.payment.void_requested").await;

    app.client()
        .await
        .cancel_order(CancelOrderRequest {
            request_id: "cancel-late-pay".into(),
            order_id: order.id.clone(),
            reason: CancelReason::CustomerRequest.into(),
            note: String::new(),
        })
        .await
        .unwrap();
    // Payments had not answered: the void asks for whatever it may still authorize.
    let void: PaymentVoidRequested = voids.next().await;
    assert_eq!(void.order_id, order.id);
    assert_eq!(void.reason(), CancelReason::CustomerRequest);
    assert_eq!(
        app.outbox_count("orders.reservation.release_requested")
            .await,
        1
    );

    // The authorization arrives after all: it is let go, naming the payment.
    app.publish("payments", &authorized(&order)).await;
    let void: PaymentVoidRequested = voids.next().await;
    assert_eq!(void.payment_id, payment_id(&order));
    assert_eq!(money(&void.amount), ("EUR".into(), TOTAL));
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Cancelled);
    assert_eq!(app.outbox_count("orders.order.confirmed").await, 0);
    assert_eq!(app.outbox_count("orders.fulfillment.requested").await, 0);

    // The same authorization again changes nothing more.
    app.publish("payments", &authorized(&order)).await;
    assert_eq!(app.outbox_count("orders.payment.void_requested").await, 2);
}

#[tokio::test]
async fn billing_in_another_country_than_shipping_holds_the_order() {
    let app = TestApp::start().await;
    let mut request = valid_request("mismatch");
    request.billing_address = Some(Address {
        country_code: "FR".into(),
        city: "Paris".into(),
        ..request.shipping_address.clone().unwrap()
    });
    let order = app.place(request).await;
    app.assess_risk(&order, 10, &[]).await;
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::OnHold);
    let codes: Vec<&str> = got.hold_reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["country_mismatch"]);
}

#[tokio::test]
async fn a_delivery_heard_first_as_a_tracking_status_change_still_delivers_the_order() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("status-first")).await;
    app.fulfillment_created(&order).await;
    app.hand_over(&order, "shipment-1", &[]).await;

    // Shipping publishes both facts of one delivery together; orders may hear either first.
    app.publish(
        "shipping",
        &ShipmentStatusChanged {
            shipment_id: "shipment-1".into(),
            order_id: order.id.clone(),
            direction: ShipmentDirection::Outbound.into(),
            carrier: "sim-express".into(),
            tracking_number: "TRK-shipment-1".into(),
            previous_status: TrackingStatus::OutForDelivery.into(),
            status: TrackingStatus::Delivered.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Shipped);
    app.deliver(&order, "shipment-1", None).await;

    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Delivered);
    assert!(got.shipments[0].delivered_at.is_some());
    assert_eq!(app.outbox_count("orders.order.delivered").await, 1);
}

#[tokio::test]
async fn a_problem_reported_without_lines_concerns_the_whole_order() {
    let app = TestApp::start().await;
    let order = app.delivered(valid_request("whole")).await;
    let response = app
        .client()
        .await
        .report_problem(ReportProblemRequest {
            request_id: "prob-whole".into(),
            order_id: order.id.clone(),
            kind: ProblemKind::MissingItem.into(),
            description: "the parcel never arrived, whatever tracking says".into(),
            lines: Vec::new(),
            attachment_urls: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.order.unwrap().status(), OrderStatus::Disputed);
    let problem = response.problem.unwrap();
    let lines: Vec<(&str, i32)> = problem
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.quantity))
        .collect();
    assert_eq!(lines, [("L1", 2), ("L2", 1)]);

    // Refunded, the whole order's value goes back.
    let mut refunds = app.env.tap("orders.payment.refund_requested").await;
    app.publish(
        "feedback",
        &CaseResolved {
            case_id: "case-whole".into(),
            order_id: order.id.clone(),
            problem_id: problem.id.clone(),
            resolution: CaseResolution::Refund.into(),
            ..Default::default()
        },
    )
    .await;
    let refund: PaymentRefundRequested = refunds.next().await;
    assert_eq!(money(&refund.amount), ("EUR".into(), TOTAL));
}

#[tokio::test]
async fn a_short_pick_ships_the_rest_and_cancels_releases_and_voids_what_is_missing() {
    let app = TestApp::start().await;
    let mut released = app.env.tap("orders.reservation.release_requested").await;
    let mut voided = app.env.tap("orders.payment.void_requested").await;
    // valid_request: L1 = 2 × TEA-001 at 12.50, L2 = 1 × CUP-002 at 8.99.
    let order = app.confirmed(valid_request("short-pick")).await;
    app.fulfillment_created(&order).await;

    let short = contracts::fulfillment::FulfillmentShortPicked {
        fulfillment_id: crate::helpers::fulfillment_id(&order),
        order_id: order.id.clone(),
        warehouse_id: "WH-1".into(),
        lines: vec![contracts::fulfillment::ShortPickedLine {
            line_id: "L1".into(),
            sku: "TEA-001".into(),
            expected_quantity: 2,
            picked_quantity: 1,
            bins: vec![],
        }],
        picked_by: "picker-1".into(),
        picked_at: None,
    };
    app.publish("fulfillment", &short).await;
    // Heard twice: cancelled once.
    app.publish("fulfillment", &short).await;

    let release: contracts::orders::ReservationReleaseRequested = released.next().await;
    assert_eq!(release.lines.len(), 1);
    assert_eq!(
        (release.lines[0].line_id.as_str(), release.lines[0].quantity),
        ("L1", 1)
    );
    let void: contracts::orders::PaymentVoidRequested = voided.next().await;
    assert_eq!(void.amount, Some(crate::helpers::eur(1250)));
    assert_eq!(app.outbox_count("orders.payment.void_requested").await, 1);

    // The rest leaves in one parcel: the order is shipped, not partially shipped.
    app.hand_over(&order, "shp-rest", &[("L1", 1), ("L2", 1)])
        .await;
    let shipped = app.order(&order.id).await;
    assert_eq!(shipped.status(), OrderStatus::Shipped);
    assert_eq!(shipped.lines[0].cancelled_quantity, 1);
    assert_eq!(shipped.lines[0].shipped_quantity, 1);
}
