//! `ordercycle dlq list|show|replay` against a real service: an event payments cannot decode is
//! dead-lettered, listed, shown byte for byte, replayed, and (still poison) dead-lettered again.

use async_nats::HeaderMap;
use messaging::envelope::{CE_ID, CE_TYPE, NATS_MSG_ID};
use serde_json::Value;
use testkit::TestEnv;

/// Runs `ordercycle --json dlq <args>` against the test's NATS and subject root.
async fn dlq(env: &TestEnv, args: &[&str]) -> Vec<Value> {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ordercycle"))
        .arg("--json")
        .arg("dlq")
        .args(args)
        .env("OC_NATS_URL", &env.settings.nats_url)
        .env("OC_SUBJECT_ROOT", env.subjects().root())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "ordercycle dlq {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn an_operator_lists_shows_and_replays_dead_letters() {
    let env = TestEnv::new().await;
    let _payments = env.start(&payments::SERVICE).await;
    let event_id = uuid::Uuid::new_v4().to_string();
    let mut headers = HeaderMap::new();
    headers.insert(NATS_MSG_ID, event_id.as_str());
    headers.insert(CE_ID, event_id.as_str());
    headers.insert(CE_TYPE, "ordercycle.orders.v1.OrderPlaced");
    env.jetstream()
        .publish_with_headers(
            env.subjects().absolute("orders.order.placed"),
            headers,
            vec![0xff, 0xfe].into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();

    let listed = testkit::eventually("the poison event in the dead letters", || async {
        let rows = dlq(&env, &["list"]).await;
        (rows.len() == 1).then_some(rows)
    })
    .await;
    let first = &listed[0];
    assert_eq!(first["consumer"], "payments__orders_order_placed");
    assert_eq!(first["subject"], "orders.order.placed");
    assert_eq!(first["event_id"], event_id.as_str());
    assert!(
        first["reason"].as_str().unwrap().contains("undecodable"),
        "{first}"
    );
    let sequence = first["sequence"].as_u64().unwrap().to_string();

    let shown = dlq(&env, &["show", &sequence]).await;
    assert_eq!(shown[0]["body_hex"], "fffe");
    assert_eq!(shown[0]["event_type"], "ordercycle.orders.v1.OrderPlaced");

    let replayed = dlq(&env, &["replay", "--all"]).await;
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0]["event_id"], event_id.as_str());
    // Still undecodable: payments dead-letters it again, as a new dead letter.
    let again = testkit::eventually("the replayed event to come back", || async {
        let rows = dlq(&env, &["list"]).await;
        (rows.len() == 1 && rows[0]["sequence"] != first["sequence"]).then_some(rows)
    })
    .await;
    assert_eq!(again[0]["event_id"], event_id.as_str());

    let missing = tokio::process::Command::new(env!("CARGO_BIN_EXE_ordercycle"))
        .args(["dlq", "show", &sequence])
        .env("OC_NATS_URL", &env.settings.nats_url)
        .env("OC_SUBJECT_ROOT", env.subjects().root())
        .output()
        .await
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains(&format!("no dead letter {sequence}")),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}
