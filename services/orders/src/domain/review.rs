//! The review rules of step 9: which placed orders a person must look at, and why.

use serde::{Deserialize, Serialize};

use super::order::{Fulfillment, Order};
use crate::config::OrdersConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldKind {
    HighRiskScore,
    HighValue,
    Rule,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldReason {
    pub kind: HoldKind,
    pub code: String,
    pub description: String,
}

/// The reasons to hold `order`, given payments' score and reason codes (empty: no hold).
pub fn hold_reasons(
    config: &OrdersConfig,
    order: &Order,
    risk_score: i32,
    risk_codes: &[String],
) -> Vec<HoldReason> {
    let mut reasons = Vec::new();
    let mut add = |kind, code: &str, description: String| {
        reasons.push(HoldReason {
            kind,
            code: code.to_owned(),
            description,
        });
    };
    if risk_score >= config.hold_score {
        add(
            HoldKind::HighRiskScore,
            "high_risk_score",
            format!(
                "risk score {risk_score} is at or above {}",
                config.hold_score
            ),
        );
    }
    let limit = config.hold_total_for(order.total.currency.as_str());
    if order.total.minor >= limit {
        add(
            HoldKind::HighValue,
            "high_value",
            format!("total {} is at or above {limit}", order.total),
        );
    }
    if let Some(line) = order
        .lines
        .iter()
        .find(|l| l.quantity >= config.unusual_quantity)
    {
        add(
            HoldKind::Rule,
            "unusual_quantity",
            format!("{} units of {}", line.quantity, line.sku),
        );
    }
    if let (Fulfillment::Ship { address }, Some(billing)) =
        (&order.fulfillment, &order.billing_address)
        && address.country_code != billing.country_code
    {
        add(
            HoldKind::Rule,
            "country_mismatch",
            format!(
                "ships to {} but bills to {}",
                address.country_code, billing.country_code
            ),
        );
    }
    for code in risk_codes.iter().filter(|c| c.starts_with("blocklisted")) {
        add(
            HoldKind::Rule,
            code,
            format!("payments reports {}", code.replace('_', " ")),
        );
    }
    reasons
}
