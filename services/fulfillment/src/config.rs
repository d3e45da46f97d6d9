//! Fulfillment's own settings (`OC_FULFILLMENT_…`).

use runtime::config::{ConfigError, Env};

use crate::domain::weight::Tolerance;

#[derive(Debug, Clone)]
pub struct FulfillmentConfig {
    /// Shipping's gRPC endpoint, called when a parcel is packed
    /// (`OC_FULFILLMENT_SHIPPING_URL`, default `http://127.0.0.1:50055`).
    pub shipping_url: String,
    /// The packing weight check (`OC_FULFILLMENT_WEIGHT_TOLERANCE_PCT`, 10;
    /// `OC_FULFILLMENT_WEIGHT_TOLERANCE_GRAMS`, 150).
    pub tolerance: Tolerance,
}

impl FulfillmentConfig {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let number = |key: &str, default: i32| -> Result<i32, ConfigError> {
            env.get(key).map_or(Ok(default), |raw| {
                raw.trim().parse().map_err(|_| ConfigError {
                    var: key.to_owned(),
                    reason: format!("`{raw}` is not a whole number"),
                })
            })
        };
        Ok(Self {
            shipping_url: env
                .get("OC_FULFILLMENT_SHIPPING_URL")
                .unwrap_or_else(|| "http://127.0.0.1:50055".to_owned()),
            tolerance: Tolerance {
                share: f64::from(number("OC_FULFILLMENT_WEIGHT_TOLERANCE_PCT", 10)?) / 100.0,
                grams: number("OC_FULFILLMENT_WEIGHT_TOLERANCE_GRAMS", 150)?,
            },
        })
    }
}
