//! Installment plans: how a total splits into 3, 6 or 12 payments, when each is due, and the
//! plan's life (ACTIVE → PAID_OFF or DEFAULTED; CANCELLED when the order is cancelled).

use chrono::{DateTime, Months, Utc};

pub const ALLOWED_COUNTS: [i32; 3] = [3, 6, 12];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanStatus {
    Active,
    PaidOff,
    Defaulted,
    Cancelled,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::PaidOff => "PAID_OFF",
            Self::Defaulted => "DEFAULTED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Active,
            Self::PaidOff,
            Self::Defaulted,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallmentStatus {
    Scheduled,
    Captured,
    Overdue,
    Cancelled,
}

impl InstallmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "SCHEDULED",
            Self::Captured => "CAPTURED",
            Self::Overdue => "OVERDUE",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Scheduled,
            Self::Captured,
            Self::Overdue,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// How far apart installments are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Calendar months (the product: "monthly payments").
    Monthly,
    /// A fixed duration (demos and tests on a fast clock).
    Every(chrono::Duration),
}

/// Why a plan cannot be offered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0} installments are not offered (3, 6 or 12)")]
    Count(i32),
    #[error("each installment would be below the minimum of {min} minor units")]
    TooSmall { min: i64 },
}

/// Splits `total` into `count` amounts that add up to it exactly. They differ by at most one
/// minor unit: the remainder of the division goes one unit each to the first installments, so
/// the earliest payments carry it (deterministic for the same inputs).
pub fn split(total: i64, count: i32, min_installment: i64) -> Result<Vec<i64>, PlanError> {
    if !ALLOWED_COUNTS.contains(&count) {
        return Err(PlanError::Count(count));
    }
    let n = i64::from(count);
    let base = total / n;
    if base < min_installment.max(1) {
        return Err(PlanError::TooSmall {
            min: min_installment.max(1),
        });
    }
    let remainder = total - base * n;
    Ok((0..n)
        .map(|i| if i < remainder { base + 1 } else { base })
        .collect())
}

/// When installment `number` (1-based) falls due; the first is due at `start`.
pub fn due_at(start: DateTime<Utc>, number: i32, interval: Interval) -> DateTime<Utc> {
    let steps = u32::try_from(number.saturating_sub(1)).unwrap_or(0);
    match interval {
        Interval::Monthly => start
            .checked_add_months(Months::new(steps))
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
        Interval::Every(every) => every
            .checked_mul(i32::try_from(steps).unwrap_or(i32::MAX))
            .and_then(|d| start.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_first_installments_carry_the_remainder() {
        assert_eq!(split(1000, 3, 1).unwrap(), vec![334, 333, 333]);
        assert_eq!(
            split(1004, 6, 1).unwrap(),
            vec![168, 168, 167, 167, 167, 167]
        );
        assert_eq!(split(1200, 12, 1).unwrap(), vec![100; 12]);
    }

    #[test]
    fn only_three_six_or_twelve_and_not_too_small() {
        assert_eq!(split(1000, 4, 1), Err(PlanError::Count(4)));
        assert_eq!(split(100, 12, 10), Err(PlanError::TooSmall { min: 10 }));
    }

    #[test]
    fn monthly_schedules_follow_the_calendar() {
        let start = DateTime::parse_from_rfc3339("2026-01-31T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(due_at(start, 1, Interval::Monthly), start);
        assert_eq!(
            due_at(start, 2, Interval::Monthly).to_rfc3339(),
            "2026-02-28T10:00:00+00:00"
        );
        assert_eq!(
            due_at(start, 3, Interval::Every(chrono::Duration::hours(1))),
            start + chrono::Duration::hours(2)
        );
    }

    proptest! {
        #[test]
        fn installments_always_add_up_to_the_total(
            total in 1i64..10_000_000_000,
            count in prop::sample::select(ALLOWED_COUNTS.to_vec()),
        ) {
            if let Ok(parts) = split(total, count, 1) {
                prop_assert_eq!(parts.len(), usize::try_from(count).unwrap());
                prop_assert_eq!(parts.iter().sum::<i64>(), total);
                let max = parts.iter().max().copied().unwrap();
                let min = parts.iter().min().copied().unwrap();
                prop_assert!(max - min <= 1);
                prop_assert!(parts.windows(2).all(|w| w[0] >= w[1]), "earliest carry the remainder");
                prop_assert!(min >= 1);
            } else {
                prop_assert!(total < i64::from(count));
            }
        }
    }
}
