use chrono::{Days, Utc};
use contracts::inventory::{ForecastMethod, GetReplenishmentPlanRequest};
use contracts::time::from_timestamp;
use tonic::Code;

use crate::helpers::{TestApp, item, receive, upsert_item, upsert_warehouse, warehouse};

/// Demand history as if the SKU had been stocked `days` ago and committed `series` since
/// (oldest first, ending yesterday).
async fn history(app: &TestApp, sku: &str, series: &[i32]) {
    let today = Utc::now().date_naive();
    let days = series.len() as u64;
    sqlx::query(
        "UPDATE stock_levels SET created_at = now() - make_interval(days => $2)
         WHERE sku = $1",
    )
    .bind(sku)
    .bind(days as i32)
    .execute(&app.inventory.pool)
    .await
    .unwrap();
    for (i, units) in series.iter().enumerate() {
        let day = today.checked_sub_days(Days::new(days - i as u64)).unwrap();
        sqlx::query(
            "INSERT INTO demand_daily (sku, warehouse_id, day, units) VALUES ($1, 'wh', $2, $3)",
        )
        .bind(sku)
        .bind(day)
        .bind(units)
        .execute(&app.inventory.pool)
        .await
        .unwrap();
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn the_plan_forecasts_from_demand_history_and_matches_hand_computed_values() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    upsert_warehouse(&mut client, warehouse("wh", "DE", "BE", &["A"])).await;
    for (sku, safety_stock, lead_time_days, stock) in [
        ("REGULAR", 4, 5, 12),
        ("SPORADIC", 0, 2, 10),
        ("IDLE", 0, 3, 7),
    ] {
        upsert_item(
            &mut client,
            contracts::inventory::Item {
                safety_stock,
                lead_time_days,
                ..item(sku)
            },
        )
        .await;
        receive(&mut client, sku, "wh", "A", stock).await;
    }
    history(&app, "REGULAR", &[2, 2, 2, 2]).await;
    history(&app, "SPORADIC", &[0, 0, 3, 0, 0, 0, 6, 0]).await;
    history(&app, "IDLE", &[0, 0, 0]).await;

    let plan = client
        .get_replenishment_plan(GetReplenishmentPlanRequest {
            horizon_days: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plan.horizon_days, 10);
    let now = from_timestamp(plan.generated_at.as_ref().unwrap()).unwrap();
    let skus: Vec<&str> = plan.suggestions.iter().map(|s| s.sku.as_str()).collect();
    assert_eq!(skus, ["REGULAR", "SPORADIC"], "IDLE needs no order");

    // REGULAR: smoothing of [2, 2, 2, 2] is 2/day. R = 2·5 + 4 = 14 ≥ 12: order now
    // ⌈2·(5 + 10) + 4 − 12⌉ = 22; forecast 2·10 = 20; out of stock in 12 / 2 = 6 days.
    let regular = &plan.suggestions[0];
    assert_eq!(
        regular.forecast_method(),
        ForecastMethod::ExponentialSmoothing
    );
    assert!(close(regular.forecast_daily_demand, 2.0));
    assert!(close(regular.average_daily_demand, 2.0));
    assert!(close(regular.smoothing_alpha, 0.2));
    assert_eq!(
        (
            regular.history_days,
            regular.demand_days,
            regular.history_units
        ),
        (4, 4, 8)
    );
    assert_eq!(
        (
            regular.available,
            regular.safety_stock,
            regular.lead_time_days
        ),
        (12, 4, 5)
    );
    assert_eq!(
        (regular.suggested_quantity, regular.forecast_demand),
        (22, 20)
    );
    assert_eq!(
        from_timestamp(regular.order_by.as_ref().unwrap()),
        Some(now)
    );
    assert_eq!(
        from_timestamp(regular.projected_stockout_at.as_ref().unwrap()),
        Some(now + chrono::Duration::days(6))
    );

    // SPORADIC: Croston over [0,0,3,0,0,0,6,0] is 3.6 / 3.2 = 1.125/day. R = 2.25 < 10: order
    // in (10 − 2.25) / 1.125 = 6.888… days, not yet; out in 10 / 1.125 = 8.888… days.
    let sporadic = &plan.suggestions[1];
    assert_eq!(sporadic.forecast_method(), ForecastMethod::Croston);
    assert!(close(sporadic.forecast_daily_demand, 1.125));
    assert_eq!(
        (sporadic.suggested_quantity, sporadic.forecast_demand),
        (0, 11)
    );
    let order_by = from_timestamp(sporadic.order_by.as_ref().unwrap()).unwrap();
    let expected =
        now + chrono::Duration::milliseconds((7.75 / 1.125 * 86_400_000.0_f64).round() as i64);
    assert_eq!(order_by, expected);
    assert!(sporadic.projected_stockout_at.is_some());

    // Asked for by name, a SKU with no demand is listed with its inputs.
    let idle = client
        .get_replenishment_plan(GetReplenishmentPlanRequest {
            skus: vec!["IDLE".into()],
            warehouse_id: "wh".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(idle.horizon_days, 30, "the configured default");
    assert_eq!(idle.suggestions.len(), 1);
    let idle = &idle.suggestions[0];
    assert_eq!(idle.forecast_method(), ForecastMethod::NoDemand);
    assert_eq!((idle.suggested_quantity, idle.history_days), (0, 3));
    assert!(idle.order_by.is_none());

    for (request, code) in [
        (
            GetReplenishmentPlanRequest {
                horizon_days: -1,
                ..Default::default()
            },
            Code::InvalidArgument,
        ),
        (
            GetReplenishmentPlanRequest {
                skus: vec!["NOPE".into()],
                ..Default::default()
            },
            Code::NotFound,
        ),
        (
            GetReplenishmentPlanRequest {
                warehouse_id: "nowhere".into(),
                ..Default::default()
            },
            Code::NotFound,
        ),
    ] {
        let status = client.get_replenishment_plan(request).await.unwrap_err();
        assert_eq!(status.code(), code);
    }
}
