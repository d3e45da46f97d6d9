use std::time::Duration;

use messaging::Outbox;
use messaging::failpoint::{self, Action, FailPoints};
use messaging::metrics::{ConsumedLabels, MessagingMetrics};
use testkit::TestEnv;

use crate::probe::{self, PROBE};

/// JetStream's duplicate window is a help, not the guarantee: these tests shrink it so that a
/// republished event really is stored twice, and count the effect rows in Postgres.
async fn env_without_dedup_window() -> TestEnv {
    TestEnv::with(|s| {
        s.streams.duplicate_window = Duration::from_millis(100);
        s.messaging.ack_wait = Duration::from_secs(1);
    })
    .await
}

async fn stream_messages(env: &TestEnv) -> u64 {
    let mut stream = env
        .jetstream()
        .get_stream(env.subjects().stream_name("probe"))
        .await
        .unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn a_relay_that_dies_between_publish_and_mark_causes_no_double_effect() {
    let env = env_without_dedup_window().await;
    let pool = env.pool(&PROBE).await;
    probe::ensure_probe_stream(&env).await;
    let outbox = Outbox::new(env.settings.clock.clone());

    let crashing = FailPoints::new();
    crashing.arm(failpoint::AFTER_PUBLISH_BEFORE_MARK, Action::Crash, 1);
    let mut first = probe::spawn_relay(&env, &pool, &outbox, crashing);
    probe::write(&pool, &outbox, 7).await;
    first.ended().await;
    assert_eq!(
        probe::unpublished(&pool).await,
        1,
        "the crash left the row unmarked"
    );

    // The crash released the row; past the duplicate window, a new relay publishes the same
    // event again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let _second = probe::spawn_relay(&env, &pool, &outbox, FailPoints::new());
    testkit::eventually("the row to be marked by the second relay", || async {
        (probe::unpublished(&pool).await == 0).then_some(())
    })
    .await;
    assert_eq!(
        stream_messages(&env).await,
        2,
        "the stream holds both copies"
    );

    let metrics = MessagingMetrics::default();
    let _consumer = probe::spawn_consumer(&env, &pool, FailPoints::new(), metrics.clone()).await;
    let duplicate = ConsumedLabels {
        consumer: "probe__probe_ping_sent".into(),
        outcome: "duplicate",
    };
    testkit::eventually("both copies to be consumed", || async {
        (metrics.consumed.get_or_create(&duplicate).get() == 1).then_some(())
    })
    .await;
    assert_eq!(probe::effects(&pool).await, 1);
    assert_eq!(probe::inbox_rows(&pool).await, 1);
}

#[tokio::test]
async fn a_redelivered_event_is_applied_once() {
    let env = env_without_dedup_window().await;
    let pool = env.pool(&PROBE).await;
    probe::ensure_probe_stream(&env).await;
    let outbox = Outbox::new(env.settings.clock.clone());
    let _relay = probe::spawn_relay(&env, &pool, &outbox, FailPoints::new());

    // The first consumer commits the effect and dies before acking.
    let crashing = FailPoints::new();
    crashing.arm(failpoint::AFTER_EFFECT_BEFORE_ACK, Action::Crash, 1);
    let mut first = probe::spawn_consumer(&env, &pool, crashing, MessagingMetrics::default()).await;
    probe::write(&pool, &outbox, 3).await;
    first.ended().await;
    assert_eq!(probe::effects(&pool).await, 1);

    // JetStream redelivers after ack_wait; the inbox recognises the event.
    let metrics = MessagingMetrics::default();
    let _second = probe::spawn_consumer(&env, &pool, FailPoints::new(), metrics.clone()).await;
    let duplicate = ConsumedLabels {
        consumer: "probe__probe_ping_sent".into(),
        outcome: "duplicate",
    };
    testkit::eventually("the redelivery to be recognised", || async {
        (metrics.consumed.get_or_create(&duplicate).get() == 1).then_some(())
    })
    .await;
    assert_eq!(probe::effects(&pool).await, 1);
    assert_eq!(probe::inbox_rows(&pool).await, 1);
}
