//! Events waiting for a consumer are applied in one transaction, each in its own savepoint: a
//! failing event takes only its own writes with it; the transaction holds the handler's batch
//! lock.

use std::time::Duration;

use messaging::Outbox;
use messaging::dlq;
use messaging::failpoint::FailPoints;
use messaging::metrics::MessagingMetrics;
use testkit::TestEnv;

use crate::probe::{self, PROBE};

#[tokio::test]
async fn a_failing_event_in_a_batch_is_rolled_back_alone_and_the_others_commit_under_the_batch_lock()
 {
    let env = TestEnv::with(|s| {
        s.messaging.max_deliveries = 2;
        s.messaging.consumer_batch = 64;
        s.messaging.retry_backoff = Duration::from_millis(50);
    })
    .await;
    let pool = env.pool(&PROBE).await;
    probe::ensure_probe_stream(&env).await;
    let outbox = Outbox::new(env.settings.clock.clone());
    let _relay = probe::spawn_relay(&env, &pool, &outbox, FailPoints::new());
    // Published before the consumer exists, so its first pull finds them all waiting.
    // -4 checks that its transaction holds the handler's batch lock.
    for n in [1, 2, -3, 3, -4, 4] {
        probe::write(&pool, &outbox, n).await;
    }
    testkit::eventually("all six events to be in the stream", || async {
        (probe::unpublished(&pool).await == 0).then_some(())
    })
    .await;
    let _consumer =
        probe::spawn_consumer(&env, &pool, FailPoints::new(), MessagingMetrics::default()).await;

    let (js, subjects) = (env.jetstream(), env.subjects());
    let dead = testkit::eventually("the failing event to be dead-lettered", || async {
        let letters = dlq::list(js, &subjects, None).await.ok()?;
        (letters.len() == 1).then_some(letters)
    })
    .await;
    assert!(dead[0].reason.contains("fails after writing"), "{dead:?}");
    testkit::eventually("the other five to be applied", || async {
        (probe::effects(&pool).await == 5).then_some(())
    })
    .await;
    let mut applied: Vec<i32> = sqlx::query_scalar("SELECT n FROM effects")
        .fetch_all(&pool)
        .await
        .unwrap();
    applied.sort_unstable();
    assert_eq!(
        applied,
        [-4, 1, 2, 3, 4],
        "the failed event's write is gone"
    );
    assert_eq!(probe::inbox_rows(&pool).await, 5);
}
