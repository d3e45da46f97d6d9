//! Risk scoring of a placed order: a sum of explainable points, capped at 100. Orders decides
//! what score holds an order for review; payments only says how risky it looks and why.

use serde::{Deserialize, Serialize};

use crate::domain::blocklist::Kind;

/// What scoring looks at, taken from the `OrderPlaced` event and the customer's history.
#[derive(Debug, Clone, Default)]
pub struct OrderFacts {
    pub total_minor: i64,
    pub currency: String,
    pub largest_line_quantity: i32,
    pub shipping_country: Option<String>,
    pub billing_country: Option<String>,
    /// Other orders in the last hour by the same customer, payment token, address or phone,
    /// each counted up to [`RiskRules::count_cap`].
    pub velocity: Velocity,
    /// Orders by the same customer assessed before, this one excluded, counted up to
    /// [`RiskRules::count_cap`] (the rules only ask whether there is one).
    pub previous_orders: i64,
    /// The customer's average order total in this currency over their latest
    /// [`USUAL_OVER`] orders before this one, if any.
    pub usual_total_minor: Option<i64>,
    /// Block-list entries in force that match the order: (kind, the entry's reason).
    pub blocklisted: Vec<(Kind, String)>,
}

/// A customer's "usual" order is the average of their latest this many.
pub const USUAL_OVER: i64 = 100;

/// Other orders placed in the hour before this one that share something with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Velocity {
    pub customer: i64,
    pub token: i64,
    pub address: i64,
    pub phone: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub description: String,
    pub points: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub score: i32,
    pub reasons: Vec<Reason>,
}

/// Thresholds of the rules; configuration, never constants in handlers.
#[derive(Debug, Clone)]
pub struct RiskRules {
    /// A total at or above this many minor units counts as high value.
    pub high_value_minor: i64,
    /// A customer's first order at or above this many minor units is a signal of its own.
    pub first_order_high_value_minor: i64,
    /// A total at least this many times the customer's usual (average) order is unusual.
    pub unusual_value_factor: i64,
    /// Other orders in the last hour by one customer, token, address or phone at which the
    /// velocity rules fire.
    pub velocity_per_hour: i64,
    pub bulk_quantity: i32,
    /// Points for a blocked customer, e-mail address or phone: enough on its own to reach
    /// orders' default hold threshold (70).
    pub blocklist_identity_points: i32,
    /// Points for a blocked e-mail domain, postal code or country: a signal, not a verdict.
    pub blocklist_area_points: i32,
}

impl RiskRules {
    /// How far history counts go: far enough to say how many orders fired a velocity rule,
    /// short enough that a street, phone or card shared by thousands of orders an hour (a
    /// marketplace's pick-up point, an attack) costs each assessment at most this many rows.
    pub fn count_cap(&self) -> i64 {
        self.velocity_per_hour.saturating_mul(10).max(100)
    }
}

impl Default for RiskRules {
    fn default() -> Self {
        Self {
            high_value_minor: 500_000,
            first_order_high_value_minor: 100_000,
            unusual_value_factor: 3,
            velocity_per_hour: 3,
            bulk_quantity: 20,
            blocklist_identity_points: 80,
            blocklist_area_points: 40,
        }
    }
}

