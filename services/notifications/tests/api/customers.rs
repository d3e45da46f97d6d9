//! Customer milestones: what arrives, on which channel, in which language, with which key.

use std::time::Duration;

use contracts::feedback::SurveyInvited;
use contracts::fulfillment::{FulfillmentReadyForPickup, ParcelHandedOver};
use contracts::notifications::{
    NotificationChannel as Ch, NotificationStatus as St, NotificationTopic, Preferences,
    SetPreferencesRequest,
};
use contracts::orders::{CancelReason, OrderCancelled, OrderConfirmed, ShortLine};
use contracts::payments::{
    BankTransferInstructions, PaymentDeclined, PaymentPending, PaymentRefunded,
};
use contracts::shipping::{
    Courier, ShipmentCreated, ShipmentDelivered, ShipmentDirection, ShipmentStatusChanged,
    TrackingStatus,
};
use messaging::envelope::Outgoing;

use crate::harness::{SMS_SECRET, TestApp, customer, eur, order_placed, outlast_duplicate_window};

#[tokio::test]
async fn a_placed_order_is_acknowledged_by_email_and_sms_carrying_keys_from_the_event() {
    let app = TestApp::start().await;
    let who = customer("received");
    let placed = order_placed(&who);
    let event_id = app.publish(&placed).await.to_string();

    let mail = app.smtp.wait_for(&who.email, 1).await.remove(0);
    assert_eq!(
        mail.subject,
        format!("We received your order {}", placed.order_number)
    );
    assert!(mail.body.contains("Hello Mei Lin"), "{}", mail.body);
    assert!(mail.body.contains("2 x Green tea"), "{}", mail.body);
    assert!(mail.body.contains("Total: 25.00 EUR"), "{}", mail.body);
    assert_eq!(mail.mail_from, "no-reply@shop.example");

    let email_row = app.wait_status(&event_id, Ch::Email, St::Sent).await;
    assert!(
        email_row
            .idempotency_key
            .starts_with(&format!("{event_id}.email."))
    );
    assert_eq!(
        mail.message_id(),
        format!("<{}@shop.example>", email_row.idempotency_key)
    );
    assert_eq!(email_row.template, "order.received");
    assert_eq!(email_row.locale, "en");
    assert_eq!(email_row.attempts, 1);
    assert_eq!(email_row.customer_id, who.id);
    assert!(!email_row.recipient.contains(&who.email) && email_row.recipient.contains("***@"));

    let sms = app
        .gateway
        .wait_for("/sms", "to", &who.phone, 1)
        .await
        .remove(0);
    let sms_row = app.wait_status(&event_id, Ch::Sms, St::Sent).await;
    assert!(
        sms_row
            .idempotency_key
            .starts_with(&format!("{event_id}.sms."))
    );
    assert_eq!(sms.idempotency_key(), sms_row.idempotency_key);
    assert_eq!(sms.headers["authorization"], SMS_SECRET);
    assert_eq!(sms.headers["content-type"], "application/json");
    assert_eq!(sms.body["reference"], sms_row.idempotency_key.as_str());
    let text = sms.body["text"].as_str().unwrap();
    assert!(
        text.contains(&placed.order_number) && text.contains("25.00 EUR"),
        "{text}"
    );
    assert_eq!(sms_row.subject, "");

    // Push is off until the customer gives a token.
    assert!(app.gateway.calls("/push", "token", "").is_empty());
    assert_eq!(app.log_of_event(&event_id).await.len(), 2);
}

