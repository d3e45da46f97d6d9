//! CancelOrder at each stage of the saga, with the compensations each stage needs, and refused
//! once a parcel has left.

use contracts::orders::{
    CancelOrderRequest, CancelOrderResponse, CancelReason, FulfillmentCancelRequested, Order,
    OrderCancelled, OrderStatus, PaymentVoidRequested, ReservationReleaseRequested,
};
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, fulfillment_id, money, payment_id, valid_request};

async fn cancel(
    app: &TestApp,
    order: &Order,
    reason: CancelReason,
    note: &str,
) -> Result<CancelOrderResponse, tonic::Status> {
    app.client()
        .await
        .cancel_order(CancelOrderRequest {
            request_id: format!("cancel-{}", order.id),
            order_id: order.id.clone(),
            reason: reason.into(),
            note: note.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_pending_order_is_cancelled_with_nothing_to_undo() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("cancel-pending")).await;
    let mut cancelled = app.env.tap("orders.order.cancelled").await;

    let missing = app
        .client()
        .await
        .cancel_order(CancelOrderRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    let fields: Vec<String> = missing
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["request_id"]);

    let got = cancel(
        &app,
        &order,
        CancelReason::Unspecified,
        "ordered twice by mistake",
    )
    .await
    .unwrap()
    .order
    .unwrap();
    assert_eq!(got.status(), OrderStatus::Cancelled);
    // An operator (dev mode) who gives no reason cancels as the operator.
    assert_eq!(got.cancel_reason(), CancelReason::Operator);
    assert_eq!(got.cancel_note, "ordered twice by mistake");
    let event: OrderCancelled = cancelled.next().await;
    assert_eq!(event.previous_status(), OrderStatus::Pending);
    assert_eq!(event.reason(), CancelReason::Operator);
    assert_eq!(event.note, "ordered twice by mistake");
    assert_eq!(event.cancelled_by, "dev-operator");
    assert_eq!(event.lines.len(), 2);
    for subject in [
        "orders.reservation.release_requested",
        "orders.payment.void_requested",
        "orders.fulfillment.cancel_requested",
    ] {
        assert_eq!(app.outbox_count(subject).await, 0, "{subject}");
    }

    // Cancelling again answers with the cancelled order; payments' late score changes nothing.
    let again = cancel(&app, &order, CancelReason::Unspecified, "")
        .await
        .unwrap();
    assert_eq!(again.order.unwrap().status(), OrderStatus::Cancelled);
    app.assess_risk(&order, 10, &[]).await;
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Cancelled);
    assert_eq!(app.outbox_count("orders.reservation.requested").await, 0);
    assert_eq!(app.outbox_count("orders.order.cancelled").await, 1);
}

#[tokio::test]
async fn a_held_order_is_cancelled_and_its_review_deadline_dropped() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("cancel-held")).await;
    app.assess_risk(&order, 90, &[]).await;
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::OnHold);

    let got = cancel(&app, &order, CancelReason::CustomerRequest, "")
        .await
        .unwrap();
    assert_eq!(got.order.unwrap().status(), OrderStatus::Cancelled);
    let timers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM oc_timers WHERE kind = 'orders.review_deadline'")
            .fetch_one(&app.orders.pool)
            .await
            .unwrap();
    assert_eq!(timers, 0);
    assert_eq!(
        app.outbox_count("orders.reservation.release_requested")
            .await,
        0
    );
}

#[tokio::test]
async fn an_order_awaiting_payment_is_cancelled_with_its_stock_released_and_payment_voided() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("cancel-awaiting")).await;
    app.assess_risk(&order, 10, &[]).await;
    app.reserve_stock(&order).await;
    assert_eq!(
        app.order(&order.id).await.status(),
        OrderStatus::AwaitingPayment
    );
    let reservation_id = app.reservation_id(&order.id).await;
    let mut releases = app.env.tap("orders.reservation.release_requested").await;
    let mut voids = app.env.tap("orders.payment.void_requested").await;
    let mut cancelled = app.env.tap("orders.order.cancelled").await;

    let got = cancel(
        &app,
        &order,
        CancelReason::CustomerRequest,
        "found it cheaper",
    )
    .await
    .unwrap()
    .order
    .unwrap();
    assert_eq!(got.status(), OrderStatus::Cancelled);
    assert_eq!(got.cancel_reason(), CancelReason::CustomerRequest);

    let release: ReservationReleaseRequested = releases.next().await;
    assert_eq!(release.reservation_id, reservation_id);
    assert_eq!(release.reason(), CancelReason::CustomerRequest);
    let void: PaymentVoidRequested = voids.next().await;
    assert_eq!(void.order_id, order.id);
    assert_eq!(money(&void.amount), money(&order.total));
    let event: OrderCancelled = cancelled.next().await;
    assert_eq!(event.previous_status(), OrderStatus::AwaitingPayment);
    assert_eq!(
        app.outbox_count("orders.fulfillment.cancel_requested")
            .await,
        0,
        "fulfilment was never asked for"
    );
}

