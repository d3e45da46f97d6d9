//! Amounts as people read them: `{ "EUR", 1250 }` is `12.50 EUR`, `{ "JPY", 500 }` is
//! `500 JPY` — the shared [`contracts::money`] rule (orders' invoices use it too).

pub use contracts::money::format;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_use_the_currency_exponent() {
        assert_eq!(format(1250, "EUR"), "12.50 EUR");
        assert_eq!(format(5, "EUR"), "0.05 EUR");
        assert_eq!(format(500, "JPY"), "500 JPY");
        assert_eq!(format(1234, "KWD"), "1.234 KWD");
        assert_eq!(format(-199, "CNY"), "-1.99 CNY");
        assert_eq!(format(i64::MIN, "EUR"), "-92233720368547758.08 EUR");
    }

    proptest! {
        #[test]
        fn the_digits_read_back_as_the_amount(amount in any::<i64>()) {
            let text = format(amount, "EUR");
            let number = text.trim_end_matches(" EUR").replace('.', "");
            prop_assert_eq!(number.parse::<i128>().ok(), Some(i128::from(amount)));
        }
    }
}
