//! Events waiting for a consumer are applied in one transaction: a failing event takes only its
//! own writes with it; an event already applied, or twice in the batch, is applied once; the
//! transaction holds the handler's batch lock; a consumer waiting for its turn holds no pooled
//! connection.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::pull;
use messaging::failpoint::FailPoints;
use messaging::metrics::MessagingMetrics;
use messaging::{Consumer, Envelope, Handler, HandlerError, Outbox, dlq};
use sqlx::PgConnection;
use testkit::TestEnv;
use tokio::sync::Notify;

use crate::probe::{self, PROBE, Ping};

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

#[tokio::test]
async fn a_batch_applies_each_event_once_whether_its_copy_is_in_the_batch_or_already_applied() {
    let env = TestEnv::with(|s| {
        s.messaging.consumer_batch = 64;
        // So that a republished copy is really stored twice.
        s.streams.duplicate_window = Duration::from_millis(100);
    })
    .await;
    let pool = env.pool(&PROBE).await;
    probe::ensure_probe_stream(&env).await;
    let outbox = Outbox::new(env.settings.clock.clone());
    let relay = probe::spawn_relay(&env, &pool, &outbox, FailPoints::new());
    for n in [1, 2, 3, 4] {
        probe::write(&pool, &outbox, n).await;
    }
    testkit::eventually("the four events to be in the stream", || async {
        (probe::unpublished(&pool).await == 0).then_some(())
    })
    .await;
    // Events 1 and 2 are published again (the operator's republish), and event 4 was applied
    // before (its inbox row is there, its effect is not: it must not be applied again).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM oc_outbox ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE oc_outbox SET published_at = NULL WHERE id = ANY($1)")
        .bind(&ids[..2])
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO oc_inbox (consumer, event_id, subject) VALUES ('probe__probe_ping_sent', $1, 'probe.ping.sent')",
    )
    .bind(ids[3])
    .execute(&pool)
    .await
    .unwrap();
    testkit::eventually("the copies to be in the stream", || async {
        (probe::unpublished(&pool).await == 0).then_some(())
    })
    .await;
    drop(relay);

    // Published before the consumer exists: its first pull finds all six waiting, one batch.
    let metrics = MessagingMetrics::default();
    let _consumer = probe::spawn_consumer(&env, &pool, FailPoints::new(), metrics.clone()).await;
    let count = |outcome: &'static str| {
        metrics
            .consumed
            .get_or_create(&messaging::metrics::ConsumedLabels {
                consumer: "probe__probe_ping_sent".into(),
                outcome,
            })
            .get()
    };
    testkit::eventually("all six messages to be settled", || async {
        (count("applied") + count("duplicate") == 6).then_some(())
    })
    .await;
    assert_eq!((count("applied"), count("duplicate")), (3, 3));
    let mut applied: Vec<i32> = sqlx::query_scalar("SELECT n FROM effects")
        .fetch_all(&pool)
        .await
        .unwrap();
    applied.sort_unstable();
    assert_eq!(applied, [1, 2, 3], "each once; 4 was applied before");
    assert_eq!(probe::inbox_rows(&pool).await, 4);
}

/// A handler that takes the probe service's turn and keeps it until the test releases it.
struct Gate {
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

impl Handler<Ping> for Gate {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &Envelope<Ping>,
    ) -> Result<(), HandlerError> {
        self.entered.notify_one();
        self.release.notified().await;
        sqlx::query("INSERT INTO effects (event_id, n) VALUES ($1, $2)")
            .bind(event.id)
            .bind(event.event.n + 100)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    fn batch_lock(&self) -> Option<i64> {
        Some(messaging::consumer::batch_lock_key("probe"))
    }
}

#[tokio::test]
async fn a_consumer_waiting_for_its_services_turn_holds_no_pooled_connection() {
    let env = TestEnv::with(|s| s.messaging.consumer_batch = 64).await;
    let pool = env.pool(&PROBE).await;
    let stream = runtime::nats::ensure_stream(
        env.jetstream(),
        &env.subjects(),
        "probe",
        &env.settings.streams,
    )
    .await
    .unwrap();
    let outbox = Outbox::new(env.settings.clock.clone());
    let _relay = probe::spawn_relay(&env, &pool, &outbox, FailPoints::new());
    let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let gate = Consumer::<Ping, Gate>::provision(
        "gate",
        Gate {
            entered: entered.clone(),
            release: release.clone(),
        },
        pool.clone(),
        env.jetstream().clone(),
        env.subjects(),
        &env.settings.streams,
        env.settings.messaging.clone(),
    )
    .await
    .unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let _stop = token.clone().drop_guard();
    tokio::spawn(gate.run(token.clone()));
    probe::write(&pool, &outbox, 1).await;
    tokio::time::timeout(testkit::PATIENCE, entered.notified())
        .await
        .expect("the gate to take the turn");

    // The probe's own consumer shares the turn: it receives the event and waits.
    let _consumer =
        probe::spawn_consumer(&env, &pool, FailPoints::new(), MessagingMetrics::default()).await;
    let name = messaging::consumer::durable_name("probe", "probe.ping.sent");
    testkit::eventually("the probe consumer to hold the event", || async {
        let mut consumer = stream.get_consumer::<pull::Config>(&name).await.ok()?;
        (consumer.info().await.ok()?.num_ack_pending == 1).then_some(())
    })
    .await;
    // The gate holds one of the pool's four connections; the waiting consumer none.
    let mut others = Vec::new();
    for _ in 0..3 {
        let conn = tokio::time::timeout(testkit::PATIENCE, pool.acquire())
            .await
            .expect("a waiting consumer holds a pooled connection")
            .unwrap();
        others.push(conn);
    }
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(&mut *others[0])
    .await
    .unwrap();
    assert_eq!(waiting, 0, "nobody waits for the lock inside PostgreSQL");
    drop(others);

    release.notify_one();
    testkit::eventually("both consumers to apply the event in turn", || async {
        (probe::effects(&pool).await == 2).then_some(())
    })
    .await;
    let mut applied: Vec<i32> = sqlx::query_scalar("SELECT n FROM effects")
        .fetch_all(&pool)
        .await
        .unwrap();
    applied.sort_unstable();
    assert_eq!(applied, [1, 101]);
}