#[tokio::test]
async fn a_customer_who_chose_chinese_gets_every_channel_in_chinese() {
    let app = TestApp::start().await;
    let who = customer("zh");
    let mut client = app.client().await;
    client
        .set_preferences(SetPreferencesRequest {
            preferences: Some(Preferences {
                customer_id: who.id.clone(),
                email_enabled: true,
                sms_enabled: true,
                push_enabled: true,
                push_token: format!("device-{}", who.id),
                locale: "zh-CN".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let placed = order_placed(&who);
    app.publish(&placed).await;
    app.smtp.wait_for(&who.email, 1).await;
    let confirmed = OrderConfirmed {
        order_id: placed.order_id.clone(),
        order_number: placed.order_number.clone(),
        customer: Some(who.clone()),
        lines: placed.lines.clone(),
        total: eur(2500),
        ..Default::default()
    };
    let event_id = app.publish(&confirmed).await.to_string();

    let mails = app.smtp.wait_for(&who.email, 2).await;
    let mail = mails
        .iter()
        .find(|m| m.message_id().contains(&event_id))
        .unwrap();
    assert_eq!(mail.subject, format!("订单 {} 已确认", placed.order_number));
    assert!(mail.body.contains("Mei Lin，您好！"), "{}", mail.body);
    assert!(mail.body.contains("Green tea × 2"), "{}", mail.body);
    assert!(mail.body.contains("合计：25.00 EUR"), "{}", mail.body);

    let sms = app.gateway.wait_for("/sms", "to", &who.phone, 2).await;
    let sms = sms
        .iter()
        .find(|c| c.idempotency_key().starts_with(&event_id))
        .unwrap();
    assert!(sms.body["text"].as_str().unwrap().contains("已确认"));

    let token = format!("device-{}", who.id);
    let push = app.gateway.wait_for("/push", "token", &token, 2).await;
    let push = push
        .iter()
        .find(|c| c.idempotency_key().starts_with(&event_id))
        .unwrap();
    assert_eq!(push.headers["x-api-key"], crate::harness::PUSH_SECRET);
    assert_eq!(
        push.body["title"],
        format!("订单 {} 已确认", placed.order_number)
    );
    assert_eq!(push.body["data"]["template"], "order.confirmed");
    assert_eq!(push.body["data"]["order_id"], placed.order_id.as_str());

    let rows = app.log_of_event(&event_id).await;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.locale == "zh-CN"));
}

#[tokio::test]
async fn a_redelivered_event_sends_nothing_new() {
    let app =
        TestApp::start_with(|s| s.streams.duplicate_window = Duration::from_millis(100)).await;
    let who = customer("redelivered");
    let placed = order_placed(&who);
    app.publish(&placed).await;
    app.smtp.wait_for(&who.email, 1).await;

    let confirmed = OrderConfirmed {
        order_id: placed.order_id.clone(),
        order_number: placed.order_number.clone(),
        customer: Some(who.clone()),
        total: eur(2500),
        ..Default::default()
    };
    let outgoing = Outgoing::new(&confirmed, chrono::Utc::now());
    let event_id = outgoing.id.to_string();
    app.publish_again(&outgoing).await;
    outlast_duplicate_window().await;
    app.publish_again(&outgoing).await;
    outlast_duplicate_window().await;
    app.publish_again(&outgoing).await;

    // A later event on the same subject is handled after every copy before it.
    let sentinel = OrderConfirmed {
        order_number: "sentinel".into(),
        ..confirmed.clone()
    };
    let sentinel_id = app.publish(&sentinel).await.to_string();
    app.wait_status(&sentinel_id, Ch::Email, St::Sent).await;
    app.wait_status(&event_id, Ch::Email, St::Sent).await;
    app.wait_status(&event_id, Ch::Sms, St::Sent).await;

    let stream = app
        .env
        .jetstream()
        .get_stream(app.env.subjects().stream_name("orders"))
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    assert_eq!(
        stream, 5,
        "placed, three copies and the sentinel are all in the stream"
    );
    let mails = app.smtp.mails_to(&who.email);
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.message_id().contains(&event_id))
            .count(),
        1
    );
    let calls = app.gateway.calls("/sms", "to", &who.phone);
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.idempotency_key().starts_with(&event_id))
            .count(),
        1
    );
    assert_eq!(app.log_of_event(&event_id).await.len(), 2);
}