impl RiskRules {
    pub fn assess(&self, facts: &OrderFacts) -> Assessment {
        let mut reasons = Vec::new();
        let mut add = |code: &str, description: String, points: i32| {
            reasons.push(Reason {
                code: code.to_owned(),
                description,
                points,
            });
        };
        if facts.total_minor >= self.high_value_minor {
            add(
                "high_value",
                format!(
                    "total {} {} is at or above {}",
                    facts.total_minor, facts.currency, self.high_value_minor
                ),
                30,
            );
        }
        if let (Some(ship), Some(bill)) = (&facts.shipping_country, &facts.billing_country)
            && ship != bill
        {
            add(
                "address_mismatch",
                format!("ships to {ship} but bills to {bill}"),
                20,
            );
        }
        let v = facts.velocity;
        for (code, count, by, points) in [
            ("high_velocity", v.customer, "by this customer", 25),
            ("token_velocity", v.token, "with this payment token", 25),
            ("address_velocity", v.address, "to this address", 15),
            ("phone_velocity", v.phone, "with this phone number", 15),
        ] {
            if count >= self.velocity_per_hour {
                let at_least = if count >= self.count_cap() {
                    "at least "
                } else {
                    ""
                };
                add(
                    code,
                    format!("{at_least}{count} other orders {by} in the last hour"),
                    points,
                );
            }
        }
        if facts.largest_line_quantity >= self.bulk_quantity {
            add(
                "bulk_quantity",
                format!("{} units of one item", facts.largest_line_quantity),
                15,
            );
        }
        if facts.previous_orders == 0 {
            add("first_order", "the customer's first order".to_owned(), 5);
            if facts.total_minor >= self.first_order_high_value_minor {
                add(
                    "first_order_high_value",
                    format!(
                        "a first order of {} {} (at or above {})",
                        facts.total_minor, facts.currency, self.first_order_high_value_minor
                    ),
                    15,
                );
            }
        } else if let Some(usual) = facts.usual_total_minor.filter(|u| *u > 0)
            && facts.total_minor >= usual.saturating_mul(self.unusual_value_factor)
        {
            add(
                "above_usual_value",
                format!(
                    "total {} {} is at least {}× the customer's usual order ({usual})",
                    facts.total_minor, facts.currency, self.unusual_value_factor
                ),
                20,
            );
        }
        for (kind, why) in &facts.blocklisted {
            let (what, points) = match kind {
                Kind::Email => ("the e-mail address", self.blocklist_identity_points),
                Kind::CustomerId => ("the customer", self.blocklist_identity_points),
                Kind::Phone => ("a phone number", self.blocklist_identity_points),
                Kind::Address => ("an address", self.blocklist_identity_points),
                Kind::PaymentToken => ("the payment token", self.blocklist_identity_points),
                Kind::EmailDomain => ("the e-mail domain", self.blocklist_area_points),
                Kind::PostalCode => ("a postal code", self.blocklist_area_points),
                Kind::CountryCode => ("a country", self.blocklist_area_points),
            };
            // Names the kind and the operator's reason, never the blocked value itself.
            add(
                kind.reason_code(),
                format!("{what} of this order is on the block list: {why}"),
                points,
            );
        }
        let score = reasons.iter().map(|r| r.points).sum::<i32>().clamp(0, 100);
        Assessment { score, reasons }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn returning_customer() -> OrderFacts {
        OrderFacts {
            total_minor: 1000,
            currency: "EUR".into(),
            largest_line_quantity: 1,
            shipping_country: Some("DE".into()),
            billing_country: Some("DE".into()),
            velocity: Velocity::default(),
            previous_orders: 4,
            usual_total_minor: Some(1000),
            blocklisted: Vec::new(),
        }
    }

    #[test]
    fn an_ordinary_order_from_a_known_customer_scores_zero() {
        let a = RiskRules::default().assess(&returning_customer());
        assert_eq!(a.score, 0);
        assert!(a.reasons.is_empty());
    }

    #[test]
    fn each_rule_adds_its_points_and_says_why() {
        let facts = OrderFacts {
            total_minor: 900_000,
            billing_country: Some("FR".into()),
            velocity: Velocity {
                customer: 5,
                ..Velocity::default()
            },
            largest_line_quantity: 40,
            previous_orders: 0,
            ..returning_customer()
        };
        let a = RiskRules::default().assess(&facts);
        let codes: Vec<_> = a.reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "high_value",
                "address_mismatch",
                "high_velocity",
                "bulk_quantity",
                "first_order",
                "first_order_high_value"
            ]
        );
        assert_eq!(a.score, 100);
    }

    #[test]
    fn a_total_far_above_the_customers_usual_order_is_a_signal() {
        let rules = RiskRules::default();
        let usual = OrderFacts {
            total_minor: 2_999,
            ..returning_customer()
        };
        assert_eq!(rules.assess(&usual).score, 0);
        let unusual = OrderFacts {
            total_minor: 3_000,
            ..returning_customer()
        };
        let a = rules.assess(&unusual);
        assert_eq!(a.reasons[0].code, "above_usual_value");
        assert_eq!(a.score, 20);
        assert!(a.reasons[0].description.contains("usual order (1000)"));
    }

    #[test]
    fn a_velocity_count_at_the_cap_says_at_least() {
        let rules = RiskRules::default();
        let facts = OrderFacts {
            velocity: Velocity {
                address: rules.count_cap(),
                ..Velocity::default()
            },
            previous_orders: 1,
            ..OrderFacts::default()
        };
        let a = rules.assess(&facts);
        assert_eq!(
            a.reasons[0].description,
            "at least 100 other orders to this address in the last hour"
        );
    }

    #[test]
    fn velocity_counts_by_token_address_and_phone_as_well() {
        let facts = OrderFacts {
            velocity: Velocity {
                customer: 0,
                token: 3,
                address: 4,
                phone: 2,
            },
            ..returning_customer()
        };
        let a = RiskRules::default().assess(&facts);
        let codes: Vec<_> = a.reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["token_velocity", "address_velocity"]);
        assert_eq!(a.score, 40);
        assert!(
            a.reasons[1]
                .description
                .contains("4 other orders to this address")
        );
    }

    #[test]
    fn the_score_never_exceeds_one_hundred() {
        let rules = RiskRules {
            high_value_minor: 0,
            velocity_per_hour: 0,
            bulk_quantity: 0,
            ..RiskRules::default()
        };
        let facts = OrderFacts {
            billing_country: Some("FR".into()),
            previous_orders: 0,
            ..returning_customer()
        };
        assert!(rules.assess(&facts).score <= 100);
    }

    #[test]
    fn a_blocked_email_alone_reaches_the_hold_threshold_and_names_no_value() {
        let facts = OrderFacts {
            blocklisted: vec![(Kind::Email, "chargebacks".into())],
            ..returning_customer()
        };
        let a = RiskRules::default().assess(&facts);
        assert_eq!(a.score, 80);
        assert_eq!(a.reasons[0].code, "blocklisted_email");
        assert!(a.reasons[0].description.contains("chargebacks"));
        let weak = OrderFacts {
            blocklisted: vec![(Kind::CountryCode, "fraud ring".into())],
            ..returning_customer()
        };
        assert_eq!(RiskRules::default().assess(&weak).score, 40);
    }
}
