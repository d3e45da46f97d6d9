//! The orders service's own settings (`OC_ORDERS_…`), with defaults from DESIGN §3a.

use std::collections::HashMap;
use std::time::Duration;

use runtime::config::{ConfigError, Env};

use crate::domain::invoices::LegalEntity;

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
    /// An order update's request that got no answer this long is sent again
    /// (`OC_ORDERS_UPDATE_RETRY_SECS`, 10 minutes on the service clock): the services answer a
    /// repeat as they did the first, so a request dead-lettered or lost on its way cannot leave
    /// an update in progress for ever.
    pub update_retry: Duration,
    /// Refuse SKUs unknown to the catalog read model and prices that differ from it
    /// (`OC_ORDERS_CATALOG_CHECK`, true).
    pub catalog_check: bool,
    /// The return policy (`OC_ORDERS_RETURN_…`).
    pub returns: ReturnPolicy,
    /// The companies that issue invoices, in order of preference: an order is invoiced by the
    /// first whose `countries` (buyer's country) and `channels` match, empty lists matching
    /// any (`OC_ORDERS_LEGAL_ENTITIES`, a JSON array; see README "Invoices"). By default one
    /// entity `OC01` named "ordercycle" invoices everything.
    pub legal_entities: Vec<LegalEntity>,
}

/// The one legal entity of an unconfigured installation.
fn default_entity() -> LegalEntity {
    LegalEntity {
        code: "OC01".into(),
        name: "ordercycle".into(),
        tax_id: String::new(),
        line1: String::new(),
        line2: String::new(),
        postal_code: String::new(),
        city: String::new(),
        region: String::new(),
        country_code: String::new(),
        countries: Vec::new(),
        channels: Vec::new(),
    }
}

fn legal_entities(raw: &str) -> Result<Vec<LegalEntity>, ConfigError> {
    let bad = |reason: String| ConfigError {
        var: "OC_ORDERS_LEGAL_ENTITIES".into(),
        reason,
    };
    let entities: Vec<LegalEntity> = serde_json::from_str(raw)
        .map_err(|e| bad(format!("is not a JSON array of legal entities: {e}")))?;
    if entities.is_empty() {
        return Err(bad("names no legal entity".into()));
    }
    for (i, e) in entities.iter().enumerate() {
        e.check().map_err(bad)?;
        if entities[..i].iter().any(|other| other.code == e.code) {
            return Err(bad(format!("names {} twice", e.code)));
        }
    }
    Ok(entities)
}

/// The return policy engine's settings. Reasons are named as in `ReturnReason` without the
/// `RETURN_REASON_` prefix (`NO_LONGER_NEEDED`, `WRONG_SIZE`, `DEFECTIVE`, …).
#[derive(Debug, Clone)]
pub struct ReturnPolicy {
    /// Return window from delivery (`OC_ORDERS_RETURN_WINDOW_DAYS`, 30; fractions allowed).
    pub window: Duration,
    /// Per item category (`OC_ORDERS_RETURN_WINDOW_BY_CATEGORY`, e.g. `electronics:14,food:0`).
    pub window_by_category: HashMap<String, Duration>,
    /// Categories never returnable, besides items marked non-returnable in the catalog
    /// (`OC_ORDERS_RETURN_NON_RETURNABLE_CATEGORIES`, e.g. `food,hygiene`).
    pub non_returnable_categories: Vec<String>,
    /// Returns worth more than this (minor units of the order's currency) go to a person
    /// (`OC_ORDERS_RETURN_AUTO_APPROVE_MAX_MINOR`, 50,000).
    pub auto_approve_max_minor: i64,
    /// Reasons that always go to a person (`OC_ORDERS_RETURN_REVIEW_REASONS`, `OTHER`).
    pub review_reasons: Vec<String>,
    /// Reasons for which the customer pays the return shipping
    /// (`OC_ORDERS_RETURN_CUSTOMER_PAYS_SHIPPING_REASONS`, `NO_LONGER_NEEDED,WRONG_SIZE,OTHER`);
    /// for every other reason the merchant does.
    pub customer_pays_shipping_reasons: Vec<String>,
    /// Deducted once from the refund when the customer pays the return shipping
    /// (`OC_ORDERS_RETURN_SHIPPING_FEE_MINOR`, 0).
    pub shipping_fee_minor: i64,
    /// Restocking fee in basis points of resellable units' value
    /// (`OC_ORDERS_RETURN_RESTOCKING_FEE_BPS`, 0), for the reasons in
    /// `OC_ORDERS_RETURN_RESTOCKING_FEE_REASONS` (`NO_LONGER_NEEDED,WRONG_SIZE,OTHER`).
    pub restocking_fee_bps: i64,
    pub restocking_fee_reasons: Vec<String>,
    /// Share of a damaged unit's value refunded when the customer did not report transit
    /// damage, in basis points (`OC_ORDERS_RETURN_DAMAGED_REFUND_BPS`, 0).
    pub damaged_refund_bps: i64,
}

