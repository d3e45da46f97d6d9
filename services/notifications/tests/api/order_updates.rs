//! Order updates (`orders.order.updated`): the customer hears what their order holds now, its
//! new total and the difference, and the new address — once per event, as their preferences
//! say — and an erasure finds every contact and address an update's message named.

use std::time::Duration;

use contracts::common::{Address, Customer};
use contracts::notifications::{
    NotificationChannel as Ch, NotificationStatus as St, NotificationTopic, Preferences,
    SetPreferencesRequest,
};
use contracts::orders::{OrderLine, OrderPlaced, OrderUpdated};
use messaging::envelope::Outgoing;

use crate::harness::{TestApp, customer, eur, order_placed, outlast_duplicate_window};

fn line(line_id: &str, sku: &str, name: &str, quantity: i32, unit: i64) -> OrderLine {
    OrderLine {
        line_id: line_id.into(),
        sku: sku.into(),
        name: name.into(),
        quantity,
        unit_price: eur(unit),
        line_total: eur(unit * i64::from(quantity)),
        ..Default::default()
    }
}

/// The placed order (2 x Green tea, 25.00 EUR) with its tea lowered to one and two spoons
/// added (18.50 EUR), shipped to a new address.
fn updated(placed: &OrderPlaced, who: &Customer, version: i64) -> OrderUpdated {
    OrderUpdated {
        order_id: placed.order_id.clone(),
        order_number: placed.order_number.clone(),
        update_id: uuid::Uuid::new_v4().to_string(),
        customer: Some(who.clone()),
        lines: vec![
            line("L1", "TEA-001", "Green tea", 1, 1250),
            line("L2", "SPOON-01", "Tea spoon", 2, 300),
        ],
        total_before: eur(2500),
        total: eur(1850),
        lines_changed: true,
        address_changed: true,
        shipping_address: Some(Address {
            recipient: "Mei Lin".into(),
            line1: "Hauptstrasse 5".into(),
            line2: "Hinterhaus".into(),
            city: "Berlin".into(),
            postal_code: "10115".into(),
            country_code: "DE".into(),
            ..Default::default()
        }),
        updated_by: who.id.clone(),
        reason: "fewer cups, more spoons".into(),
        version,
        ..Default::default()
    }
}

#[tokio::test]
async fn an_update_tells_the_customer_the_new_lines_total_difference_and_address() {
    let app = TestApp::start().await;
    let who = customer("updated");
    let placed = order_placed(&who);
    app.publish(&placed).await;
    app.smtp.wait_for(&who.email, 1).await;

    let event_id = app.publish(&updated(&placed, &who, 1)).await.to_string();

    let mails = app.smtp.wait_for(&who.email, 2).await;
    let mail = mails
        .iter()
        .find(|m| m.message_id().contains(&event_id))
        .unwrap();
    assert_eq!(
        mail.subject,
        format!("Your order {} was updated", placed.order_number)
    );
    for expected in [
        "Hello Mei Lin",
        "1 x Green tea",
        "2 x Tea spoon",
        "Total: 18.50 EUR",
        "Before the update: 25.00 EUR (difference -6.50 EUR)",
        "It will be delivered to the new address:",
        "Hauptstrasse 5",
        "Hinterhaus",
        "10115 Berlin",
    ] {
        assert!(mail.body.contains(expected), "{expected}: {}", mail.body);
    }
    assert!(!mail.body.contains("contact details"), "{}", mail.body);

    let sms = app.wait_status(&event_id, Ch::Sms, St::Sent).await;
    assert!(
        sms.body.contains("18.50 EUR") && sms.body.contains("-6.50 EUR"),
        "{}",
        sms.body
    );
    let rows = app.log_of_event(&event_id).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.template == "order.updated" && r.order_id == placed.order_id)
    );

    // A dearer update with the address and contact left alone: no address, a positive
    // difference.
    let dearer = OrderUpdated {
        total_before: eur(1850),
        total: eur(2150),
        address_changed: false,
        ..updated(&placed, &who, 2)
    };
    let dearer_id = app.publish(&dearer).await.to_string();
    let mail = app.wait_status(&dearer_id, Ch::Email, St::Sent).await;
    assert!(
        mail.body
            .contains("Before the update: 18.50 EUR (difference +3.00 EUR)"),
        "{}",
        mail.body
    );
    assert!(!mail.body.contains("Hauptstrasse"), "{}", mail.body);
}

