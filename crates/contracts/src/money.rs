//! How people read a `Money`: `{ "EUR", 1250 }` is `12.50 EUR`, `{ "JPY", 500 }` is `500 JPY`.
//! Integer arithmetic only; the number of decimals is the currency's ISO 4217 exponent. Shared
//! because more than one service shows amounts to people (notifications' messages, orders'
//! invoices).

/// ISO 4217 minor-unit exponent; 2 unless the currency is known to differ.
pub fn exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// The amount alone, `12.50` (`-1.99` for a negative amount), in the currency's decimals.
pub fn decimal(amount_minor: i64, currency: &str) -> String {
    let exp = exponent(currency);
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    if exp == 0 {
        return format!("{sign}{abs}");
    }
    let unit = 10u64.pow(exp);
    format!(
        "{sign}{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = exp as usize
    )
}

/// `12.50 EUR`; a negative amount keeps its sign.
pub fn format(amount_minor: i64, currency: &str) -> String {
    format!("{} {currency}", decimal(amount_minor, currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_use_the_currency_exponent() {
        assert_eq!(format(1250, "EUR"), "12.50 EUR");
        assert_eq!(format(5, "EUR"), "0.05 EUR");
        assert_eq!(format(500, "JPY"), "500 JPY");
        assert_eq!(format(1234, "KWD"), "1.234 KWD");
        assert_eq!(format(-199, "CNY"), "-1.99 CNY");
        assert_eq!(decimal(-5, "EUR"), "-0.05");
        assert_eq!(format(i64::MIN, "EUR"), "-92233720368547758.08 EUR");
    }
}