#[tokio::test]
async fn shipping_milestones_reach_the_customer_with_the_tracking_link() {
    let app = TestApp::start().await;
    let who = customer("ship");
    let placed = order_placed(&who);
    app.publish(&placed).await;
    app.smtp.wait_for(&who.email, 1).await;

    let shipment_id = uuid::Uuid::new_v4().to_string();
    let link = format!("https://track.example/SX-{}", &shipment_id[..8]);
    app.publish(&ShipmentCreated {
        shipment_id: shipment_id.clone(),
        order_id: placed.order_id.clone(),
        direction: ShipmentDirection::Outbound as i32,
        carrier: "sim-express".into(),
        tracking_number: "SX123".into(),
        tracking_url: link.clone(),
        ..Default::default()
    })
    .await;
    let pool = app.service.pool.clone();
    testkit::eventually("the shipment to be known", || async {
        sqlx::query_scalar::<_, String>("SELECT tracking_url FROM shipments WHERE shipment_id = $1")
            .bind(&shipment_id)
            .fetch_optional(&pool)
            .await
            .unwrap()
    })
    .await;

    let shipped = app
        .publish(&ParcelHandedOver {
            order_id: placed.order_id.clone(),
            shipment_id: shipment_id.clone(),
            carrier: "sim-express".into(),
            tracking_number: "SX123".into(),
            ..Default::default()
        })
        .await
        .to_string();
    let out = app
        .publish(&ShipmentStatusChanged {
            shipment_id: shipment_id.clone(),
            order_id: placed.order_id.clone(),
            direction: ShipmentDirection::Outbound as i32,
            tracking_url: link.clone(),
            previous_status: TrackingStatus::InTransit as i32,
            status: TrackingStatus::OutForDelivery as i32,
            courier: Some(Courier {
                name: "Wang".into(),
                phone: String::new(),
            }),
            ..Default::default()
        })
        .await
        .to_string();
    let delivered = app
        .publish(&ShipmentDelivered {
            shipment_id: shipment_id.clone(),
            order_id: placed.order_id.clone(),
            direction: ShipmentDirection::Outbound as i32,
            received_by: "neighbour".into(),
            ..Default::default()
        })
        .await
        .to_string();
    // In transit is not a milestone the customer is told about.
    let quiet = app
        .publish(&ShipmentStatusChanged {
            shipment_id: shipment_id.clone(),
            order_id: placed.order_id.clone(),
            direction: ShipmentDirection::Outbound as i32,
            previous_status: TrackingStatus::Accepted as i32,
            status: TrackingStatus::InTransit as i32,
            ..Default::default()
        })
        .await
        .to_string();

    let mails = app.smtp.wait_for(&who.email, 4).await;
    let by_event = |id: &str| {
        mails
            .iter()
            .find(|m| m.message_id().contains(id))
            .unwrap()
            .clone()
    };
    let mail = by_event(&shipped);
    assert_eq!(
        mail.subject,
        format!("Order {} has shipped", placed.order_number)
    );
    assert!(
        mail.body.contains(&format!("Track it here: {link}")),
        "{}",
        mail.body
    );
    assert!(
        mail.body.contains("Tracking number: SX123"),
        "{}",
        mail.body
    );
    let mail = by_event(&out);
    assert!(
        mail.subject.contains("out for delivery"),
        "{}",
        mail.subject
    );
    assert!(
        mail.body.contains("Your courier today: Wang."),
        "{}",
        mail.body
    );
    let mail = by_event(&delivered);
    assert!(
        mail.body.contains("was delivered (neighbour)"),
        "{}",
        mail.body
    );

    let sms = app.gateway.wait_for("/sms", "to", &who.phone, 4).await;
    let shipped_sms = sms
        .iter()
        .find(|c| c.idempotency_key().starts_with(&shipped))
        .unwrap();
    assert!(shipped_sms.body["text"].as_str().unwrap().contains(&link));
    assert!(app.log_of_event(&quiet).await.is_empty());
    let log = app.log_of_order(&placed.order_id).await;
    for template in [
        "order.received",
        "shipment.shipped",
        "shipment.out_for_delivery",
        "shipment.delivered",
    ] {
        assert!(
            log.iter().any(|n| n.template == template),
            "{template} missing"
        );
    }
}