#[tokio::test]
async fn an_update_delivered_again_sends_one_message() {
    let app =
        TestApp::start_with(|s| s.streams.duplicate_window = Duration::from_millis(100)).await;
    let who = customer("update-twice");
    let placed = order_placed(&who);
    // The update carries the contact itself: it does not wait for the order's placement.
    let outgoing = Outgoing::new(&updated(&placed, &who, 1), chrono::Utc::now());
    let event_id = outgoing.id.to_string();
    app.publish_again(&outgoing).await;
    outlast_duplicate_window().await;
    app.publish_again(&outgoing).await;
    outlast_duplicate_window().await;
    app.publish_again(&outgoing).await;

    // A later update is handled after every copy before it.
    let sentinel_id = app.publish(&updated(&placed, &who, 2)).await.to_string();
    app.wait_status(&sentinel_id, Ch::Email, St::Sent).await;
    app.wait_status(&event_id, Ch::Email, St::Sent).await;
    app.wait_status(&event_id, Ch::Sms, St::Sent).await;

    let mails = app.smtp.mails_to(&who.email);
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.message_id().contains(&event_id))
            .count(),
        1
    );
    let sms = app.gateway.calls("/sms", "to", &who.phone);
    assert_eq!(
        sms.iter()
            .filter(|c| c.idempotency_key().starts_with(&event_id))
            .count(),
        1
    );
    assert_eq!(app.log_of_event(&event_id).await.len(), 2);
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_update_contacts WHERE source_event_id = $1")
            .bind(&event_id)
            .fetch_one(&app.service.pool)
            .await
            .unwrap();
    assert_eq!(kept, 1);
}

#[tokio::test]
async fn updates_follow_the_customers_preferences_like_the_other_order_messages() {
    let app = TestApp::start().await;
    let mut client = app.client().await;

    // Muted order updates: recorded, not sent — like a muted confirmation.
    let muted = customer("update-muted");
    client
        .set_preferences(SetPreferencesRequest {
            preferences: Some(Preferences {
                customer_id: muted.id.clone(),
                email_enabled: true,
                sms_enabled: true,
                muted_topics: vec![NotificationTopic::OrderUpdates as i32],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let placed = order_placed(&muted);
    let quiet = app.publish(&updated(&placed, &muted, 1)).await.to_string();
    for channel in [Ch::Email, Ch::Sms] {
        let row = app.wait_status(&quiet, channel, St::Suppressed).await;
        assert_eq!(row.failure_reason, "the customer muted this topic");
    }

    // Chinese, by push only for order updates.
    let zh = customer("update-zh");
    let token = format!("device-{}", zh.id);
    client
        .set_preferences(SetPreferencesRequest {
            preferences: Some(Preferences {
                customer_id: zh.id.clone(),
                email_enabled: true,
                sms_enabled: true,
                push_enabled: true,
                push_token: token.clone(),
                locale: "zh-CN".into(),
                topic_channels: vec![contracts::notifications::TopicChannels {
                    topic: NotificationTopic::OrderUpdates as i32,
                    channels: vec![Ch::Push as i32],
                }],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let placed = order_placed(&zh);
    let event_id = app.publish(&updated(&placed, &zh, 1)).await.to_string();
    let push = app.gateway.wait_for("/push", "token", &token, 1).await;
    let push = push
        .iter()
        .find(|c| c.idempotency_key().starts_with(&event_id))
        .unwrap();
    assert_eq!(
        push.body["title"],
        format!("订单 {} 已更新", placed.order_number)
    );
    assert!(
        push.body["body"].as_str().unwrap().contains("18.50 EUR"),
        "{}",
        push.body
    );
    assert_eq!(push.body["data"]["template"], "order.updated");
    // Only the channel chosen for the topic is planned: no e-mail, no SMS.
    let rows = app.log_of_event(&event_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].channel, rows[0].locale.as_str()),
        (Ch::Push as i32, "zh-CN")
    );
}

#[tokio::test]
async fn an_update_to_a_new_contact_reaches_it_and_an_erasure_masks_old_and_new() {
    let app = TestApp::start().await;
    let who = customer("update-contact");
    let placed = order_placed(&who);
    app.publish(&placed).await;
    app.smtp.wait_for(&who.email, 1).await;

    let moved = Customer {
        name: "Mei Lin-Wagner".into(),
        email: format!("new-{}", who.email),
        ..who.clone()
    };
    let event_id = app
        .publish(&OrderUpdated {
            contact_changed: true,
            ..updated(&placed, &moved, 1)
        })
        .await
        .to_string();
    let mail = app.smtp.wait_for(&moved.email, 1).await.remove(0);
    assert!(mail.message_id().contains(&event_id));
    assert!(mail.body.contains("Hello Mei Lin-Wagner"), "{}", mail.body);
    assert!(
        mail.body.contains("contact details you gave us"),
        "{}",
        mail.body
    );
    assert_eq!(app.smtp.mails_to(&who.email).len(), 1);

    let pool = &app.service.pool;
    let needles = [
        who.email.as_str(),
        moved.email.as_str(),
        "Mei Lin",
        "Hauptstrasse 5",
        "Hinterhaus",
    ];
    assert!(!testkit::privacy::traces(pool, &needles).await.is_empty());
    let erasure = testkit::privacy::erasure(&[&placed.order_id], &who.id);
    app.publish(&erasure).await;
    testkit::privacy::applied(pool, &erasure.erasure_id).await;
    assert_eq!(
        testkit::privacy::traces(pool, &needles).await,
        Vec::<String>::new()
    );
}
