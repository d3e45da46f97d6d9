//! The shape of a question: a half-open time range, the size of its buckets, the stage of the
//! cycle or the dimension a figure is split by.

use chrono::{DateTime, Utc};

/// `[start, end)`, start before end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the range must end after it starts")]
pub struct EmptyRange;

impl Range {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, EmptyRange> {
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(EmptyRange)
        }
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }
}

/// Size of the buckets of a trend. Weeks start on Monday (as Postgres' `date_trunc` has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
    Week,
    Month,
}

/// A trend may have at most this many buckets: enough for ten years of days or a year of
/// hours, and a bound on the answer's size.
pub const MAX_BUCKETS: i64 = 10_000;

/// Why a trend with more buckets is refused.
pub const MAX_BUCKETS_ERROR: &str =
    "the range has more than 10000 buckets of this size: choose a larger granularity";

impl Granularity {
    /// The `date_trunc` field name.
    pub fn as_pg(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// An upper bound on the buckets `range` spans (months counted as 28 days).
    pub fn bucket_bound(self, range: &Range) -> i64 {
        let seconds = (range.end - range.start).num_seconds();
        let size = match self {
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 7 * 86_400,
            Self::Month => 28 * 86_400,
        };
        // +2: a partial bucket at each end.
        seconds / size + 2
    }
}

/// A stage of the order cycle; the discriminants are `CycleStage`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    PlacedToConfirmed = 1,
    HeldToDecided = 2,
    ConfirmedToDispatched = 3,
    HandedOverToDelivered = 4,
    ReadyToPickedUp = 5,
    DeliveredToAccepted = 6,
    PlacedToDelivered = 7,
    PlacedToCompleted = 8,
    ReturnRequestedToClosed = 9,
}

impl Stage {
    /// In cycle order.
    pub const ALL: [Stage; 9] = [
        Self::PlacedToConfirmed,
        Self::HeldToDecided,
        Self::ConfirmedToDispatched,
        Self::HandedOverToDelivered,
        Self::ReadyToPickedUp,
        Self::DeliveredToAccepted,
        Self::PlacedToDelivered,
        Self::PlacedToCompleted,
        Self::ReturnRequestedToClosed,
    ];

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::PlacedToConfirmed => "placed → confirmed",
            Self::HeldToDecided => "held → decided",
            Self::ConfirmedToDispatched => "confirmed → dispatched",
            Self::HandedOverToDelivered => "handed over → delivered",
            Self::ReadyToPickedUp => "ready → picked up",
            Self::DeliveredToAccepted => "delivered → accepted",
            Self::PlacedToDelivered => "placed → delivered",
            Self::PlacedToCompleted => "placed → completed",
            Self::ReturnRequestedToClosed => "return requested → closed",
        }
    }

    /// Stages that follow one another, one order through the cycle (the others overlap them).
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            Self::PlacedToConfirmed
                | Self::ConfirmedToDispatched
                | Self::HandedOverToDelivered
                | Self::DeliveredToAccepted
        )
    }
}

/// What a sales breakdown groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Channel,
    Country,
    Region,
    Sku,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn a_range_must_end_after_it_starts() {
        assert!(Range::new(at(2, 0), at(1, 0)).is_err());
        assert!(Range::new(at(1, 0), at(1, 0)).is_err());
        let range = Range::new(at(1, 0), at(2, 0)).unwrap();
        assert!(range.contains(at(1, 0)));
        assert!(!range.contains(at(2, 0)));
    }

    #[test]
    fn bucket_bounds_grow_with_the_range_and_shrink_with_the_bucket() {
        let range = Range::new(at(1, 0), at(3, 0)).unwrap();
        assert_eq!(Granularity::Hour.bucket_bound(&range), 50);
        assert_eq!(Granularity::Day.bucket_bound(&range), 4);
        assert!(Granularity::Month.bucket_bound(&range) >= 2);
    }

    #[test]
    fn stage_codes_round_trip_in_cycle_order() {
        for (i, stage) in Stage::ALL.into_iter().enumerate() {
            assert_eq!(stage.code(), i as i32 + 1);
            assert_eq!(Stage::from_code(stage.code()), Some(stage));
        }
        assert_eq!(Stage::from_code(0), None);
    }
}
