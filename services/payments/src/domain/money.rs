//! Money in integer minor units of an ISO 4217 currency. Payments never mixes currencies: one
//! payment has one currency, and every amount moved on it is checked against it.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// ISO 4217's "no currency", for a stored value that cannot be read.
    pub const UNKNOWN: Currency = Currency(*b"XXX");

    /// Three upper-case ASCII letters (`EUR`, `CNY`).
    pub fn parse(code: &str) -> Option<Self> {
        let bytes = code.as_bytes();
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_uppercase) {
            Some(Self([bytes[0], bytes[1], bytes[2]]))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub currency: Currency,
    pub minor: i64,
}

impl Money {
    pub fn new(currency: Currency, minor: i64) -> Self {
        Self { currency, minor }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(Currency::parse("EUR").is_some());
        assert!(Currency::parse("eur").is_none());
        assert!(Currency::parse("EURO").is_none());
    }
}
