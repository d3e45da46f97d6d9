//! `ordercycle report --out` and `ordercycle analytics rebuild`, the binary against analytics'
//! real database: the HTML report carries the orders analytics recorded, and a rebuild replays
//! every kept event into the same figures.

use contracts::common::{Customer, Money};
use contracts::orders::OrderPlaced;
use messaging::envelope::publish_direct;
use serde_json::Value;
use testkit::TestEnv;

/// Runs `ordercycle --json <args>` against analytics' database `database_url`.
async fn ordercycle(env: &TestEnv, database_url: &str, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_ordercycle"))
        .arg("--json")
        .args(args)
        .env("OC_ANALYTICS_DATABASE_URL", database_url)
        .env("OC_NATS_URL", &env.settings.nats_url)
        .env("OC_SUBJECT_ROOT", env.subjects().root())
        .output()
        .await
        .unwrap()
}

fn placed(n: u32) -> OrderPlaced {
    OrderPlaced {
        order_id: uuid::Uuid::new_v4().to_string(),
        order_number: format!("OC-CLI-{n}"),
        customer: Some(Customer {
            id: format!("cust-{n}"),
            ..Default::default()
        }),
        total: Some(Money {
            currency_code: "EUR".into(),
            amount_minor: 2_500,
        }),
        placed_at: Some(contracts::time::to_timestamp(chrono::Utc::now())),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_html_report_and_a_rebuild_come_from_analytics_database() {
    let env = TestEnv::new().await;
    let database_url = env.database(&analytics::SERVICE).await;
    let analytics = env
        .start_on(&analytics::SERVICE, database_url.clone())
        .await;
    for n in 0..3 {
        publish_direct(
            env.jetstream(),
            &env.subjects(),
            "ordercycle/orders",
            &placed(n),
        )
        .await
        .unwrap();
    }
    testkit::eventually("analytics to keep the three orders", || async {
        let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM raw_events")
            .fetch_one(&analytics.pool)
            .await
            .ok()?;
        (kept == 3).then_some(())
    })
    .await;

    let dir = std::env::temp_dir().join(format!("oc-report-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.html");
    let from = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let to = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let written = ordercycle(
        &env,
        &database_url,
        &[
            "report",
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
            "--out",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<td data-kpi=\"Orders placed\">3</td>"),
        "the report counts the three orders"
    );
    assert!(html.contains("<svg"), "charts are inline SVG");
    std::fs::remove_dir_all(&dir).unwrap();

    // --from without --out is refused with a clear line, not ignored.
    let refused = ordercycle(
        &env,
        &database_url,
        &["report", "--from", "2026-01-01T00:00:00Z"],
    )
    .await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--out"));

    let rebuilt = ordercycle(&env, &database_url, &["analytics", "rebuild"]).await;
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let row: Value = serde_json::from_slice(&rebuilt.stdout).unwrap();
    assert_eq!(row["replayed"], 3);
    assert_eq!(row["undecodable"], 0);
    assert!(row["rollup_hours"].is_u64(), "{row}");
    // The rollups hold the three orders again (recomputed by the command, or by the service's
    // own refresher if it took the stale hours first).
    let mut rolled_up = 0_i64;
    for _ in 0..100 {
        rolled_up = sqlx::query_scalar("SELECT COALESCE(sum(orders), 0)::bigint FROM rollup_sales")
            .fetch_one(&analytics.pool)
            .await
            .unwrap();
        if rolled_up == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rolled_up, 3);
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM raw_events")
        .fetch_one(&analytics.pool)
        .await
        .unwrap();
    assert_eq!(orders, 3, "the kept events stay");
}
