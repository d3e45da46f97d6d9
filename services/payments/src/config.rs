//! The payments service's own settings, `OC_PAYMENTS_…`, with defaults that suit a developer
//! machine. Every duration here is clock time: `OC_CLOCK_SCALE` shortens them all together.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `OC_PAYMENTS_AUTHORIZATION_TTL_HOURS` | `168` | how long the (simulated) provider holds an authorization |
//! | `OC_PAYMENTS_REAUTHORIZE_BEFORE_HOURS` | `24` | re-authorize an uncaptured hold this long before it lapses |
//! | `OC_PAYMENTS_PROVIDER_ATTEMPTS` | `3` | calls per provider operation when it times out (same idempotency key) |
//! | `OC_PAYMENTS_PROVIDER_RETRY_MS` | `100` | real-time pause between those calls |
//! | `OC_PAYMENTS_BANK_TRANSFER_WINDOW_HOURS` | `72` | pay-by deadline of bank transfer instructions |
//! | `OC_PAYMENTS_BANK_BENEFICIARY`, `_BANK_IBAN`, `_BANK_BIC` | ordercycle's demo account | what instructions name |
//! | `OC_PAYMENTS_COD_LIMIT_MINOR` | `200000` | cash on delivery above this (any currency) is declined |
//! | `OC_PAYMENTS_INSTALLMENT_MIN_MINOR` | `1000` | smallest single installment |
//! | `OC_PAYMENTS_INSTALLMENT_EVERY_SECS` | unset = calendar months | distance between installments |
//! | `OC_PAYMENTS_INSTALLMENT_RETRY_HOURS` | `24` | wait before retrying a missed installment |
//! | `OC_PAYMENTS_INSTALLMENT_MAX_ATTEMPTS` | `3` | failed attempts after which the plan defaults |
//! | `OC_PAYMENTS_RISK_HIGH_VALUE_MINOR` | `500000` | a total at or above this scores `high_value` |
//! | `OC_PAYMENTS_RISK_FIRST_ORDER_HIGH_VALUE_MINOR` | `100000` | a customer's first order at or above this scores `first_order_high_value` |
//! | `OC_PAYMENTS_RISK_UNUSUAL_VALUE_FACTOR` | `3` | a total this many times the customer's average order scores `above_usual_value` |
//! | `OC_PAYMENTS_RISK_VELOCITY_PER_HOUR` | `3` | other orders in an hour by one customer, token, address or phone that score velocity |
//! | `OC_PAYMENTS_RISK_BULK_QUANTITY` | `20` | units of one line that score `bulk_quantity` |
//! | `OC_PAYMENTS_RISK_BLOCKLIST_IDENTITY_POINTS` | `80` | points of a blocked customer, e-mail, phone, address or token |
//! | `OC_PAYMENTS_RISK_BLOCKLIST_AREA_POINTS` | `40` | points of a blocked e-mail domain, postal code or country |

use std::str::FromStr;
use std::time::Duration;

use runtime::config::{ConfigError, Env};

use crate::domain::installments::Interval;
use crate::domain::risk::RiskRules;

#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    pub authorization_ttl: chrono::Duration,
    pub reauthorize_before: chrono::Duration,
    pub provider_attempts: u32,
    /// Real time between provider retries (a network pause, not a business duration).
    pub provider_retry: Duration,
    pub bank_transfer_window: chrono::Duration,
    pub bank_beneficiary: String,
    pub bank_iban: String,
    pub bank_bic: String,
    pub cod_limit_minor: i64,
    pub installment_min_minor: i64,
    pub installment_interval: Interval,
    pub installment_retry: chrono::Duration,
    pub installment_max_attempts: i32,
    pub risk: RiskRules,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            authorization_ttl: chrono::Duration::hours(168),
            reauthorize_before: chrono::Duration::hours(24),
            provider_attempts: 3,
            provider_retry: Duration::from_millis(100),
            bank_transfer_window: chrono::Duration::hours(72),
            bank_beneficiary: "ordercycle demo merchant".into(),
            // A syntactically valid demo IBAN; never a real account.
            bank_iban: "DE89370400440532013000".into(),
            bank_bic: "COBADEFFXXX".into(),
            cod_limit_minor: 200_000,
            installment_min_minor: 1_000,
            installment_interval: Interval::Monthly,
            installment_retry: chrono::Duration::hours(24),
            installment_max_attempts: 3,
            risk: RiskRules::default(),
        }
    }
}

