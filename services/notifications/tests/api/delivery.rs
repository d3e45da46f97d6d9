//! When and how often messages go out: quiet hours, retries of a failing gateway, and a resend
//! after a crash between the send and its record.

use chrono::{DateTime, Duration as ClockDuration, Timelike as _, Utc};
use contracts::notifications::{
    NotificationChannel as Ch, NotificationStatus as St, Preferences, QuietHours,
    SetPreferencesRequest,
};
use contracts::orders::OrderConfirmed;
use contracts::shipping::{ShipmentDirection, ShipmentStatusChanged, TrackingStatus};
use contracts::time::from_timestamp;
use runtime::Clock;

use crate::harness::{TestApp, customer, eur, order_placed};

/// Quiet hours from `from` to `to` minutes after `now` (UTC offset 0).
fn window(now: DateTime<Utc>, from: i64, to: i64) -> QuietHours {
    let minute = i64::from(now.hour() * 60 + now.minute());
    QuietHours {
        start_minute: (minute + from).rem_euclid(1440) as i32,
        end_minute: (minute + to).rem_euclid(1440) as i32,
        utc_offset_minutes: 0,
    }
}

async fn set_quiet_hours(app: &TestApp, customer_id: &str, quiet: QuietHours) {
    app.client()
        .await
        .set_preferences(SetPreferencesRequest {
            preferences: Some(Preferences {
                customer_id: customer_id.into(),
                email_enabled: true,
                quiet_hours: Some(quiet),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn quiet_hours_hold_a_message_until_the_window_ends() {
    // Two clock minutes per real second: a window ending 20 minutes from now ends within
    // about ten seconds.
    let app = TestApp::start_with(|s| s.clock = Clock::scaled(120.0)).await;
    let clock = app.env.settings.clock.clone();
    let who = customer("quiet");
    let quiet = window(clock.now(), -60, 20);
    set_quiet_hours(&app, &who.id, quiet).await;
    let placed = order_placed(&who);
    let event_id = app.publish(&placed).await.to_string();

    let sent = app.wait_status(&event_id, Ch::Email, St::Sent).await;
    let created = from_timestamp(sent.created_at.as_ref().unwrap()).unwrap();
    let sent_at = from_timestamp(sent.sent_at.as_ref().unwrap()).unwrap();
    // The window's end, on the minute, as the customer's clock reads it.
    let minute_start = created.with_second(0).unwrap().with_nanosecond(0).unwrap();
    let created_minute = i64::from(created.hour() * 60 + created.minute());
    let end = minute_start
        + ClockDuration::minutes((i64::from(quiet.end_minute) - created_minute).rem_euclid(1440));
    assert!(created < end, "recorded inside the window");
    assert!(
        sent_at >= end,
        "sent at {sent_at}, before the window ended at {end}"
    );
    // SMS is disabled in these preferences; nothing else was recorded.
    assert_eq!(app.log_of_event(&event_id).await.len(), 1);
}

#[tokio::test]
async fn quiet_hours_let_time_critical_messages_through_and_hold_the_rest() {
    let app = TestApp::start().await;
    let who = customer("urgent");
    // The whole next two hours are quiet.
    set_quiet_hours(&app, &who.id, window(Utc::now(), -10, 120)).await;
    let placed = order_placed(&who);
    let received = app.publish(&placed).await.to_string();
    let out = app
        .publish(&ShipmentStatusChanged {
            shipment_id: "shp-1".into(),
            order_id: placed.order_id.clone(),
            direction: ShipmentDirection::Outbound as i32,
            previous_status: TrackingStatus::InTransit as i32,
            status: TrackingStatus::OutForDelivery as i32,
            ..Default::default()
        })
        .await
        .to_string();

    let mail = app.smtp.wait_for(&who.email, 1).await.remove(0);
    assert!(
        mail.message_id().contains(&out),
        "the out-for-delivery message goes at once"
    );
    let held = app.wait_status(&received, Ch::Email, St::Pending).await;
    let created = from_timestamp(held.created_at.as_ref().unwrap()).unwrap();
    let release = from_timestamp(held.send_after.as_ref().unwrap()).unwrap();
    assert!(
        release > created + ClockDuration::minutes(100),
        "held until {release}"
    );
    assert_eq!(held.attempts, 0);
    assert_eq!(app.smtp.mails_to(&who.email).len(), 1);
}

#[tokio::test]
async fn a_failing_gateway_is_retried_with_the_same_key_and_then_recorded_as_failed() {
    let app = TestApp::start_with(|s| {
        s.overrides
            .insert("OC_NOTIFICATIONS_MAX_ATTEMPTS".into(), "3".into());
    })
    .await;
    app.gateway.answer(503);
    let who = customer("failing");
    let placed = order_placed(&who);
    let event_id = app.publish(&placed).await.to_string();

    let failed = app.wait_status(&event_id, Ch::Sms, St::Failed).await;
    assert_eq!(failed.attempts, 3);
    assert_eq!(failed.failure_reason, "after 3 attempt(s): HTTP 503");
    assert!(failed.sent_at.is_none());
    let calls = app.gateway.calls("/sms", "to", &who.phone);
    assert_eq!(calls.len(), 3);
    assert!(
        calls
            .iter()
            .all(|c| c.idempotency_key() == failed.idempotency_key)
    );
    // The e-mail went its own way.
    app.wait_status(&event_id, Ch::Email, St::Sent).await;

    // A refusal is not retried.
    app.gateway.answer(400);
    let confirmed = app
        .publish(&OrderConfirmed {
            order_id: placed.order_id.clone(),
            order_number: placed.order_number.clone(),
            customer: Some(who.clone()),
            total: eur(2500),
            ..Default::default()
        })
        .await
        .to_string();
    let refused = app.wait_status(&confirmed, Ch::Sms, St::Failed).await;
    assert_eq!(refused.attempts, 1);
    assert_eq!(refused.failure_reason, "after 1 attempt(s): HTTP 400");
}

#[tokio::test]
async fn a_resend_after_a_crash_between_send_and_record_carries_the_same_message_id() {
    let mut app = TestApp::start_with(|s| {
        s.overrides.insert(
            "OC_NOTIFICATIONS_FAILPOINTS".into(),
            "after_send_before_mark".into(),
        );
        s.overrides
            .insert("OC_NOTIFICATIONS_SEND_TIMEOUT_MS".into(), "1000".into());
        s.overrides
            .insert("OC_NOTIFICATIONS_SEND_LEASE_MS".into(), "1500".into());
        // Only e-mail, so the one batch that crashes holds one message.
        s.overrides.remove("OC_NOTIFICATIONS_SMS_URL");
    })
    .await;
    let who = customer("crash");
    let placed = order_placed(&who);
    let event_id = app.publish(&placed).await.to_string();

    let first = app.smtp.wait_for(&who.email, 1).await.remove(0);
    // The sender stopped after sending, before recording it: still pending, one attempt.
    let pending = app.wait_status(&event_id, Ch::Email, St::Pending).await;
    assert_eq!(pending.attempts, 1);

    // Restart on the same database without the fail point; once the dead sender's lease runs
    // out the message goes again, under the same key.
    let database = app.service.database_url.clone();
    app.env
        .settings
        .overrides
        .remove("OC_NOTIFICATIONS_FAILPOINTS");
    let restarted = app.env.start_on(&notifications::SERVICE, database).await;
    std::mem::replace(&mut app.service, restarted).kill();

    let sent = app.wait_status(&event_id, Ch::Email, St::Sent).await;
    assert_eq!(sent.attempts, 2);
    let mails = app.smtp.wait_for(&who.email, 2).await;
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].message_id(), first.message_id());
    assert_eq!(
        first.message_id(),
        format!("<{}@shop.example>", sent.idempotency_key)
    );
}
