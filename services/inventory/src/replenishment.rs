//! Replenishment suggestions: each level's daily demand history is read from the store and
//! handed to [`crate::domain::forecast`] (where the method and formulas are documented).

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::config::InventoryConfig;
use crate::domain::forecast::{self, Forecast, Plan, Position};
use crate::store;
use crate::store::stock::PlanRow;

/// One level's forecast and plan, with the facts they came from.
#[derive(Debug, Clone)]
pub struct Suggestion {
    pub level: PlanRow,
    pub forecast: Forecast,
    pub plan: Plan,
}

/// Suggestions for the levels of active items (only `skus` and one warehouse, when given).
pub async fn suggestions(
    conn: &mut PgConnection,
    config: &InventoryConfig,
    now: DateTime<Utc>,
    skus: &[String],
    warehouse_id: Option<&str>,
    horizon_days: i32,
) -> Result<Vec<Suggestion>, sqlx::Error> {
    let rows = store::stock::plan_rows(conn, skus, warehouse_id).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // Complete days only: the window ends yesterday.
    let today = now.date_naive();
    let last = today.pred_opt().unwrap_or(today);
    let window = u64::try_from(config.demand_window_days).unwrap_or(1);
    let first = today.checked_sub_days(Days::new(window)).unwrap_or(last);
    let history = store::demand::history(conn, skus, warehouse_id, first, last).await?;
    let mut by_level: HashMap<(&str, &str), HashMap<NaiveDate, i32>> = HashMap::new();
    for day in &history {
        by_level
            .entry((day.sku.as_str(), day.warehouse_id.as_str()))
            .or_default()
            .insert(day.day, day.units);
    }
    Ok(rows
        .into_iter()
        .map(|level| {
            let start = first.max(level.first_seen.date_naive());
            let days = by_level.get(&(level.sku.as_str(), level.warehouse_id.as_str()));
            let series: Vec<i32> = start
                .iter_days()
                .take_while(|d| *d <= last)
                .map(|d| days.and_then(|m| m.get(&d)).copied().unwrap_or(0))
                .collect();
            let forecast = forecast::forecast(&series, config.smoothing_alpha);
            let plan = forecast::plan(
                &forecast,
                Position {
                    available: i32::try_from(level.available).unwrap_or(i32::MAX),
                    safety_stock: level.safety_stock,
                    lead_time_days: level.lead_time_days,
                    horizon_days,
                },
                now,
            );
            Suggestion {
                level,
                forecast,
                plan,
            }
        })
        .collect())
}