#[tokio::test]
async fn cancellations_declines_refunds_and_surveys_say_why_and_how_much() {
    let app = TestApp::start().await;
    let who = customer("cancel");
    let placed = order_placed(&who);
    app.publish(&placed).await;
    app.smtp.wait_for(&who.email, 1).await;

    let declined = app
        .publish(&PaymentDeclined {
            order_id: placed.order_id.clone(),
            reason: contracts::payments::DeclineReason::ProviderDeclined as i32,
            ..Default::default()
        })
        .await
        .to_string();
    let cancelled = app
        .publish(&OrderCancelled {
            order_id: placed.order_id.clone(),
            order_number: placed.order_number.clone(),
            customer: Some(who.clone()),
            reason: CancelReason::OutOfStock as i32,
            short_lines: vec![ShortLine {
                line_id: "L1".into(),
                sku: "TEA-001".into(),
                requested_quantity: 2,
                available_quantity: 1,
            }],
            ..Default::default()
        })
        .await
        .to_string();
    let refunded = app
        .publish(&PaymentRefunded {
            order_id: placed.order_id.clone(),
            amount: eur(1250),
            ..Default::default()
        })
        .await
        .to_string();
    let survey = app
        .publish(&SurveyInvited {
            survey_id: "survey-1".into(),
            order_id: placed.order_id.clone(),
            order_number: placed.order_number.clone(),
            customer: Some(who.clone()),
            ..Default::default()
        })
        .await
        .to_string();

    let mails = app.smtp.wait_for(&who.email, 5).await;
    let by_event = |id: &str| {
        mails
            .iter()
            .find(|m| m.message_id().contains(id))
            .unwrap()
            .clone()
    };
    assert!(by_event(&declined).subject.contains("was declined"));
    let mail = by_event(&cancelled);
    assert!(
        mail.body.contains("because some items are out of stock"),
        "{}",
        mail.body
    );
    assert!(
        mail.body.contains("TEA-001: 2 ordered, 1 available"),
        "{}",
        mail.body
    );
    assert_eq!(
        by_event(&refunded).subject,
        format!("Refund of 12.50 EUR for order {}", placed.order_number)
    );
    assert!(by_event(&survey).body.contains("survey survey-1"));
}

#[tokio::test]
async fn bank_transfer_instructions_and_pickup_codes_reach_a_customer_who_muted_their_topics() {
    let app = TestApp::start().await;
    let who = customer("muted");
    let mut client = app.client().await;
    client
        .set_preferences(SetPreferencesRequest {
            preferences: Some(Preferences {
                customer_id: who.id.clone(),
                email_enabled: true,
                sms_enabled: true,
                muted_topics: vec![
                    NotificationTopic::PaymentUpdates as i32,
                    NotificationTopic::DeliveryUpdates as i32,
                ],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let placed = order_placed(&who);
    app.publish(&placed).await;

    let pending = app
        .publish(&PaymentPending {
            order_id: placed.order_id.clone(),
            instructions: Some(BankTransferInstructions {
                beneficiary_name: "ordercycle demo merchant".into(),
                iban: "DE89370400440532013000".into(),
                bic: "COBADEFFXXX".into(),
                reference: "OC-REF-77".into(),
                amount: eur(2500),
                pay_by: Some(contracts::time::to_timestamp(
                    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
                )),
            }),
            ..Default::default()
        })
        .await
        .to_string();
    let pickup = app
        .publish(&FulfillmentReadyForPickup {
            order_id: placed.order_id.clone(),
            order_number: placed.order_number.clone(),
            customer: Some(who.clone()),
            warehouse_id: "store-berlin".into(),
            pickup_code: "483920".into(),
            ..Default::default()
        })
        .await
        .to_string();
    let refund = app
        .publish(&PaymentRefunded {
            order_id: placed.order_id.clone(),
            amount: eur(100),
            ..Default::default()
        })
        .await
        .to_string();

    let instructions = app.wait_status(&pending, Ch::Email, St::Sent).await;
    assert!(
        instructions.body.contains("Reference:   OC-REF-77"),
        "{}",
        instructions.body
    );
    assert!(
        instructions
            .body
            .contains("Pay by:      2027-01-15 08:00 UTC"),
        "{}",
        instructions.body
    );
    let code = app.wait_status(&pickup, Ch::Email, St::Sent).await;
    assert!(code.body.contains("Pickup code: 483920"), "{}", code.body);
    // One channel is enough for what the order needs; the muted rest is recorded, not sent.
    for event in [&pending, &pickup] {
        let sms = app.wait_status(event, Ch::Sms, St::Suppressed).await;
        assert_eq!(sms.failure_reason, "the customer muted this topic");
    }
    let refund_rows = testkit::eventually("the refund to be recorded", || async {
        let rows = app.log_of_event(&refund).await;
        (rows.len() == 2).then_some(rows)
    })
    .await;
    assert!(
        refund_rows
            .iter()
            .all(|r| r.status == St::Suppressed as i32)
    );
    assert!(
        app.gateway
            .calls("/sms", "to", &who.phone)
            .iter()
            .all(|c| !c.idempotency_key().starts_with(&pending))
    );
}
