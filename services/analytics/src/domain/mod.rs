//! The pure part of analytics: what a question may ask (time ranges, bucket sizes, dimensions)
//! and how figures are derived from counts (rates, NPS, money averages). No I/O, no protobuf.

pub mod query;
pub mod stats;

pub use query::{Dimension, Granularity, MAX_BUCKETS, MAX_BUCKETS_ERROR, Range, Stage};
pub use stats::{Histogram, Nps, average_floor, month_index, ratio};

/// An ISO 4217 alphabetic code: three upper-case ASCII letters.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(is_currency_code("EUR"));
        assert!(!is_currency_code("eur"));
        assert!(!is_currency_code("EURO"));
        assert!(!is_currency_code(""));
    }
}
