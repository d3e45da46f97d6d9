use std::time::Duration;

use messaging::Outbox;
use messaging::failpoint::FailPoints;
use messaging::metrics::MessagingMetrics;
use runtime::config::StreamStorage;
use testkit::{NatsServer, TestEnv};

use crate::probe::{self, PROBE};

#[tokio::test]
async fn events_written_while_nats_is_unreachable_are_delivered_once_it_is_back() {
    // A private server: the shared one is never stopped.
    let mut nats = NatsServer::start().await;
    let url = nats.url();
    let env = TestEnv::with(|s| {
        s.nats_url = url;
        // Survives the restart of the private server.
        s.streams.storage = StreamStorage::File;
    })
    .await;
    let pool = env.pool(&PROBE).await;
    probe::ensure_probe_stream(&env).await;
    let outbox = Outbox::new(env.settings.clock.clone());
    let _relay = probe::spawn_relay(&env, &pool, &outbox, FailPoints::new());
    let _consumer =
        probe::spawn_consumer(&env, &pool, FailPoints::new(), MessagingMetrics::default()).await;

    probe::write(&pool, &outbox, 1).await;
    testkit::eventually("the first event before the outage", || async {
        (probe::effects(&pool).await == 1).then_some(())
    })
    .await;

    nats.stop();
    for n in 2..=4 {
        probe::write(&pool, &outbox, n).await;
    }
    // The relay cannot publish: the rows wait in the outbox.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(probe::unpublished(&pool).await, 3);

    nats.restart().await;
    testkit::eventually("the events written during the outage", || async {
        (probe::effects(&pool).await == 4).then_some(())
    })
    .await;
    assert_eq!(probe::unpublished(&pool).await, 0);
    assert_eq!(probe::inbox_rows(&pool).await, 4);
}
