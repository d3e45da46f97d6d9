//! Demand forecasting and replenishment, per SKU and warehouse.
//!
//! **History**: units committed (handed over or collected) per day, over the last complete
//! days of the window (today is not over, so it is left out), starting no earlier than the day
//! the SKU was first stocked in the warehouse.
//!
//! **Forecast** of the daily rate `r`, with smoothing constant `α`:
//! - no demand in the history → `r = 0` ([`Method::NoDemand`]);
//! - regular demand (average interval between demand days, ADI = days / demand days, at most
//!   1.32, the Syntetos–Boylan cut-off) → simple exponential smoothing of the daily series:
//!   `l₁ = y₁`, `lₜ = α·yₜ + (1−α)·lₜ₋₁`, `r = lₙ`;
//! - intermittent demand (ADI above 1.32) → Croston's method: the sizes `z` of non-zero
//!   demands and the intervals `p` between them are smoothed separately, starting from the
//!   first demand (`z₁` = its size, `p₁` = its day number counted from 1), then at each later
//!   demand `z ← α·y + (1−α)·z`, `p ← α·(days since the previous demand) + (1−α)·p`; `r = z / p`.
//!
//! **Plan**, with `L` the lead time and `H` the horizon in days, `SS` the safety stock and `P`
//! the stock position (available units; supplier orders are not tracked, so nothing is counted
//! as incoming):
//! - reorder level `R = r·L + SS`: stock that just lasts through a lead time;
//! - `order_by` = now when `P ≤ R`, else now + `(P − R) / r` days (never, when `r = 0` and
//!   `P ≥ SS`);
//! - once `order_by` has come, the suggested quantity is the forecast over the lead time and
//!   the horizon the order must then last, plus safety stock, less the position:
//!   `⌈r·(L + H) + SS − P⌉` (at least 0); before that it is 0 ("not yet");
//! - forecast demand over the horizon `round(r·H)`; projected stock-out now + `P / r` days when
//!   that falls within the horizon.

use chrono::{DateTime, Utc};

/// Average interval between demands above which demand counts as intermittent.
pub const INTERMITTENT_ADI: f64 = 1.32;

/// Guards `ceil` against float noise (`70.000000001` units is 70).
const EPSILON: f64 = 1e-9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    NoDemand,
    ExponentialSmoothing,
    Croston,
}

/// A forecast and the inputs that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub method: Method,
    /// Forecast units per day.
    pub rate: f64,
    pub alpha: f64,
    pub history_days: i32,
    pub demand_days: i32,
    pub history_units: i32,
    /// Plain mean units per day over the history.
    pub average: f64,
}

/// Forecasts the daily rate from a daily series (oldest first).
pub fn forecast(series: &[i32], alpha: f64) -> Forecast {
    let history_days = i32::try_from(series.len()).unwrap_or(i32::MAX);
    let demand_days = i32::try_from(series.iter().filter(|&&y| y > 0).count()).unwrap_or(0);
    let history_units = series.iter().map(|&y| y.max(0)).sum();
    let average = if series.is_empty() {
        0.0
    } else {
        f64::from(history_units) / series.len() as f64
    };
    let (method, rate) = if demand_days == 0 {
        (Method::NoDemand, 0.0)
    } else if f64::from(history_days) / f64::from(demand_days) > INTERMITTENT_ADI {
        (Method::Croston, croston(series, alpha))
    } else {
        (Method::ExponentialSmoothing, smoothing(series, alpha))
    };
    Forecast {
        method,
        rate,
        alpha,
        history_days,
        demand_days,
        history_units,
        average,
    }
}

/// Simple exponential smoothing, initialised with the first observation.
pub fn smoothing(series: &[i32], alpha: f64) -> f64 {
    let mut values = series.iter().map(|&y| f64::from(y.max(0)));
    let Some(first) = values.next() else {
        return 0.0;
    };
    values.fold(first, |level, y| alpha * y + (1.0 - alpha) * level)
}

/// Croston's method: smoothed demand size over smoothed interval.
pub fn croston(series: &[i32], alpha: f64) -> f64 {
    let mut state: Option<(f64, f64)> = None;
    let mut last_demand_day = 0usize;
    for (index, &y) in series.iter().enumerate() {
        if y <= 0 {
            continue;
        }
        let day = index + 1;
        let interval = (day - last_demand_day) as f64;
        let size = f64::from(y);
        state = Some(match state {
            None => (size, interval),
            Some((z, p)) => (
                alpha * size + (1.0 - alpha) * z,
                alpha * interval + (1.0 - alpha) * p,
            ),
        });
        last_demand_day = day;
    }
    state.map_or(0.0, |(z, p)| z / p)
}

