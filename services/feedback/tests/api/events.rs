//! What orders' events do, and that they survive duplicates, reordering, poison and restarts.

use std::time::Duration;

use contracts::feedback::{CaseOpened, SurveyStatus};
use feedback::outgoing::SurveyInvitedEvent;
use messaging::envelope::Outgoing;

use crate::helpers::{FAST, QUIET, TestApp, accepted, delivered, problem};

#[tokio::test]
async fn the_same_delivery_twice_schedules_one_survey_and_sends_one_invitation() {
    // A tiny duplicate window: JetStream stores every copy, so the inbox and the natural key
    // are what keep the effect single.
    let app =
        TestApp::scaled_with(|s| s.streams.duplicate_window = Duration::from_millis(100)).await;
    let mut invited = app.env.tap("feedback.survey.invited").await;
    let order = delivered("cust-1", &["TEA-001"]);

    // The same event id twice (a redelivery or a relay that published again) …
    let outgoing = Outgoing::new(&order, chrono::Utc::now());
    for _ in 0..2 {
        app.env
            .jetstream()
            .publish_with_headers(
                app.env.subjects().absolute(&outgoing.subject),
                outgoing.headers("ordercycle/orders"),
                outgoing.payload.clone().into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        // Past the duplicate window, so the stream really holds both copies.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // … and the same delivery under a new event id (orders replayed it).
    app.publish(&order).await;

    let SurveyInvitedEvent(invitation) = invited.next().await;
    assert_eq!(invitation.order_id, order.order_id);
    assert!(
        invited.next_within(QUIET).await.is_none(),
        "a second invitation"
    );
    testkit::eventually("all three copies to be consumed", || async {
        let inbox = app
            .count(
                "SELECT count(*) FROM oc_inbox WHERE consumer = 'feedback__orders_order_delivered'",
            )
            .await;
        (inbox == 2).then_some(())
    })
    .await;
    assert_eq!(app.count("SELECT count(*) FROM surveys").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM oc_timers WHERE kind = 'feedback.survey_invitation'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM delivered_lines").await, 1);
}

#[tokio::test]
async fn an_acceptance_before_its_delivery_and_a_problem_before_both_are_all_applied() {
    let app = TestApp::start().await;
    let mut opened = app.env.tap("feedback.case.opened").await;
    let order = delivered("cust-1", &["TEA-001"]);
    app.publish(&problem(&order)).await;
    app.publish(&accepted(&order)).await;
    app.publish(&order).await;

    let case: CaseOpened = opened.next().await;
    assert_eq!(case.order_id, order.order_id);
    app.wait_delivered(&order.order_id).await;
    let survey = app.survey_of(&order.order_id).await;
    assert_eq!(survey.status(), SurveyStatus::Scheduled);
    let (accepted_at, delivered_at, number): (
        Option<chrono::DateTime<chrono::Utc>>,
        Option<chrono::DateTime<chrono::Utc>>,
        String,
    ) = sqlx::query_as("SELECT accepted_at, delivered_at, order_number FROM known_orders")
        .fetch_one(&app.feedback.pool)
        .await
        .unwrap();
    assert!(accepted_at.is_some() && delivered_at.is_some());
    assert_eq!(number, order.order_number);
}

#[tokio::test]
async fn a_poison_event_is_dead_lettered_and_the_next_one_still_applies() {
    let app = TestApp::start().await;
    let mut dead = app.env.tap("dlq.>").await;
    let mut poison = delivered("cust-1", &["TEA-001"]);
    poison.order_id = "not-a-uuid".into();
    app.publish(&poison).await;
    let good = delivered("cust-1", &["TEA-001"]);
    app.publish(&good).await;

    let message = dead.next_message().await;
    assert!(message.subject.as_str().ends_with("orders.order.delivered"));
    app.survey_of(&good.order_id).await;
    assert_eq!(app.count("SELECT count(*) FROM surveys").await, 1);
}

#[tokio::test]
async fn a_scheduled_invitation_survives_a_restart() {
    let app = TestApp::scaled().await;
    let mut invited = app.env.tap("feedback.survey.invited").await;
    let order = delivered("cust-1", &["TEA-001"]);
    app.publish(&order).await;
    app.survey_of(&order.order_id).await;
    let database = app.feedback.database_url.clone();
    let TestApp { env, feedback } = app;
    feedback.stop().await.unwrap();

    // A new process on the same database picks the timer up from its row.
    let restarted = env.start_on(&FAST, database).await;
    let SurveyInvitedEvent(invitation) = invited.next().await;
    assert_eq!(invitation.order_id, order.order_id);
    assert!(invited.next_within(QUIET).await.is_none());
    let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM surveys WHERE status = 'INVITED'")
        .fetch_one(&restarted.pool)
        .await
        .unwrap();
    assert_eq!(sent, 1);
}