impl PaymentsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::process())
    }

    pub fn from(env: &Env<'_>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let hours = |key: &str, default: chrono::Duration| -> Result<_, ConfigError> {
            parse(env, key, default.num_hours()).map(chrono::Duration::hours)
        };
        let every: Option<i64> = match env.get("OC_PAYMENTS_INSTALLMENT_EVERY_SECS") {
            None => None,
            Some(_) => Some(parse(env, "OC_PAYMENTS_INSTALLMENT_EVERY_SECS", 0)?),
        };
        let config = Self {
            authorization_ttl: hours("OC_PAYMENTS_AUTHORIZATION_TTL_HOURS", d.authorization_ttl)?,
            reauthorize_before: hours(
                "OC_PAYMENTS_REAUTHORIZE_BEFORE_HOURS",
                d.reauthorize_before,
            )?,
            provider_attempts: parse(env, "OC_PAYMENTS_PROVIDER_ATTEMPTS", d.provider_attempts)?,
            provider_retry: Duration::from_millis(parse(
                env,
                "OC_PAYMENTS_PROVIDER_RETRY_MS",
                100u64,
            )?),
            bank_transfer_window: hours(
                "OC_PAYMENTS_BANK_TRANSFER_WINDOW_HOURS",
                d.bank_transfer_window,
            )?,
            bank_beneficiary: env
                .get("OC_PAYMENTS_BANK_BENEFICIARY")
                .unwrap_or(d.bank_beneficiary),
            bank_iban: env.get("OC_PAYMENTS_BANK_IBAN").unwrap_or(d.bank_iban),
            bank_bic: env.get("OC_PAYMENTS_BANK_BIC").unwrap_or(d.bank_bic),
            cod_limit_minor: parse(env, "OC_PAYMENTS_COD_LIMIT_MINOR", d.cod_limit_minor)?,
            installment_min_minor: parse(
                env,
                "OC_PAYMENTS_INSTALLMENT_MIN_MINOR",
                d.installment_min_minor,
            )?,
            installment_interval: match every {
                None => Interval::Monthly,
                Some(secs) if secs > 0 => Interval::Every(chrono::Duration::seconds(secs)),
                Some(_) => {
                    return Err(ConfigError {
                        var: "OC_PAYMENTS_INSTALLMENT_EVERY_SECS".into(),
                        reason: "must be a positive number of seconds".into(),
                    });
                }
            },
            installment_retry: hours("OC_PAYMENTS_INSTALLMENT_RETRY_HOURS", d.installment_retry)?,
            installment_max_attempts: parse(
                env,
                "OC_PAYMENTS_INSTALLMENT_MAX_ATTEMPTS",
                d.installment_max_attempts,
            )?,
            risk: RiskRules {
                high_value_minor: parse(
                    env,
                    "OC_PAYMENTS_RISK_HIGH_VALUE_MINOR",
                    d.risk.high_value_minor,
                )?,
                first_order_high_value_minor: parse(
                    env,
                    "OC_PAYMENTS_RISK_FIRST_ORDER_HIGH_VALUE_MINOR",
                    d.risk.first_order_high_value_minor,
                )?,
                unusual_value_factor: parse(
                    env,
                    "OC_PAYMENTS_RISK_UNUSUAL_VALUE_FACTOR",
                    d.risk.unusual_value_factor,
                )?,
                velocity_per_hour: parse(
                    env,
                    "OC_PAYMENTS_RISK_VELOCITY_PER_HOUR",
                    d.risk.velocity_per_hour,
                )?,
                bulk_quantity: parse(env, "OC_PAYMENTS_RISK_BULK_QUANTITY", d.risk.bulk_quantity)?,
                blocklist_identity_points: parse(
                    env,
                    "OC_PAYMENTS_RISK_BLOCKLIST_IDENTITY_POINTS",
                    d.risk.blocklist_identity_points,
                )?,
                blocklist_area_points: parse(
                    env,
                    "OC_PAYMENTS_RISK_BLOCKLIST_AREA_POINTS",
                    d.risk.blocklist_area_points,
                )?,
            },
        };
        if config.risk.velocity_per_hour < 1 {
            return Err(ConfigError {
                var: "OC_PAYMENTS_RISK_VELOCITY_PER_HOUR".into(),
                reason: "must be at least 1".into(),
            });
        }
        if config.provider_attempts == 0 || config.installment_max_attempts < 1 {
            return Err(ConfigError {
                var: "OC_PAYMENTS_PROVIDER_ATTEMPTS / OC_PAYMENTS_INSTALLMENT_MAX_ATTEMPTS".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(config)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_variables_override_them() {
        let config = PaymentsConfig::from(&Env::from_fn(|key| match key {
            "OC_PAYMENTS_BANK_TRANSFER_WINDOW_HOURS" => Some("2".into()),
            "OC_PAYMENTS_INSTALLMENT_EVERY_SECS" => Some("60".into()),
            _ => None,
        }))
        .unwrap();
        assert_eq!(config.bank_transfer_window, chrono::Duration::hours(2));
        assert_eq!(
            config.installment_interval,
            Interval::Every(chrono::Duration::seconds(60))
        );
        assert_eq!(config.provider_attempts, 3);
    }

    #[test]
    fn nonsense_is_reported_with_its_variable() {
        let err = PaymentsConfig::from(&Env::from_fn(|key| {
            (key == "OC_PAYMENTS_COD_LIMIT_MINOR").then(|| "lots".into())
        }))
        .unwrap_err();
        assert_eq!(err.var, "OC_PAYMENTS_COD_LIMIT_MINOR");
    }
}