/// What a plan needs besides the forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub available: i32,
    pub safety_stock: i32,
    pub lead_time_days: i32,
    pub horizon_days: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub forecast_demand: i32,
    pub suggested_quantity: i32,
    pub order_by: Option<DateTime<Utc>>,
    pub projected_stockout_at: Option<DateTime<Utc>>,
}

impl Plan {
    /// Whether an order is due within the horizon (what a plan without a SKU filter lists).
    pub fn due_within(&self, now: DateTime<Utc>, horizon_days: i32) -> bool {
        self.order_by
            .is_some_and(|at| at <= now + days(f64::from(horizon_days)))
    }
}

fn days(d: f64) -> chrono::Duration {
    // Bounded so that a tiny rate cannot overflow the date range.
    let d = d.clamp(0.0, 36_500.0);
    chrono::Duration::milliseconds((d * 86_400_000.0).round() as i64)
}

fn ceil_units(x: f64) -> i32 {
    let units = (x - EPSILON).ceil().max(0.0);
    if units >= f64::from(i32::MAX) {
        i32::MAX
    } else {
        units as i32
    }
}

pub fn plan(forecast: &Forecast, position: Position, now: DateTime<Utc>) -> Plan {
    let r = forecast.rate;
    let p = f64::from(position.available);
    let ss = f64::from(position.safety_stock);
    let lead = f64::from(position.lead_time_days);
    let horizon = f64::from(position.horizon_days);
    let reorder_level = r * lead + ss;
    let order_by = if r > 0.0 {
        Some(now + days(((p - reorder_level) / r).max(0.0)))
    } else if p < ss {
        Some(now)
    } else {
        None
    };
    let suggested_quantity = match order_by {
        Some(at) if at <= now => ceil_units(r * (lead + horizon) + ss - p),
        _ => 0,
    };
    let projected_stockout_at = (r > 0.0)
        .then(|| p.max(0.0) / r)
        .filter(|&t| t <= horizon)
        .map(|t| now + days(t));
    Plan {
        forecast_demand: ceil_units((r * horizon).round()),
        suggested_quantity,
        order_by,
        projected_stockout_at,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn exponential_smoothing_matches_the_hand_computed_series() {
        // α = 0.2 over [4, 6, 5, 5]:
        // l1 = 4; l2 = 0.2·6 + 0.8·4 = 4.4; l3 = 0.2·5 + 0.8·4.4 = 4.52;
        // l4 = 0.2·5 + 0.8·4.52 = 4.616.
        let f = forecast(&[4, 6, 5, 5], 0.2);
        assert_eq!(f.method, Method::ExponentialSmoothing);
        assert!(close(f.rate, 4.616), "{}", f.rate);
        assert!(close(f.average, 5.0));
        assert_eq!((f.history_days, f.demand_days, f.history_units), (4, 4, 20));
    }

    #[test]
    fn crostons_method_matches_the_hand_computed_series() {
        // α = 0.2 over [0, 0, 3, 0, 0, 0, 6, 0]: ADI = 8 / 2 = 4 > 1.32, intermittent.
        // First demand on day 3: z = 3, p = 3. Next on day 7 (interval 4):
        // z = 0.2·6 + 0.8·3 = 3.6; p = 0.2·4 + 0.8·3 = 3.2; r = 3.6 / 3.2 = 1.125.
        let f = forecast(&[0, 0, 3, 0, 0, 0, 6, 0], 0.2);
        assert_eq!(f.method, Method::Croston);
        assert!(close(f.rate, 1.125), "{}", f.rate);
        assert!(close(f.average, 9.0 / 8.0));
        // α = 0.5 over [2, 0, 0, 4, 0, 0, 0, 0, 2, 0]: z = 2, p = 1; day 4 (interval 3):
        // z = 3, p = 2; day 9 (interval 5): z = 2.5, p = 3.5; r = 2.5 / 3.5.
        let f = forecast(&[2, 0, 0, 4, 0, 0, 0, 0, 2, 0], 0.5);
        assert_eq!(f.method, Method::Croston);
        assert!(close(f.rate, 2.5 / 3.5), "{}", f.rate);
    }

    #[test]
    fn no_demand_forecasts_zero_and_the_cut_off_is_1_32() {
        assert_eq!(forecast(&[0, 0, 0], 0.2).method, Method::NoDemand);
        assert_eq!(forecast(&[], 0.2).rate, 0.0);
        // 4 days, 3 with demand: ADI 1.33 > 1.32 → Croston; 4 of 4: smoothing.
        assert_eq!(forecast(&[1, 0, 1, 1], 0.2).method, Method::Croston);
        assert_eq!(
            forecast(&[1, 1, 1, 1], 0.2).method,
            Method::ExponentialSmoothing
        );
    }

    fn at(days_from_now: f64, now: DateTime<Utc>) -> DateTime<Utc> {
        now + days(days_from_now)
    }

    #[test]
    fn a_plan_below_the_reorder_level_orders_now_for_lead_time_and_horizon() {
        let now = Utc::now();
        let f = forecast(&[2, 2, 2, 2], 0.3);
        assert!(close(f.rate, 2.0));
        // R = 2·5 + 4 = 14 ≥ P = 12: order now ⌈2·(5 + 10) + 4 − 12⌉ = 22.
        let p = plan(
            &f,
            Position {
                available: 12,
                safety_stock: 4,
                lead_time_days: 5,
                horizon_days: 10,
            },
            now,
        );
        assert_eq!(
            p,
            Plan {
                forecast_demand: 20,
                suggested_quantity: 22,
                order_by: Some(now),
                projected_stockout_at: Some(at(6.0, now)),
            }
        );
        assert!(p.due_within(now, 10));
    }

    #[test]
    fn a_plan_above_the_reorder_level_says_when_to_order_and_not_yet_how_much() {
        let now = Utc::now();
        let f = forecast(&[2, 2, 2, 2], 0.3);
        // R = 14, P = 30: order in (30 − 14) / 2 = 8 days; stock-out in 15 > 10 days.
        let p = plan(
            &f,
            Position {
                available: 30,
                safety_stock: 4,
                lead_time_days: 5,
                horizon_days: 10,
            },
            now,
        );
        assert_eq!(p.order_by, Some(at(8.0, now)));
        assert_eq!(p.suggested_quantity, 0);
        assert_eq!(p.projected_stockout_at, None);
        assert!(p.due_within(now, 10));
        assert!(!p.due_within(now, 7));
    }

    #[test]
    fn without_demand_only_a_level_below_safety_stock_needs_an_order() {
        let now = Utc::now();
        let f = forecast(&[0, 0], 0.2);
        let position = |available| Position {
            available,
            safety_stock: 5,
            lead_time_days: 3,
            horizon_days: 30,
        };
        let below = plan(&f, position(2), now);
        assert_eq!((below.suggested_quantity, below.order_by), (3, Some(now)));
        let fine = plan(&f, position(5), now);
        assert_eq!((fine.suggested_quantity, fine.order_by), (0, None));
    }

    proptest! {
        #[test]
        fn forecasts_stay_within_the_observed_range(
            series in prop::collection::vec(0i32..50, 0..60),
            alpha in 0.05f64..1.0,
        ) {
            let f = forecast(&series, alpha);
            let max = series.iter().copied().max().unwrap_or(0);
            prop_assert!(f.rate >= 0.0);
            prop_assert!(f.rate <= f64::from(max) + 1e-9);
        }

        #[test]
        fn an_order_placed_when_due_restores_the_reorder_level(
            rate_x10 in 1i32..200,
            available in 0i32..500,
            safety_stock in 0i32..50,
            lead_time_days in 0i32..30,
            horizon_days in 0i32..60,
        ) {
            let now = Utc::now();
            let f = Forecast {
                method: Method::ExponentialSmoothing,
                rate: f64::from(rate_x10) / 10.0,
                alpha: 0.2,
                history_days: 10,
                demand_days: 10,
                history_units: 0,
                average: 0.0,
            };
            let position = Position { available, safety_stock, lead_time_days, horizon_days };
            let p = plan(&f, position, now);
            if p.order_by == Some(now) {
                // After ordering, the position covers the lead time plus safety stock.
                let after = f64::from(available + p.suggested_quantity);
                prop_assert!(after + 1e-6 >= f.rate * f64::from(lead_time_days) + f64::from(safety_stock));
            } else {
                prop_assert_eq!(p.suggested_quantity, 0);
            }
        }
    }
}
