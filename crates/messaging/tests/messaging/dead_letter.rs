use async_nats::HeaderMap;
use messaging::Outbox;
use messaging::dlq::{self, DLQ_CONSUMER, DLQ_DELIVERIES, DLQ_REASON};
use messaging::envelope::{CE_ID, CE_TYPE, NATS_MSG_ID};
use messaging::failpoint::FailPoints;
use messaging::metrics::MessagingMetrics;
use testkit::TestEnv;

use crate::probe::{self, PROBE};

#[tokio::test]
async fn poison_events_end_in_the_dead_letter_stream_and_later_events_still_flow() {
    let env = TestEnv::new().await;
    let pool = env.pool(&PROBE).await;
    probe::ensure_probe_stream(&env).await;
    let outbox = Outbox::new(env.settings.clock.clone());
    let _relay = probe::spawn_relay(&env, &pool, &outbox, FailPoints::new());
    let _consumer =
        probe::spawn_consumer(&env, &pool, FailPoints::new(), MessagingMetrics::default()).await;
    let mut dead = env.tap("dlq.>").await;

    // A body that is not a Ping: dead-lettered at once.
    let garbage_id = uuid::Uuid::new_v4().to_string();
    let mut headers = HeaderMap::new();
    headers.insert(NATS_MSG_ID, garbage_id.as_str());
    headers.insert(CE_ID, garbage_id.as_str());
    headers.insert(CE_TYPE, "ordercycle.probe.v1.Ping");
    env.jetstream()
        .publish_with_headers(
            env.subjects().absolute("probe.ping.sent"),
            headers,
            vec![0xff, 0xff, 0xff].into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    // A handler that keeps failing: dead-lettered after the bounded redeliveries.
    probe::write(&pool, &outbox, -1).await;
    // Healthy events behind them still arrive.
    probe::write(&pool, &outbox, 1).await;
    probe::write(&pool, &outbox, 2).await;

    let first = dead.next_message().await;
    let second = dead.next_message().await;
    let mut reasons = Vec::new();
    for message in [&first, &second] {
        let headers = message.headers.as_ref().unwrap();
        assert_eq!(
            headers.get(DLQ_CONSUMER).unwrap().as_str(),
            "probe__probe_ping_sent"
        );
        reasons.push((
            headers.get(DLQ_REASON).unwrap().as_str().to_owned(),
            headers.get(DLQ_DELIVERIES).unwrap().as_str().to_owned(),
        ));
    }
    assert!(
        reasons
            .iter()
            .any(|(reason, _)| reason.contains("undecodable")),
        "{reasons:?}"
    );
    let max = env.settings.messaging.max_deliveries.to_string();
    assert!(
        reasons
            .iter()
            .any(|(reason, deliveries)| reason.contains("always fails") && *deliveries == max),
        "{reasons:?}"
    );

    testkit::eventually("the healthy events to be applied", || async {
        (probe::effects(&pool).await == 2).then_some(())
    })
    .await;
    let applied: Vec<i32> = sqlx::query_scalar("SELECT n FROM effects ORDER BY n")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(applied, [1, 2]);
}

#[tokio::test]
async fn a_dead_letter_replayed_after_the_fix_is_applied_and_one_still_poison_comes_back() {
    let env = TestEnv::new().await;
    let pool = env.pool(&PROBE).await;
    probe::ensure_probe_stream(&env).await;
    let outbox = Outbox::new(env.settings.clock.clone());
    let _relay = probe::spawn_relay(&env, &pool, &outbox, FailPoints::new());
    let _consumer =
        probe::spawn_consumer(&env, &pool, FailPoints::new(), MessagingMetrics::default()).await;
    let (js, subjects) = (env.jetstream(), env.subjects());

    probe::write(&pool, &outbox, -2).await;
    probe::write(&pool, &outbox, -1).await;
    let letters = testkit::eventually("both events to be dead-lettered", || async {
        let letters = dlq::list(js, &subjects, None).await.ok()?;
        (letters.len() == 2).then_some(letters)
    })
    .await;
    for l in &letters {
        assert_eq!(l.consumer, "probe__probe_ping_sent");
        assert_eq!(l.subject, "probe.ping.sent");
        assert_eq!(l.event_type, "ordercycle.probe.v1.Ping");
        assert!(!l.event_id.is_empty());
    }
    let only_probe = dlq::list(js, &subjects, Some("probe__probe_ping_sent"))
        .await
        .unwrap();
    assert_eq!(only_probe.len(), 2);
    assert!(
        dlq::list(js, &subjects, Some("someone_else"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(probe::effects(&pool).await, 0);

    // The bug behind n = -2 is fixed; the operator replays both.
    probe::heal(&pool).await;
    for l in &letters {
        let replayed = dlq::replay(js, &subjects, l.sequence)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(replayed.event_id, l.event_id);
        assert!(dlq::get(js, &subjects, l.sequence).await.unwrap().is_none());
    }
    assert!(
        dlq::replay(js, &subjects, letters[0].sequence)
            .await
            .unwrap()
            .is_none(),
        "a replayed dead letter is gone"
    );

    testkit::eventually("the healed event to be applied once", || async {
        (probe::effects(&pool).await == 1).then_some(())
    })
    .await;
    let applied: Vec<i32> = sqlx::query_scalar("SELECT n FROM effects")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(applied, [-2]);
    // The still-poison one is dead-lettered again, under its same event id.
    let again = testkit::eventually("the poison event to come back", || async {
        let letters = dlq::list(js, &subjects, None).await.ok()?;
        (letters.len() == 1).then_some(letters)
    })
    .await;
    let poison = letters
        .iter()
        .find(|l| l.reason.contains("always fails"))
        .unwrap();
    assert_eq!(again[0].event_id, poison.event_id);
    assert!(again[0].sequence > poison.sequence);
}
