//! Protobuf ↔ domain for the analytics API: requests are checked field by field (every bad
//! field reported at once) into ranges, bucket sizes and filters; figures go back as
//! `Money`, `Duration` and enum values.

use chrono::{DateTime, TimeZone as _, Utc};
use contracts::analytics::{Granularity as PbGranularity, SalesDimension, TimeRange};
use contracts::common::{Channel, FulfillmentMode, Money};
use runtime::grpc::FieldViolations;

use crate::domain::{self, Dimension, Granularity, Range};

/// The floor of an open-started range for questions without buckets: before any order.
pub fn epoch() -> DateTime<Utc> {
    Utc.timestamp_opt(0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A request's range: start `None` when unset (the earliest data), end `now` when unset.
pub struct AskedRange {
    pub start: Option<DateTime<Utc>>,
    pub end: DateTime<Utc>,
}

impl AskedRange {
    /// The range, an unset start meaning [`epoch`].
    pub fn or_epoch(&self) -> Option<Range> {
        Range::new(self.start.unwrap_or_else(epoch), self.end).ok()
    }
}

pub fn range(
    field: &str,
    range: Option<&TimeRange>,
    now: DateTime<Utc>,
    v: &mut FieldViolations,
) -> AskedRange {
    let mut point = |name: &str, ts: Option<&prost_types::Timestamp>| -> Option<DateTime<Utc>> {
        let ts = ts?;
        let time = contracts::time::from_timestamp(ts)
            // Postgres stores years 4713 BC to 294276 AD; keep to a range it and people use.
            .filter(|t| {
                (epoch()
                    ..Utc
                        .with_ymd_and_hms(10_000, 1, 1, 0, 0, 0)
                        .single()
                        .unwrap_or(now))
                    .contains(t)
            });
        if time.is_none() {
            v.add(
                format!("{field}.{name}"),
                "not a valid time between 1970 and 9999",
            );
        }
        time
    };
    let start = point("start", range.and_then(|r| r.start.as_ref()));
    let end = point("end", range.and_then(|r| r.end.as_ref()));
    let end = end.unwrap_or(now);
    if let Some(start) = start
        && start >= end
    {
        v.add(format!("{field}.end"), "must be after the range start");
    }
    AskedRange { start, end }
}

pub fn granularity(field: &str, value: i32, v: &mut FieldViolations) -> Granularity {
    match PbGranularity::try_from(value) {
        Ok(PbGranularity::Unspecified | PbGranularity::Day) => Granularity::Day,
        Ok(PbGranularity::Hour) => Granularity::Hour,
        Ok(PbGranularity::Week) => Granularity::Week,
        Ok(PbGranularity::Month) => Granularity::Month,
        Err(_) => {
            v.add(field, format!("unknown granularity {value}"));
            Granularity::Day
        }
    }
}

pub fn currency(field: &str, code: &str, default: &str, v: &mut FieldViolations) -> String {
    if code.is_empty() {
        return default.to_owned();
    }
    v.check(
        domain::is_currency_code(code),
        field,
        "must be an ISO 4217 code such as EUR",
    );
    code.to_owned()
}

pub fn channel(field: &str, value: i32, v: &mut FieldViolations) -> i32 {
    v.check(
        Channel::try_from(value).is_ok(),
        field,
        format!("unknown channel {value}"),
    );
    value
}

pub fn fulfillment_mode(field: &str, value: i32, v: &mut FieldViolations) -> i32 {
    v.check(
        FulfillmentMode::try_from(value).is_ok(),
        field,
        format!("unknown fulfillment mode {value}"),
    );
    value
}

pub fn dimension(field: &str, value: i32, v: &mut FieldViolations) -> Dimension {
    match SalesDimension::try_from(value) {
        Ok(SalesDimension::Channel) => Dimension::Channel,
        Ok(SalesDimension::Country) => Dimension::Country,
        Ok(SalesDimension::Region) => Dimension::Region,
        Ok(SalesDimension::Sku) => Dimension::Sku,
        Ok(SalesDimension::Unspecified) => {
            v.add(field, "required: CHANNEL, COUNTRY, REGION or SKU");
            Dimension::Channel
        }
        Err(_) => {
            v.add(field, format!("unknown dimension {value}"));
            Dimension::Channel
        }
    }
}

/// A count limit: 0 means `default`; otherwise 1 to `max`.
pub fn limit(field: &str, value: i32, default: i64, max: i64, v: &mut FieldViolations) -> i64 {
    match i64::from(value) {
        0 => default,
        n if (1..=max).contains(&n) => n,
        _ => {
            v.add(
                field,
                format!("must be 0 (default {default}) or 1 to {max}"),
            );
            default
        }
    }
}

pub fn money(currency: &str, amount_minor: i64) -> Option<Money> {
    Some(Money {
        currency_code: currency.to_owned(),
        amount_minor,
    })
}

/// Seconds (microsecond precision) as a protobuf Duration.
pub fn duration(seconds: f64) -> Option<prost_types::Duration> {
    let micros = (seconds * 1e6).round() as i64;
    Some(prost_types::Duration {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).unwrap_or(0),
    })
}

pub fn timestamp(time: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(contracts::time::to_timestamp(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_microseconds() {
        let d = duration(90.000_001).unwrap();
        assert_eq!((d.seconds, d.nanos), (90, 1_000));
    }

    #[test]
    fn a_range_ending_before_it_starts_is_refused() {
        let now = Utc::now();
        let asked = TimeRange {
            start: timestamp(now),
            end: timestamp(now - chrono::Duration::hours(1)),
        };
        let mut v = FieldViolations::new();
        range("range", Some(&asked), now, &mut v);
        assert_eq!(v.len(), 1);
        let mut v = FieldViolations::new();
        let open = range("range", None, now, &mut v);
        assert!(v.is_empty());
        assert_eq!((open.start, open.end), (None, now));
    }

    #[test]
    fn unknown_enum_values_are_refused() {
        let mut v = FieldViolations::new();
        granularity("granularity", 99, &mut v);
        channel("channel", 42, &mut v);
        dimension("dimension", 0, &mut v);
        limit("limit", -1, 10, 100, &mut v);
        assert_eq!(v.len(), 4);
    }
}
