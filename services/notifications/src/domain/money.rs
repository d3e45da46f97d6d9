//! Amounts as people read them: `{ "EUR", 1250 }` is `12.50 EUR`, `{ "JPY", 500 }` is
//! `500 JPY`. Integer arithmetic only; the number of decimals is the currency's ISO 4217
//! exponent.

/// ISO 4217 minor-unit exponent; 2 unless the currency is known to differ.
fn exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// `12.50 EUR`; a negative amount keeps its sign.
pub fn format(amount_minor: i64, currency: &str) -> String {
    let exp = exponent(currency);
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    if exp == 0 {
        return format!("{sign}{abs} {currency}");
    }
    let unit = 10u64.pow(exp);
    format!(
        "{sign}{}.{:0width$} {currency}",
        abs / unit,
        abs % unit,
        width = exp as usize
    )
}

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
