//! Crashes at the messaging layer's named points (DESIGN §6), as separate `ordercycle serve`
//! processes: one service runs with `OC_FAILPOINTS=<point>=abort`, so the first time it reaches
//! that point the process aborts; the test sees it die, starts it again without the fail point
//! on the same database, and the demo's card order still completes with nothing doubled — one
//! capture, the stock reserved and committed once, each notification once. Streams keep
//! duplicates for only a moment, so the inboxes (not JetStream's dedup window) must absorb what
//! is redelivered or republished after the restart.
//!
//! | service | point | what the first hit interrupts |
//! |---|---|---|
//! | orders | after commit, before publish | the relay's first batch (`order.placed`) |
//! | payments | after effect, before ack | the risk score of `order.placed` |
//! | inventory | after effect, before ack | the reservation of `reservation.requested` |
//! | shipping | after publish, before mark | the relay's first batch (`shipment.created`) |

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt as _;

use contracts::inventory::GetAvailabilityRequest;
use contracts::inventory::inventory_service_client::InventoryServiceClient;
use contracts::notifications::ListNotificationsRequest;
use contracts::notifications::notification_service_client::NotificationServiceClient;
use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::{GetOrderRequest, GetOrderTimelineRequest, Order, OrderStatus};
use contracts::payments::payment_service_client::PaymentServiceClient;
use contracts::payments::{GetPaymentRequest, TransactionKind, TransactionStatus};
use contracts::shipping::shipping_service_client::ShippingServiceClient;
use contracts::shipping::{ListShipmentsRequest, TrackingStatus};
use messaging::failpoint;
use tonic::transport::Channel;

use crate::processes::{Processes, run_demo};

/// SIGABRT, as `std::process::abort` ends a process.
const SIGABRT: i32 = 6;

