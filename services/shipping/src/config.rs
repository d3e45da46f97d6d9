//! Shipping's own settings, from `OC_SHIPPING_…` environment variables. Every one has a
//! default that works on a developer machine; durations are in clock time (the service clock,
//! which `OC_CLOCK_SCALE` can speed up).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `OC_SHIPPING_RATE_TABLE_FILE` | built-in (`src/rate_table.json`) | carriers, services, lanes, prices, status codes |
//! | `OC_SHIPPING_WEBHOOK_SECRET_<CARRIER>` | `dev-webhook-secret-<carrier>` (logged as a warning) | HMAC-SHA256 key of a carrier's webhooks; `<CARRIER>` is the code upper-cased with `-` as `_` (`SIM_POST`) |
//! | `OC_SHIPPING_SIMULATOR` | `on` | `off` stops the simulated carriers (real carriers only) |
//! | `OC_SHIPPING_SIM_STEP_SECS` | `3600` | clock time between two scans of a simulated carrier |
//! | `OC_SHIPPING_IN_TRANSIT_REMAINING_HOURS` | `24` | ETA: least time still to go once in transit |
//! | `OC_SHIPPING_OUT_FOR_DELIVERY_WINDOW_HOURS` | `8` | ETA: out for delivery means delivered within this |
//! | `OC_SHIPPING_RETRY_AFTER_HOURS` | `24` | next attempt after a failed one, when the carrier names none |
//! | `OC_SHIPPING_MAX_DELIVERY_ATTEMPTS` | `3` | failed attempts after which the parcel goes back |
//! | `OC_SHIPPING_WAREHOUSES_FILE` | none | JSON `{ "<warehouse id>": Address }` seeding the address book for return labels |
//! | `OC_SHIPPING_RETURN_WEIGHT_GRAMS` | `2000` | weight return parcels are booked with |
//! | `OC_SHIPPING_LIST_PAGE_SIZE` / `_MAX` | `50` / `500` | ListShipments page sizes |

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use runtime::config::Env;

use crate::domain::Address;
use crate::domain::rates::{DEFAULT_RATE_TABLE, RateTable, TableError};
use crate::domain::tracking::EtaPolicy;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}: {reason}")]
    Invalid { var: String, reason: String },
    #[error("{var}: {source}")]
    Table {
        var: &'static str,
        #[source]
        source: TableError,
    },
}

#[derive(Clone)]
pub struct ShippingConfig {
    pub rates: Arc<RateTable>,
    /// Carrier code → webhook secret.
    secrets: Arc<BTreeMap<String, Vec<u8>>>,
    pub simulator: bool,
    pub sim_step: Duration,
    pub eta: EtaPolicy,
    pub warehouses: BTreeMap<String, Address>,
    /// Weight a return parcel is booked with (the customer packs it; no scale is involved).
    pub return_weight_grams: i32,
    pub page_size: i64,
    pub max_page_size: i64,
}

impl std::fmt::Debug for ShippingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShippingConfig")
            .field("carriers", &self.rates.carriers.len())
            .field("secrets", &"<redacted>")
            .field("simulator", &self.simulator)
            .field("sim_step", &self.sim_step)
            .finish_non_exhaustive()
    }
}

fn invalid(var: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_owned(),
        reason: reason.into(),
    }
}

fn number(env: &Env<'_>, var: &str, default: i64) -> Result<i64, ConfigError> {
    match env.get(var) {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(invalid(var, "must be a positive whole number")),
        },
    }
}

fn read_file(var: &'static str, path: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| invalid(var, format!("cannot read {path}: {e}")))
}

/// The environment name of a carrier's webhook secret.
pub fn secret_var(carrier: &str) -> String {
    format!(
        "OC_SHIPPING_WEBHOOK_SECRET_{}",
        carrier.to_uppercase().replace('-', "_")
    )
}

