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

/// What an order line was charged, for valuing some of its units: `charged` for `quantity`
/// units (see [`super::pricing::value_of_units`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCharge {
    pub charged: i64,
    pub quantity: i32,
}

impl LineCharge {
    /// Units `from..from + units` of the line.
    fn value(self, from: i32, units: i32) -> i64 {
        super::pricing::value_of_unit_range(
            self.charged,
            i64::from(self.quantity),
            i64::from(from.max(0)),
            i64::from(from.max(0)) + i64::from(units.max(0)),
        )
    }
}

/// Units of a line that a refund values (wrong items and missing units are worth nothing).
pub fn valued_units(g: &Grades) -> i32 {
    g.resellable.max(0) + g.defective.max(0) + g.damaged.max(0)
}

/// The refund of one inspected line, valued exactly as the line was charged (its discount and
/// tax included): the returned units are the line's units that follow `from`, the units of the
/// line that earlier returns already valued, taken resellable first, then defective, then
/// damaged, each at its share `floor(charged × k / q)` so that every return of a line adds up
/// to at most what the line was charged. Resellable units lose the restocking fee (for the
/// fee's reasons), defective units are refunded in full, damaged units in full when the
/// customer reported transit damage and otherwise at the damaged share; wrong items and missing
/// units get nothing. Fees round down, in the customer's favour.
pub fn line_refund(
    policy: &ReturnPolicy,
    line: LineCharge,
    from: i32,
    reason: &str,
    g: &Grades,
) -> i64 {
    let resellable_from = from.max(0);
    let defective_from = resellable_from + g.resellable.max(0);
    let damaged_from = defective_from + g.defective.max(0);
    let resellable = line.value(resellable_from, g.resellable);
    let defective = line.value(defective_from, g.defective);
    let damaged = line.value(damaged_from, g.damaged);
    let fee = if policy.restocking_fee_reasons.iter().any(|r| r == reason) {
        share(resellable, policy.restocking_fee_bps)
    } else {
        0
    };
    let damaged = if reason == "DAMAGED_IN_TRANSIT" {
        damaged
    } else {
        share(damaged, policy.damaged_refund_bps)
    };
    (resellable - fee) + defective + damaged
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
        let line = |charged, quantity| LineCharge { charged, quantity };
        // 3 × 333 = 999; 10 % = 99.9 → fee 99.
        assert_eq!(
            line_refund(&p, line(999, 3), 0, "NO_LONGER_NEEDED", &g),
            900
        );
        assert_eq!(line_refund(&p, line(999, 3), 0, "DEFECTIVE", &g), 999);
        let damaged = Grades {
            damaged: 1,
            defective: 1,
            missing: 1,
            wrong_item: 1,
            ..Grades::default()
        };
        // 4 units charged 4004: the defective unit is the first (1001), the damaged one the
        // second (1001, half of it 500); the wrong item and the missing unit nothing.
        assert_eq!(
            line_refund(&p, line(4004, 4), 0, "WRONG_SIZE", &damaged),
            1001 + 500
        );
        assert_eq!(
            line_refund(&p, line(4004, 4), 0, "DAMAGED_IN_TRANSIT", &damaged),
            2002
        );
    }

    #[test]
    fn a_line_is_refunded_what_it_was_charged_not_its_list_price() {
        let p = ReturnPolicy::default();
        // 3 units at 1250 with 10 % off and 19 % tax: charged 4016 (1338, 1339, 1339).
        let line = LineCharge {
            charged: 4016,
            quantity: 3,
        };
        let one = Grades {
            defective: 1,
            ..Grades::default()
        };
        assert_eq!(line_refund(&p, line, 0, "DEFECTIVE", &one), 1338);
        // The next return of the same line starts after the first one's unit.
        assert_eq!(line_refund(&p, line, 1, "DEFECTIVE", &one), 1339);
        let two = Grades {
            defective: 2,
            ..Grades::default()
        };
        assert_eq!(line_refund(&p, line, 1, "DEFECTIVE", &two), 4016 - 1338);
        // Never past the line's last unit.
        assert_eq!(line_refund(&p, line, 3, "DEFECTIVE", &one), 0);
    }

    #[test]
    fn grades_are_valued_one_after_another() {
        let p = ReturnPolicy {
            restocking_fee_bps: 0,
            damaged_refund_bps: 10_000,
            ..ReturnPolicy::default()
        };
        // 1000 for 3 units: 333, 333, 334; resellable takes unit 0, defective unit 1, damaged
        // unit 2.
        let g = Grades {
            resellable: 1,
            defective: 1,
            damaged: 1,
            ..Grades::default()
        };
        let line = LineCharge {
            charged: 1000,
            quantity: 3,
        };
        assert_eq!(line_refund(&p, line, 0, "WRONG_SIZE", &g), 1000);
        assert_eq!(valued_units(&g), 3);
    }

    proptest::proptest! {
        #[test]
        fn returns_of_a_line_never_refund_more_than_it_was_charged(
            charged in 0i64..1_000_000,
            quantity in 1i32..50,
            parts in proptest::collection::vec((0i32..5, 0i32..5, 0i32..5), 1..6),
        ) {
            let p = ReturnPolicy {
                restocking_fee_bps: 0,
                damaged_refund_bps: 10_000,
                ..ReturnPolicy::default()
            };
            let line = LineCharge { charged, quantity };
            let (mut from, mut refunded) = (0, 0);
            for (resellable, defective, damaged) in parts {
                let g = Grades { resellable, defective, damaged, ..Grades::default() };
                let units = valued_units(&g).min(quantity - from);
                let g = if units < valued_units(&g) { Grades { defective: units, ..Grades::default() } } else { g };
                refunded += line_refund(&p, line, from, "DEFECTIVE", &g);
                from += units;
            }
            proptest::prop_assert!(refunded <= charged);
            if from == quantity {
                proptest::prop_assert_eq!(refunded, charged);
            }
        }
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
