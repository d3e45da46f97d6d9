use messaging::Outbox;
use messaging::envelope::{
    CE_ID, CE_SOURCE, CE_SUBJECT, CE_TIME, CE_TYPE, CONTENT_TYPE, NATS_MSG_ID,
};
use messaging::failpoint::FailPoints;
use prost::Message as _;
use testkit::TestEnv;

use crate::probe::{self, PROBE, Ping};

#[tokio::test]
async fn an_event_is_published_after_its_transaction_commits_and_never_for_a_rolled_back_one() {
    let env = TestEnv::new().await;
    let pool = env.pool(&PROBE).await;
    probe::ensure_probe_stream(&env).await;
    let mut tap = env.tap("probe.ping.sent").await;
    let outbox = Outbox::new(env.settings.clock.clone());
    let _relay = probe::spawn_relay(&env, &pool, &outbox, FailPoints::new());

    // Written but not yet committed: invisible to the relay.
    let mut open = pool.begin().await.unwrap();
    outbox
        .append(
            &mut open,
            &Ping {
                id: "open".into(),
                n: 1,
            },
        )
        .await
        .unwrap();
    assert!(tap.next_within(probe::SHORT).await.is_none());

    // Rolled back: never published.
    let mut doomed = pool.begin().await.unwrap();
    outbox
        .append(
            &mut doomed,
            &Ping {
                id: "doomed".into(),
                n: 2,
            },
        )
        .await
        .unwrap();
    doomed.rollback().await.unwrap();

    outbox.commit(open).await.unwrap();
    let message = tap.next_message().await;
    let ping = Ping::decode(message.payload.as_ref()).unwrap();
    assert_eq!(
        ping,
        Ping {
            id: "open".into(),
            n: 1
        }
    );

    let headers = message.headers.as_ref().unwrap();
    let id = headers.get(CE_ID).unwrap().as_str();
    assert_eq!(headers.get(NATS_MSG_ID).unwrap().as_str(), id);
    assert_eq!(
        headers.get(CE_TYPE).unwrap().as_str(),
        "ordercycle.probe.v1.Ping"
    );
    assert_eq!(headers.get(CE_SOURCE).unwrap().as_str(), "ordercycle/probe");
    assert_eq!(headers.get(CE_SUBJECT).unwrap().as_str(), "open");
    assert_eq!(
        headers.get(CONTENT_TYPE).unwrap().as_str(),
        "application/protobuf"
    );
    assert!(chrono::DateTime::parse_from_rfc3339(headers.get(CE_TIME).unwrap().as_str()).is_ok());

    // The rolled-back event never follows, and the committed one is marked as sent.
    assert!(tap.next_within(probe::SHORT).await.is_none());
    testkit::eventually("the outbox row to be marked", || async {
        (probe::unpublished(&pool).await == 0).then_some(())
    })
    .await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM oc_outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}
