//! The return policy: which lines may come back and when, who decides, who pays the return
//! shipping, and how much of the money goes back after inspection. Pure: no I/O, no protobuf;
//! every amount in integer minor units, fees rounded down (in the customer's favour).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::ReturnPolicy;

/// RMA states as stored.
pub mod status {
    pub const REQUESTED: &str = "REQUESTED";
    pub const APPROVED: &str = "APPROVED";
    pub const REJECTED: &str = "REJECTED";
    pub const RECEIVED: &str = "RECEIVED";
    pub const INSPECTED: &str = "INSPECTED";
    pub const CLOSED: &str = "CLOSED";
}

/// How a closed RMA ended, as stored.
pub mod outcome {
    pub const REFUNDED: &str = "REFUNDED";
    pub const EXCHANGED: &str = "EXCHANGED";
    pub const REPAIRED: &str = "REPAIRED";
    pub const NO_REFUND: &str = "NO_REFUND";
    pub const CANCELLED: &str = "CANCELLED";
}

/// `RMA-YYMMDD-NNNNNN`: printed on the return label, read out on the phone.
pub fn rma_number(date: DateTime<Utc>, sequence: i64) -> String {
    format!("RMA-{}-{sequence:06}", date.format("%y%m%d"))
}

pub fn looks_like_rma(raw: &str) -> bool {
    raw.starts_with("RMA-")
}

/// A line the customer asks to return, as the policy sees it.
#[derive(Debug, Clone)]
pub struct PolicyLine {
    pub category: String,
    /// `ReturnReason` without its prefix, e.g. `DEFECTIVE`.
    pub reason: String,
    pub value_minor: i64,
}

/// What the policy decides about a new return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve(String),
    Review(String),
    Reject(String),
}

fn days(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 86_400.0 && (secs / 86_400.0).fract() == 0.0 {
        format!("{}-day", secs / 86_400.0)
    } else {
        format!("{secs:.0}-second")
    }
}

/// Within policy → approved; outside the window → rejected (with the reason); anything else
/// the policy does not settle → a person decides.
pub fn decide(
    policy: &ReturnPolicy,
    lines: &[PolicyLine],
    delivered_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Decision {
    for line in lines {
        let window = policy.window_for(&line.category);
        let closes = delivered_at + chrono::Duration::from_std(window).unwrap_or_default();
        if now > closes {
            let category = if line.category.is_empty() {
                String::new()
            } else {
                format!(" for {}", line.category)
            };
            return Decision::Reject(format!(
                "outside the {} return window{category}: delivered {}, window closed {}",
                days(window),
                delivered_at.format("%Y-%m-%d %H:%M:%S UTC"),
                closes.format("%Y-%m-%d %H:%M:%S UTC"),
            ));
        }
    }
    if let Some(line) = lines
        .iter()
        .find(|l| policy.review_reasons.contains(&l.reason))
    {
        return Decision::Review(format!(
            "reason {} needs a person's review",
            line.reason.to_lowercase()
        ));
    }
    let value: i64 = lines.iter().map(|l| l.value_minor).sum();
    if value > policy.auto_approve_max_minor {
        return Decision::Review(format!(
            "value {value} is above the automatic approval limit {}",
            policy.auto_approve_max_minor
        ));
    }
    Decision::Approve("within the return policy".to_owned())
}

/// The customer pays the return shipping only when every reason is one of theirs.
pub fn customer_pays_shipping(policy: &ReturnPolicy, reasons: &[&str]) -> bool {
    !reasons.is_empty()
        && reasons
            .iter()
            .all(|r| policy.customer_pays_shipping_reasons.iter().any(|c| c == r))
}

/// Units of one line by inspection grade.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Grades {
    pub resellable: i32,
    pub damaged: i32,
    pub defective: i32,
    pub wrong_item: i32,
    pub missing: i32,
}

impl Grades {
    /// Units that arrived (everything but missing ones).
    pub fn received(&self) -> i32 {
        self.resellable + self.damaged + self.defective + self.wrong_item
    }

    pub fn total(&self) -> i32 {
        self.received() + self.missing
    }
}

/// `value × bps / 10 000`, rounded down, exact.
fn share(value: i64, bps: i64) -> i64 {
    i64::try_from(i128::from(value) * i128::from(bps) / 10_000).unwrap_or(i64::MAX)
}