impl ShippingConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::process())
    }

    pub fn from(env: &Env<'_>) -> Result<Self, ConfigError> {
        const TABLE: &str = "OC_SHIPPING_RATE_TABLE_FILE";
        let json = match env.get(TABLE) {
            Some(path) => read_file(TABLE, &path)?,
            None => DEFAULT_RATE_TABLE.to_owned(),
        };
        let rates = RateTable::from_json(&json)
            .map_err(|source| ConfigError::Table { var: TABLE, source })?;

        let mut secrets = BTreeMap::new();
        for carrier in &rates.carriers {
            let var = secret_var(&carrier.code);
            let secret = match env.get(&var) {
                Some(secret) => secret,
                None => {
                    tracing::warn!(
                        carrier = %carrier.code,
                        "{var} is not set: webhooks use the development secret"
                    );
                    format!("dev-webhook-secret-{}", carrier.code)
                }
            };
            secrets.insert(carrier.code.clone(), secret.into_bytes());
        }

        let simulator = match env.get("OC_SHIPPING_SIMULATOR").as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(_) => return Err(invalid("OC_SHIPPING_SIMULATOR", "must be `on` or `off`")),
        };
        let hours = |var, default| number(env, var, default).map(chrono::Duration::hours);

        const WAREHOUSES: &str = "OC_SHIPPING_WAREHOUSES_FILE";
        let warehouses = match env.get(WAREHOUSES) {
            Some(path) => serde_json::from_str(&read_file(WAREHOUSES, &path)?)
                .map_err(|e| invalid(WAREHOUSES, e.to_string()))?,
            None => BTreeMap::new(),
        };

        let page_size = number(env, "OC_SHIPPING_LIST_PAGE_SIZE", 50)?;
        let max_page_size = number(env, "OC_SHIPPING_LIST_PAGE_SIZE_MAX", 500)?;
        Ok(Self {
            rates: Arc::new(rates),
            secrets: Arc::new(secrets),
            simulator,
            sim_step: Duration::from_secs(
                number(env, "OC_SHIPPING_SIM_STEP_SECS", 3600)?.unsigned_abs(),
            ),
            eta: EtaPolicy {
                in_transit_remaining: hours("OC_SHIPPING_IN_TRANSIT_REMAINING_HOURS", 24)?,
                out_for_delivery_window: hours("OC_SHIPPING_OUT_FOR_DELIVERY_WINDOW_HOURS", 8)?,
                retry_after: hours("OC_SHIPPING_RETRY_AFTER_HOURS", 24)?,
                max_delivery_attempts: i32::try_from(number(
                    env,
                    "OC_SHIPPING_MAX_DELIVERY_ATTEMPTS",
                    3,
                )?)
                .map_err(|_| invalid("OC_SHIPPING_MAX_DELIVERY_ATTEMPTS", "too large"))?,
            },
            warehouses,
            return_weight_grams: i32::try_from(number(
                env,
                "OC_SHIPPING_RETURN_WEIGHT_GRAMS",
                2000,
            )?)
            .map_err(|_| invalid("OC_SHIPPING_RETURN_WEIGHT_GRAMS", "too large"))?,
            page_size,
            max_page_size: max_page_size.max(page_size),
        })
    }

    /// The webhook secret of `carrier`, if it is one of ours.
    pub fn webhook_secret(&self, carrier: &str) -> Option<&[u8]> {
        self.secrets.get(carrier).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_work_without_any_variable() {
        let config =
            ShippingConfig::from(&Env::from_fn(|_| None)).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.simulator);
        assert_eq!(config.sim_step, Duration::from_secs(3600));
        assert_eq!(
            config.webhook_secret("sim-post"),
            Some(b"dev-webhook-secret-sim-post".as_slice())
        );
        assert_eq!(config.webhook_secret("nope"), None);
    }

    #[test]
    fn a_carrier_secret_comes_from_its_variable() {
        let env = Env::from_fn(|k| {
            (k == "OC_SHIPPING_WEBHOOK_SECRET_SIM_EXPRESS").then(|| "s3cret".into())
        });
        let config = ShippingConfig::from(&env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.webhook_secret("sim-express"),
            Some(b"s3cret".as_slice())
        );
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let env = Env::from_fn(|k| (k == "OC_SHIPPING_SIM_STEP_SECS").then(|| "soon".into()));
        let err = ShippingConfig::from(&env)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("OC_SHIPPING_SIM_STEP_SECS"), "{err}");
    }
}
