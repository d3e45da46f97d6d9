//! Money in integer minor units of an ISO 4217 currency; arithmetic is checked and never mixes
//! currencies.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
}

impl Money {
    pub fn new(currency: Currency, minor: i64) -> Self {
        Self { currency, minor }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(currency, 0)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        self.minor
            .checked_add(other.minor)
            .map(|minor| Money::new(self.currency, minor))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_mul(self, factor: u32) -> Result<Money, MoneyError> {
        self.minor
            .checked_mul(i64::from(factor))
            .map(|minor| Money::new(self.currency, minor))
            .ok_or(MoneyError::Overflow)
    }
}

/// The arithmetic property the `money` fuzz target checks on arbitrary bytes (and its corpus
/// test replays): checked addition and multiplication either give the exact result of wide
/// integer arithmetic or refuse — never wrap, never panic, never mix currencies.
pub fn check_arithmetic(data: &[u8]) {
    let word = |at: usize| -> i64 {
        let mut bytes = [0u8; 8];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = data.get(at + i).copied().unwrap_or(0);
        }
        i64::from_le_bytes(bytes)
    };
    let (Some(eur), Some(cny)) = (Currency::parse("EUR"), Currency::parse("CNY")) else {
        return;
    };
    let (a, b) = (word(0), word(8));
    let factor = u32::try_from(word(16) & 0xFFFF_FFFF).unwrap_or(0);
    let other = if data.get(24).is_some_and(|x| x % 2 == 1) {
        cny
    } else {
        eur
    };
    match Money::new(eur, a).checked_add(Money::new(other, b)) {
        Ok(sum) => {
            assert_eq!(other, eur);
            assert_eq!(i128::from(sum.minor), i128::from(a) + i128::from(b));
        }
        Err(MoneyError::CurrencyMismatch(..)) => assert_ne!(other, eur),
        Err(MoneyError::Overflow) => {
            assert!(i64::try_from(i128::from(a) + i128::from(b)).is_err());
        }
    }
    match Money::new(eur, a).checked_mul(factor) {
        Ok(product) => {
            assert_eq!(
                i128::from(product.minor),
                i128::from(a) * i128::from(factor)
            );
        }
        Err(_) => assert!(i64::try_from(i128::from(a) * i128::from(factor)).is_err()),
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The `money` fuzz target's corpus (`fuzz/corpus/money`), replayed on every run.
    #[test]
    fn money_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/money");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            check_arithmetic(&std::fs::read(entry.unwrap().path()).unwrap());
            seen += 1;
        }
        assert!(seen >= 4);
    }

    proptest! {
        #[test]
        fn arithmetic_is_exact_or_refused_on_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..32)) {
            check_arithmetic(&data);
        }
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(Currency::parse("EUR").is_some());
        assert!(Currency::parse("eur").is_none());
        assert!(Currency::parse("EU").is_none());
        assert!(Currency::parse("EURO").is_none());
    }

    #[test]
    fn different_currencies_never_add() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(
            Money::new(eur(), 1).checked_add(Money::new(usd, 1)),
            Err(MoneyError::CurrencyMismatch(eur(), usd))
        );
    }

    proptest! {
        #[test]
        fn addition_is_exact_or_reports_overflow(a in any::<i64>(), b in any::<i64>()) {
            let sum = Money::new(eur(), a).checked_add(Money::new(eur(), b));
            match a.checked_add(b) {
                Some(expected) => prop_assert_eq!(sum.unwrap().minor, expected),
                None => prop_assert_eq!(sum, Err(MoneyError::Overflow)),
            }
        }

        #[test]
        fn multiplying_by_a_quantity_equals_repeated_addition(price in 0i64..1_000_000, qty in 1u32..50) {
            let product = Money::new(eur(), price).checked_mul(qty).unwrap();
            let mut sum = Money::zero(eur());
            for _ in 0..qty {
                sum = sum.checked_add(Money::new(eur(), price)).unwrap();
            }
            prop_assert_eq!(product, sum);
        }
    }
}