/// The refund of one inspected line: resellable units at their price minus the restocking fee
/// (for the fee's reasons), defective units in full, damaged units in full when the customer
/// reported transit damage and otherwise at the damaged share, wrong items and missing units
/// nothing. Never more than the units' price.
pub fn line_refund(policy: &ReturnPolicy, unit_price_minor: i64, reason: &str, g: &Grades) -> i64 {
    let value = |units: i32| unit_price_minor.saturating_mul(i64::from(units.max(0)));
    let resellable = value(g.resellable);
    let fee = if policy.restocking_fee_reasons.iter().any(|r| r == reason) {
        share(resellable, policy.restocking_fee_bps)
    } else {
        0
    };
    let damaged = if reason == "DAMAGED_IN_TRANSIT" {
        value(g.damaged)
    } else {
        share(value(g.damaged), policy.damaged_refund_bps)
    };
    (resellable - fee) + value(g.defective) + damaged
}

/// The order's return summary (stored names of `OrderReturnStatus` without its prefix) from
/// its RMAs' (status, outcome) and whether every delivered unit has come back.
pub fn order_return_status(
    returns: &[(String, Option<String>)],
    fully_returned: bool,
) -> &'static str {
    if returns.is_empty() {
        return "NONE";
    }
    let any = |s: &str| returns.iter().any(|(st, _)| st == s);
    if any(status::REQUESTED) {
        return "REQUESTED";
    }
    if any(status::APPROVED) || any(status::RECEIVED) || any(status::INSPECTED) {
        return "IN_PROGRESS";
    }
    let closed = |o: &str| {
        returns
            .iter()
            .any(|(st, out)| st == status::CLOSED && out.as_deref() == Some(o))
    };
    if closed(outcome::REFUNDED) || closed(outcome::NO_REFUND) {
        return if fully_returned {
            "RETURNED"
        } else {
            "PARTIALLY_RETURNED"
        };
    }
    if closed(outcome::EXCHANGED) || closed(outcome::REPAIRED) {
        return "EXCHANGED";
    }
    "REJECTED"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn line(category: &str, reason: &str, value: i64) -> PolicyLine {
        PolicyLine {
            category: category.into(),
            reason: reason.into(),
            value_minor: value,
        }
    }

    #[test]
    fn the_window_is_per_category() {
        let mut p = ReturnPolicy::default();
        p.window_by_category
            .insert("food".into(), Duration::from_secs(86_400));
        let delivered = at("2026-01-01T00:00:00Z");
        let later = at("2026-01-05T00:00:00Z");
        assert_eq!(
            decide(&p, &[line("tea", "DEFECTIVE", 100)], delivered, later),
            Decision::Approve("within the return policy".into())
        );
        let Decision::Reject(why) = decide(&p, &[line("food", "DEFECTIVE", 100)], delivered, later)
        else {
            panic!("a food item after its 1-day window must be rejected");
        };
        assert!(why.contains("1-day return window for food"), "{why}");
    }

    #[test]
    fn big_returns_and_review_reasons_go_to_a_person() {
        let p = ReturnPolicy::default();
        let t = at("2026-01-01T00:00:00Z");
        assert!(matches!(
            decide(&p, &[line("", "DEFECTIVE", 50_001)], t, t),
            Decision::Review(_)
        ));
        assert!(matches!(
            decide(&p, &[line("", "OTHER", 1)], t, t),
            Decision::Review(_)
        ));
    }

    #[test]
    fn refunds_are_exact_and_fees_round_in_the_customers_favour() {
        let p = ReturnPolicy {
            restocking_fee_bps: 1_000,
            damaged_refund_bps: 5_000,
            ..ReturnPolicy::default()
        };
        let g = Grades {
            resellable: 3,
            ..Grades::default()
        };
        // 3 × 333 = 999; 10 % = 99.9 → fee 99.
        assert_eq!(line_refund(&p, 333, "NO_LONGER_NEEDED", &g), 900);
        assert_eq!(line_refund(&p, 333, "DEFECTIVE", &g), 999);
        let damaged = Grades {
            damaged: 1,
            defective: 1,
            missing: 1,
            wrong_item: 1,
            ..Grades::default()
        };
        assert_eq!(line_refund(&p, 1001, "WRONG_SIZE", &damaged), 1001 + 500);
        assert_eq!(line_refund(&p, 1001, "DAMAGED_IN_TRANSIT", &damaged), 2002);
    }

    #[test]
    fn the_summary_follows_the_rmas() {
        let r = |s: &str, o: Option<&str>| (s.to_owned(), o.map(str::to_owned));
        assert_eq!(order_return_status(&[], false), "NONE");
        assert_eq!(
            order_return_status(&[r("REJECTED", None)], false),
            "REJECTED"
        );
        assert_eq!(
            order_return_status(&[r("CLOSED", Some("REFUNDED")), r("APPROVED", None)], false),
            "IN_PROGRESS"
        );
        assert_eq!(
            order_return_status(&[r("CLOSED", Some("REFUNDED"))], true),
            "RETURNED"
        );
        assert_eq!(
            order_return_status(&[r("CLOSED", Some("EXCHANGED"))], false),
            "EXCHANGED"
        );
    }
}
