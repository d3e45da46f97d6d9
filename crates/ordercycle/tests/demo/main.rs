//! `ordercycle demo --json`, the binary itself, against every real service started in-process on
//! a clock where an hour passes each second: each of the fifteen DESIGN §3a scenarios must end in
//! its expected status.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod chaos;
mod crashes;
mod dlq;
mod logs;
mod outages;
mod processes;
mod reports;
mod traces;

use runtime::ServiceDef;
use testkit::TestEnv;

/// Shipping before fulfillment, which calls it.
static ALL: [&ServiceDef; 8] = [
    &orders::SERVICE,
    &inventory::SERVICE,
    &payments::SERVICE,
    &shipping::SERVICE,
    &fulfillment::SERVICE,
    &notifications::SERVICE,
    &feedback::SERVICE,
    &analytics::SERVICE,
];

/// DESIGN §3a: each scenario and the state it must end in.
const EXPECTED: [(&str, &str); 15] = [
    ("card_ship", "ORDER_STATUS_COMPLETED"),
    ("store_pickup", "ORDER_STATUS_COMPLETED"),
    ("cash_on_delivery", "ORDER_STATUS_COMPLETED"),
    ("installments", "ORDER_STATUS_COMPLETED"),
    ("split_shipment", "ORDER_STATUS_COMPLETED"),
    ("hold_approved", "ORDER_STATUS_COMPLETED"),
    ("delivery_failed_then_delivered", "ORDER_STATUS_COMPLETED"),
    ("return_refund", "ORDER_STATUS_COMPLETED"),
    ("exchange", "ORDER_STATUS_COMPLETED"),
    ("survey_review", "ORDER_STATUS_COMPLETED"),
    ("shortage", "ORDER_STATUS_CANCELLED"),
    ("payment_declined", "ORDER_STATUS_CANCELLED"),
    ("cancel_after_confirm", "ORDER_STATUS_CANCELLED"),
    ("hold_rejected", "ORDER_STATUS_REJECTED"),
    ("problem_reported", "ORDER_STATUS_COMPLETED"),
];

#[tokio::test]
async fn the_demo_walks_every_scenario_to_its_expected_state() {
    let mut env = TestEnv::with(|s| {
        s.clock = runtime::Clock::scaled(3600.0);
        // Installments fall due hourly on that clock instead of monthly.
        s.overrides
            .insert("OC_PAYMENTS_INSTALLMENT_EVERY_SECS".into(), "3600".into());
    })
    .await;
    let services = env.start_all(&ALL).await;

    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_ordercycle"));
    demo.arg("--json").arg("demo");
    for service in &services {
        demo.arg(format!("--{}-addr", service.name))
            .arg(service.grpc_addr.to_string());
    }
    demo.env("OC_CLOCK_SCALE", "3600").kill_on_drop(true);
    let output = tokio::time::timeout(std::time::Duration::from_secs(600), demo.output())
        .await
        .expect("the demo finishes")
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|v: &serde_json::Value| v.get("scenario").is_some())
        .collect();
    let failed: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| {
            let expected = EXPECTED
                .iter()
                .find(|(scenario, _)| r["scenario"] == *scenario)
                .map(|(_, status)| *status);
            expected.is_none() || r["final_status"].as_str() != expected
        })
        .collect();
    assert!(
        failed.is_empty(),
        "scenarios that missed their state: {failed:#?}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(results.len(), 15, "every scenario reported: {stdout}");
    assert!(
        output.status.success(),
        "demo exit status {}",
        output.status
    );
    for r in &results {
        assert!(r["order_number"].as_str().unwrap().starts_with("OC-"));
    }
}
