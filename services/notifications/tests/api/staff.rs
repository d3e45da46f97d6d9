//! Staff alerts: orders to review, low stock, missed SLAs and dead-lettered events, to every
//! configured staff address.

use std::time::Duration;

use async_nats::HeaderMap;
use contracts::common::Customer;
use contracts::feedback::{CasePriority, SlaBreached, SlaKind};
use contracts::inventory::StockLow;
use contracts::notifications::{
    NotificationAudience, NotificationChannel as Ch, NotificationStatus as St, NotificationTopic,
};
use contracts::orders::{HoldReason, OrderHeld};
use contracts::payments::PaymentPending;

use crate::harness::{STAFF, TestApp, eur, outlast_duplicate_window};

#[tokio::test]
async fn held_orders_low_stock_and_missed_slas_alert_every_staff_address() {
    let app = TestApp::start().await;
    let order_id = uuid::Uuid::new_v4().to_string();
    let held = app
        .publish(&OrderHeld {
            order_id: order_id.clone(),
            order_number: "OC-HELD-1".into(),
            reasons: vec![HoldReason {
                code: "high_value".into(),
                description: "total above the review threshold".into(),
                ..Default::default()
            }],
            risk_score: Some(82),
            total: eur(2_000_000),
            customer: Some(Customer {
                id: "cust-held".into(),
                email: "held-customer@example.com".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .to_string();
    let low = app
        .publish(&StockLow {
            sku: "TEA-001".into(),
            name: "Green tea".into(),
            warehouse_id: "wh-berlin".into(),
            available: 3,
            reorder_point: 10,
            suggested_quantity: 40,
            ..Default::default()
        })
        .await
        .to_string();
    let sla = app
        .publish(&SlaBreached {
            case_id: "case-1".into(),
            case_number: "CS-0001".into(),
            sla: SlaKind::FirstResponse as i32,
            priority: CasePriority::High as i32,
            ..Default::default()
        })
        .await
        .to_string();

    for address in STAFF {
        let mails = app.smtp.wait_for(address, 3).await;
        let by_event = |id: &str| {
            mails
                .iter()
                .find(|m| m.message_id().contains(id))
                .unwrap()
                .clone()
        };
        let mail = by_event(&held);
        assert_eq!(mail.subject, "[review] Order OC-HELD-1 is on hold");
        assert!(mail.body.contains("Risk score: 82"), "{}", mail.body);
        assert!(
            mail.body.contains("- total above the review threshold"),
            "{}",
            mail.body
        );
        assert!(mail.body.contains("20000.00 EUR"), "{}", mail.body);
        assert_eq!(
            by_event(&low).subject,
            "[stock] TEA-001 is low in wh-berlin"
        );
        assert_eq!(
            by_event(&sla).subject,
            "[SLA] Case CS-0001 missed its first response deadline"
        );
    }
    // The held order's customer is not told by this event.
    assert!(app.smtp.mails_to("held-customer@example.com").is_empty());
    let rows = app.log_of_event(&held).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.audience == NotificationAudience::Staff as i32
                && r.topic == NotificationTopic::Operations as i32
                && r.customer_id.is_empty()
                && r.order_id == order_id)
    );
    // Two staff recipients, two keys.
    assert_ne!(rows[0].idempotency_key, rows[1].idempotency_key);
}

#[tokio::test]
async fn a_dead_lettered_event_alerts_staff_once() {
    let app =
        TestApp::start_with(|s| s.streams.duplicate_window = Duration::from_millis(100)).await;
    // Instructions are what this message is for: without them the event is poison, and our
    // own consumer dead-letters it.
    let poison = app
        .publish(&PaymentPending {
            order_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .to_string();
    let mails = app.smtp.wait_for(STAFF[0], 1).await;
    let mail = &mails[0];
    assert_eq!(
        mail.subject,
        "[dead letter] payments.payment.pending failed in notifications__payments_payment_pending"
    );
    assert!(
        mail.body.contains(&format!("Event id:   {poison}")),
        "{}",
        mail.body
    );
    assert!(
        mail.body.contains("a pending payment without instructions"),
        "{}",
        mail.body
    );

    // The same dead letter delivered again (same Nats-Msg-Id, past the duplicate window) is
    // not reported again.
    let subjects = app.env.subjects();
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", "dlq:orders__test:evt-42");
    headers.insert("oc-dlq-consumer", "orders__test");
    headers.insert("oc-dlq-subject", "test.thing.happened");
    headers.insert("oc-dlq-reason", "after 5 deliveries: boom");
    headers.insert("oc-dlq-deliveries", "5");
    for _ in 0..2 {
        app.env
            .jetstream()
            .publish_with_headers(
                subjects.dead_letter_subject("orders__test", "test.thing.happened"),
                headers.clone(),
                bytes::Bytes::from_static(b"opaque"),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        outlast_duplicate_window().await;
    }
    let mut sentinel = headers.clone();
    sentinel.insert("Nats-Msg-Id", "dlq:orders__test:sentinel");
    sentinel.insert("oc-dlq-subject", "test.sentinel");
    app.env
        .jetstream()
        .publish_with_headers(
            subjects.dead_letter_subject("orders__test", "test.sentinel"),
            sentinel,
            bytes::Bytes::from_static(b"opaque"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    app.wait_status("dlq:orders__test:sentinel", Ch::Email, St::Sent)
        .await;
    let alerts = app.log_of_event("dlq:orders__test:evt-42").await;
    assert_eq!(alerts.len(), 2, "one per staff address, once");
    let mails = app.smtp.wait_for(STAFF[1], 3).await;
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.subject.contains("test.thing.happened"))
            .count(),
        1
    );
}