impl Default for ReturnPolicy {
    fn default() -> Self {
        let customer = ["NO_LONGER_NEEDED", "WRONG_SIZE", "OTHER"].map(str::to_owned);
        Self {
            window: Duration::from_secs(30 * 86_400),
            window_by_category: HashMap::new(),
            non_returnable_categories: Vec::new(),
            auto_approve_max_minor: 50_000,
            review_reasons: vec!["OTHER".to_owned()],
            customer_pays_shipping_reasons: customer.to_vec(),
            shipping_fee_minor: 0,
            restocking_fee_bps: 0,
            restocking_fee_reasons: customer.to_vec(),
            damaged_refund_bps: 0,
        }
    }
}

impl ReturnPolicy {
    /// The return window of an item category.
    pub fn window_for(&self, category: &str) -> Duration {
        self.window_by_category
            .get(&category.to_lowercase())
            .copied()
            .unwrap_or(self.window)
    }

    fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut p = Self::default();
        let bad = |key: &str, reason: String| ConfigError {
            var: key.to_owned(),
            reason,
        };
        let days = |key: &str, raw: &str| -> Result<Duration, ConfigError> {
            raw.trim()
                .parse::<f64>()
                .ok()
                .filter(|d| d.is_finite() && *d >= 0.0)
                .map(|d| Duration::from_secs_f64(d * 86_400.0))
                .ok_or_else(|| bad(key, format!("`{raw}` is not a number of days")))
        };
        let int = |key: &str, default: i64| -> Result<i64, ConfigError> {
            env.get(key).map_or(Ok(default), |raw| {
                raw.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| bad(key, format!("`{raw}` is not a whole number")))
            })
        };
        let list = |key: &str, default: &[String]| -> Vec<String> {
            env.get(key).map_or_else(
                || default.to_vec(),
                |raw| {
                    raw.split(',')
                        .map(|s| s.trim().to_uppercase())
                        .filter(|s| !s.is_empty())
                        .collect()
                },
            )
        };
        if let Some(raw) = env.get("OC_ORDERS_RETURN_WINDOW_DAYS") {
            p.window = days("OC_ORDERS_RETURN_WINDOW_DAYS", &raw)?;
        }
        if let Some(raw) = env.get("OC_ORDERS_RETURN_WINDOW_BY_CATEGORY") {
            for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let Some((category, d)) = entry.split_once(':') else {
                    return Err(bad(
                        "OC_ORDERS_RETURN_WINDOW_BY_CATEGORY",
                        format!("`{entry}` is not CATEGORY:DAYS"),
                    ));
                };
                p.window_by_category.insert(
                    category.trim().to_lowercase(),
                    days("OC_ORDERS_RETURN_WINDOW_BY_CATEGORY", d)?,
                );
            }
        }
        p.non_returnable_categories = list("OC_ORDERS_RETURN_NON_RETURNABLE_CATEGORIES", &[])
            .into_iter()
            .map(|c| c.to_lowercase())
            .collect();
        p.auto_approve_max_minor = int(
            "OC_ORDERS_RETURN_AUTO_APPROVE_MAX_MINOR",
            p.auto_approve_max_minor,
        )?;
        p.review_reasons = list("OC_ORDERS_RETURN_REVIEW_REASONS", &p.review_reasons);
        p.customer_pays_shipping_reasons = list(
            "OC_ORDERS_RETURN_CUSTOMER_PAYS_SHIPPING_REASONS",
            &p.customer_pays_shipping_reasons,
        );
        p.shipping_fee_minor = int("OC_ORDERS_RETURN_SHIPPING_FEE_MINOR", 0)?;
        p.restocking_fee_bps = int("OC_ORDERS_RETURN_RESTOCKING_FEE_BPS", 0)?;
        if p.restocking_fee_bps > 10_000 {
            return Err(bad(
                "OC_ORDERS_RETURN_RESTOCKING_FEE_BPS",
                "must be at most 10000".into(),
            ));
        }
        p.restocking_fee_reasons = list(
            "OC_ORDERS_RETURN_RESTOCKING_FEE_REASONS",
            &p.restocking_fee_reasons,
        );
        p.damaged_refund_bps = int("OC_ORDERS_RETURN_DAMAGED_REFUND_BPS", 0)?;
        if p.damaged_refund_bps > 10_000 {
            return Err(bad(
                "OC_ORDERS_RETURN_DAMAGED_REFUND_BPS",
                "must be at most 10000".into(),
            ));
        }
        Ok(p)
    }
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
            update_retry: Duration::from_secs(600),
            catalog_check: true,
            returns: ReturnPolicy::default(),
            legal_entities: vec![default_entity()],
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
        config.update_retry =
            Duration::from_secs(number("OC_ORDERS_UPDATE_RETRY_SECS", 600)?.max(1));
        config.catalog_check = env.get("OC_ORDERS_CATALOG_CHECK").as_deref() != Some("false");
        config.returns = ReturnPolicy::from_env(env)?;
        if let Some(raw) = env.get("OC_ORDERS_LEGAL_ENTITIES") {
            config.legal_entities = legal_entities(&raw)?;
        }
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
