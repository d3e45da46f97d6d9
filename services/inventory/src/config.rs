//! Inventory's own settings, `OC_INVENTORY_…`, with defaults that suit a developer machine.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `OC_INVENTORY_DEFAULT_TTL_SECS` | `1800` | hold of a reservation whose request carries no TTL |
//! | `OC_INVENTORY_DEMAND_WINDOW_DAYS` | `56` | days of demand history forecasts use |
//! | `OC_INVENTORY_PLAN_HORIZON_DAYS` | `30` | default horizon of a replenishment plan |
//! | `OC_INVENTORY_SMOOTHING_ALPHA` | `0.2` | smoothing constant of the forecasts, in (0, 1] |

use std::str::FromStr;
use std::time::Duration;

use runtime::config::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct InventoryConfig {
    pub default_ttl: Duration,
    pub demand_window_days: i32,
    pub plan_horizon_days: i32,
    pub smoothing_alpha: f64,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            default_ttl: Duration::from_secs(1800),
            demand_window_days: 56,
            plan_horizon_days: 30,
            smoothing_alpha: 0.2,
        }
    }
}

fn parse<T: FromStr>(env: &Env<'_>, key: &str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.get(key) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|err: T::Err| ConfigError {
            var: key.to_owned(),
            reason: err.to_string(),
        }),
    }
}

impl InventoryConfig {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let config = Self {
            default_ttl: Duration::from_secs(parse(
                env,
                "OC_INVENTORY_DEFAULT_TTL_SECS",
                defaults.default_ttl.as_secs(),
            )?),
            demand_window_days: parse(
                env,
                "OC_INVENTORY_DEMAND_WINDOW_DAYS",
                defaults.demand_window_days,
            )?,
            plan_horizon_days: parse(
                env,
                "OC_INVENTORY_PLAN_HORIZON_DAYS",
                defaults.plan_horizon_days,
            )?,
            smoothing_alpha: parse(
                env,
                "OC_INVENTORY_SMOOTHING_ALPHA",
                defaults.smoothing_alpha,
            )?,
        };
        let invalid = |var: &str, reason: &str| ConfigError {
            var: var.to_owned(),
            reason: reason.to_owned(),
        };
        if !(1..=3650).contains(&config.demand_window_days) {
            return Err(invalid(
                "OC_INVENTORY_DEMAND_WINDOW_DAYS",
                "must be between 1 and 3650",
            ));
        }
        if !(1..=3650).contains(&config.plan_horizon_days) {
            return Err(invalid(
                "OC_INVENTORY_PLAN_HORIZON_DAYS",
                "must be between 1 and 3650",
            ));
        }
        if !(config.smoothing_alpha > 0.0 && config.smoothing_alpha <= 1.0) {
            return Err(invalid(
                "OC_INVENTORY_SMOOTHING_ALPHA",
                "must be above 0 and at most 1",
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_bad_values_are_refused_by_name() {
        let config = InventoryConfig::from_env(&Env::from_fn(|_| None)).unwrap();
        assert_eq!(config.plan_horizon_days, 30);
        let err = InventoryConfig::from_env(&Env::from_fn(|k| {
            (k == "OC_INVENTORY_SMOOTHING_ALPHA").then(|| "1.5".to_owned())
        }))
        .unwrap_err();
        assert_eq!(err.var, "OC_INVENTORY_SMOOTHING_ALPHA");
    }
}