async fn channel(platform: &Processes, service: &str) -> Channel {
    Channel::from_shared(format!("http://{}", platform.addr(service)))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

/// Runs the card order with `service` armed to abort at `point`, restarts it once it died,
/// and returns the platform and the order.
async fn crash_and_recover(service: &'static str, point: &str) -> (Processes, Order) {
    let mut platform = Processes::start_first(
        // Long enough for the first publish, short enough that a republish after the restart
        // is stored again rather than dropped as a duplicate.
        vec![("OC_STREAM_DUPLICATE_WINDOW_MS", "500".into())],
        Some((service, vec![("OC_FAILPOINTS", format!("{point}=abort"))])),
    )
    .await;
    let demo = tokio::spawn(run_demo(platform.demo_command("card_ship")));

    let status = platform.exited(service).await;
    assert_eq!(
        status.signal(),
        Some(SIGABRT),
        "{service} aborted at {point}: {status}"
    );
    platform.restart(service).await;

    let result = demo.await.expect("the demo task");
    assert_eq!(
        result["final_status"], "ORDER_STATUS_COMPLETED",
        "{service} crashed at {point}: {result}"
    );
    let number = result["order_number"]
        .as_str()
        .expect("order number")
        .to_owned();
    let order = OrderServiceClient::new(channel(&platform, "orders").await)
        .get_order(GetOrderRequest { id: number })
        .await
        .expect("GetOrder")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(order.status(), OrderStatus::Completed);
    (platform, order)
}

/// The card order of two teas (EUR 25.00) is paid, committed, shipped and told once.
async fn nothing_doubled(platform: &Processes, order: &Order) {
    let total = order.total.as_ref().expect("total").amount_minor;
    let payment = PaymentServiceClient::new(channel(platform, "payments").await)
        .get_payment(GetPaymentRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .expect("GetPayment")
        .into_inner()
        .payment
        .expect("payment");
    let captures: Vec<i64> = payment
        .transactions
        .iter()
        .filter(|t| {
            t.kind() == TransactionKind::Capture && t.status() == TransactionStatus::Succeeded
        })
        .map(|t| t.amount.as_ref().map_or(0, |m| m.amount_minor))
        .collect();
    assert_eq!(captures, [total], "one capture of the total");
    let authorizations = payment
        .transactions
        .iter()
        .filter(|t| t.kind() == TransactionKind::Authorization)
        .count();
    assert_eq!(authorizations, 1);
    assert!(payment.settled);

    // The demo receives 200 teas per run; the order took two, once.
    let level = InventoryServiceClient::new(channel(platform, "inventory").await)
        .get_availability(GetAvailabilityRequest {
            sku: "TEA-001".into(),
            warehouse_id: "WH-BER".into(),
        })
        .await
        .expect("GetAvailability")
        .into_inner()
        .levels
        .into_iter()
        .find(|l| l.warehouse_id == "WH-BER")
        .expect("Berlin holds tea");
    assert_eq!(
        (level.on_hand, level.reserved, level.available),
        (198, 0, 198)
    );

    let shipments = ShippingServiceClient::new(channel(platform, "shipping").await)
        .list_shipments(ListShipmentsRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListShipments")
        .into_inner()
        .shipments;
    assert_eq!(shipments.len(), 1);
    assert_eq!(shipments[0].status(), TrackingStatus::Delivered);

    let timeline = OrderServiceClient::new(channel(platform, "orders").await)
        .get_order_timeline(GetOrderTimelineRequest {
            order_id: order.id.clone(),
            page_size: 200,
            page_token: String::new(),
        })
        .await
        .expect("GetOrderTimeline")
        .into_inner()
        .entries;
    for kind in [
        "orders.payment.requested",
        "orders.order.confirmed",
        "orders.fulfillment.requested",
        "orders.reservation.commit_requested",
        "orders.payment.capture_requested",
        "orders.order.delivered",
        "orders.order.completed",
    ] {
        let count = timeline.iter().filter(|e| e.kind == kind).count();
        assert_eq!(count, 1, "{kind} once");
    }

    // Each message once per channel: the order's milestones and its one parcel's journey.
    let notifications = NotificationServiceClient::new(channel(platform, "notifications").await)
        .list_notifications(ListNotificationsRequest {
            page_size: 200,
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListNotifications")
        .into_inner()
        .notifications;
    let mut sent = BTreeMap::<(String, i32), usize>::new();
    for n in &notifications {
        *sent.entry((n.template.clone(), n.channel)).or_default() += 1;
    }
    assert!(sent.values().all(|count| *count == 1), "{sent:?}");
    for template in [
        "order.received",
        "order.confirmed",
        "shipment.shipped",
        "shipment.delivered",
    ] {
        assert!(
            sent.keys().any(|(t, _)| t == template),
            "{template} sent: {sent:?}"
        );
    }
}

#[tokio::test]
async fn orders_aborting_after_commit_before_publish_loses_and_doubles_nothing() {
    let (platform, order) =
        crash_and_recover("orders", failpoint::AFTER_COMMIT_BEFORE_PUBLISH).await;
    nothing_doubled(&platform, &order).await;
}

#[tokio::test]
async fn payments_aborting_after_effect_before_ack_applies_the_redelivery_once() {
    let (platform, order) = crash_and_recover("payments", failpoint::AFTER_EFFECT_BEFORE_ACK).await;
    nothing_doubled(&platform, &order).await;
}

#[tokio::test]
async fn payments_aborting_after_the_providers_yes_before_its_commit_authorizes_once() {
    let point = format!(
        "{}@orders.payment.requested",
        failpoint::AFTER_EFFECT_BEFORE_COMMIT
    );
    let (platform, order) = crash_and_recover("payments", &point).await;
    nothing_doubled(&platform, &order).await;
    // The provider's side: the redelivered request asked again under the same key and got the
    // first authorization back, not a second one.
    let payments = sqlx::PgPool::connect(&platform.database("payments"))
        .await
        .expect("payments' database");
    let book: Vec<(String, i32)> = sqlx::query_as(
        "SELECT idempotency_key, calls FROM sim_provider_operations WHERE operation = 'authorize'",
    )
    .fetch_all(&payments)
    .await
    .expect("the provider's book");
    assert_eq!(book.len(), 1, "one authorization: {book:?}");
    assert_eq!(book[0].1, 2, "asked twice, under one key: {book:?}");
}

#[tokio::test]
async fn shipping_aborting_after_publish_before_mark_republishes_harmlessly() {
    let (platform, order) =
        crash_and_recover("shipping", failpoint::AFTER_PUBLISH_BEFORE_MARK).await;
    nothing_doubled(&platform, &order).await;
}

#[tokio::test]
async fn inventory_aborting_after_effect_before_ack_reserves_once() {
    let (platform, order) =
        crash_and_recover("inventory", failpoint::AFTER_EFFECT_BEFORE_ACK).await;
    nothing_doubled(&platform, &order).await;
}