#[tokio::test]
async fn a_confirmed_order_is_cancelled_with_stock_released_payment_voided_and_fulfilment_stopped()
{
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("cancel-confirmed")).await;
    let reservation_id = app.reservation_id(&order.id).await;
    let mut releases = app.env.tap("orders.reservation.release_requested").await;
    let mut voids = app.env.tap("orders.payment.void_requested").await;
    let mut stops = app.env.tap("orders.fulfillment.cancel_requested").await;

    let got = cancel(&app, &order, CancelReason::Operator, "warehouse flooded")
        .await
        .unwrap()
        .order
        .unwrap();
    assert_eq!(got.status(), OrderStatus::Cancelled);
    assert_eq!(got.cancel_reason(), CancelReason::Operator);

    let release: ReservationReleaseRequested = releases.next().await;
    assert_eq!(release.reservation_id, reservation_id);
    assert_eq!(release.reason(), CancelReason::Operator);
    let void: PaymentVoidRequested = voids.next().await;
    assert_eq!(void.payment_id, payment_id(&order));
    assert_eq!(money(&void.amount), money(&order.total));
    assert_eq!(void.reason(), CancelReason::Operator);
    let stop: FulfillmentCancelRequested = stops.next().await;
    assert_eq!(stop.order_id, order.id);
    assert_eq!(stop.reason(), CancelReason::Operator);
    assert_eq!(
        app.outbox_count("orders.payment.refund_requested").await,
        0,
        "nothing was captured"
    );
}

#[tokio::test]
async fn an_order_in_fulfilment_is_cancelled_naming_the_fulfilments_to_stop() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("cancel-fulfilling")).await;
    app.fulfillment_created(&order).await;
    assert_eq!(
        app.order(&order.id).await.status(),
        OrderStatus::InFulfillment
    );
    let mut stops = app.env.tap("orders.fulfillment.cancel_requested").await;

    cancel(&app, &order, CancelReason::CustomerRequest, "")
        .await
        .unwrap();
    let stop: FulfillmentCancelRequested = stops.next().await;
    assert_eq!(stop.fulfillment_ids, [fulfillment_id(&order)]);
    assert_eq!(
        app.outbox_count("orders.reservation.release_requested")
            .await,
        1
    );
    assert_eq!(app.outbox_count("orders.payment.void_requested").await, 1);
}

#[tokio::test]
async fn an_order_is_no_longer_cancelled_once_a_parcel_has_left() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("cancel-shipped")).await;
    app.fulfillment_created(&order).await;
    app.hand_over(&order, "shipment-1", &[]).await;

    let refused = cancel(&app, &order, CancelReason::CustomerRequest, "too late?")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("cancel"),
        "{}",
        refused.message()
    );
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Shipped);
    assert_eq!(app.outbox_count("orders.order.cancelled").await, 0);
    assert_eq!(
        app.outbox_count("orders.reservation.release_requested")
            .await,
        0
    );
}

/// The order's `status_since` and another of its times.
async fn status_since_and(
    app: &TestApp,
    order: &Order,
    column: &str,
) -> (
    Option<chrono::DateTime<chrono::Utc>>,
    chrono::DateTime<chrono::Utc>,
) {
    sqlx::query_as(&format!(
        "SELECT status_since, {column} FROM orders WHERE id = $1::uuid"
    ))
    .bind(&order.id)
    .fetch_one(&app.orders.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_cancellation_is_measured_from_when_the_order_entered_its_status() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("cancel-measured")).await;
    let (since, created) = status_since_and(&app, &order, "created_at").await;
    assert_eq!(
        since,
        Some(created),
        "a new order is PENDING since it was placed"
    );

    cancel(&app, &order, CancelReason::Unspecified, "changed my mind")
        .await
        .unwrap();
    let (since, updated) = status_since_and(&app, &order, "updated_at").await;
    assert_eq!(since, Some(updated), "CANCELLED since the cancellation");
    let text = testkit::admin_get(app.orders.http_addr, "/metrics")
        .await
        .unwrap();
    assert!(
        text.contains(r#"oc_order_stage_duration_seconds_count{service="orders",from="PENDING",to="CANCELLED"} 1"#),
        "the time spent PENDING is observed once:\n{text}"
    );
}
