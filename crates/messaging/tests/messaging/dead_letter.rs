use async_nats::HeaderMap;
use messaging::Outbox;
use messaging::dlq::{DLQ_CONSUMER, DLQ_DELIVERIES, DLQ_REASON};
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
