//! The orders service's own settings (`OC_ORDERS_…`), with defaults from DESIGN §3a.

use std::collections::HashMap;
use std::time::Duration;

use runtime::config::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct OrdersConfig {
    /// A risk score at or above this holds the order (`OC_ORDERS_HOLD_SCORE`, 70).
    pub hold_score: i32,
    /// A total at or above this many minor units holds the order, per currency
    /// (`OC_ORDERS_HOLD_TOTAL`, e.g. `EUR:1000000,JPY:100000000`; the `*` entry is the
    /// default for other currencies, 1,000,000).
    pub hold_total: HashMap<String, i64>,
    /// Any line with at least this many units holds the order (`OC_ORDERS_UNUSUAL_QUANTITY`).
    pub unusual_quantity: i32,
    /// How long a reviewer has before a held order is rejected (`OC_ORDERS_REVIEW_DEADLINE_SECS`).
    pub review_deadline: Duration,
    /// Reservation TTL: longer than the longest wait before confirmation, e.g. a bank
    /// transfer's deadline (`OC_ORDERS_RESERVATION_TTL_SECS`, 4 days).
    pub reservation_ttl: Duration,
    /// After delivery, the order is accepted automatically after this long
    /// (`OC_ORDERS_AUTO_ACCEPT_SECS`, 7 days).
    pub auto_accept_after: Duration,
    /// Refuse SKUs unknown to the catalog read model and prices that differ from it
    /// (`OC_ORDERS_CATALOG_CHECK`, true).
    pub catalog_check: bool,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        Self {
            hold_score: 70,
            hold_total: HashMap::from([("*".to_owned(), 1_000_000)]),
            unusual_quantity: 50,
            review_deadline: Duration::from_secs(24 * 3600),
            reservation_ttl: Duration::from_secs(4 * 24 * 3600),
            auto_accept_after: Duration::from_secs(7 * 24 * 3600),
            catalog_check: true,
        }
    }
}

impl OrdersConfig {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        let number = |key: &str, default: u64| -> Result<u64, ConfigError> {
            env.get(key).map_or(Ok(default), |raw| {
                raw.trim().parse().map_err(|_| ConfigError {
                    var: key.to_owned(),
                    reason: format!("`{raw}` is not a whole number"),
                })
            })
        };
        config.hold_score = number("OC_ORDERS_HOLD_SCORE", 70)? as i32;
        config.unusual_quantity = number("OC_ORDERS_UNUSUAL_QUANTITY", 50)? as i32;
        config.review_deadline =
            Duration::from_secs(number("OC_ORDERS_REVIEW_DEADLINE_SECS", 86_400)?);
        config.reservation_ttl =
            Duration::from_secs(number("OC_ORDERS_RESERVATION_TTL_SECS", 4 * 86_400)?);
        config.auto_accept_after =
            Duration::from_secs(number("OC_ORDERS_AUTO_ACCEPT_SECS", 7 * 86_400)?);
        config.catalog_check = env.get("OC_ORDERS_CATALOG_CHECK").as_deref() != Some("false");
        if let Some(raw) = env.get("OC_ORDERS_HOLD_TOTAL") {
            for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let parsed = entry
                    .split_once(':')
                    .and_then(|(currency, amount)| Some((currency, amount.parse::<i64>().ok()?)));
                let Some((currency, amount)) = parsed else {
                    return Err(ConfigError {
                        var: "OC_ORDERS_HOLD_TOTAL".into(),
                        reason: format!("`{entry}` is not CURRENCY:AMOUNT"),
                    });
                };
                config.hold_total.insert(currency.to_owned(), amount);
            }
        }
        Ok(config)
    }

    pub fn hold_total_for(&self, currency: &str) -> i64 {
        self.hold_total
            .get(currency)
            .or_else(|| self.hold_total.get("*"))
            .copied()
            .unwrap_or(i64::MAX)
    }
}
