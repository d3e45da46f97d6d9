//! A payment's state: its method, its balances (authorized, captured, voided, refunded, written
//! off) and the moves between them. Every move is checked here, so captured never exceeds what
//! was authorized and refunded never exceeds what was captured, whoever asks.
//!
//! An order update after confirmation *amends* the payment ([`Balances::amend`]): from then on
//! it covers a new amount, before anything is captured. The amount is re-based on it, so what
//! was voided until then (and the difference an amendment voids) is already off the amount and
//! does not count against it a second time (`voided_in_amount`).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Card,
    Wallet,
    BankTransfer,
    CashOnDelivery,
    Installments,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "CARD",
            Self::Wallet => "WALLET",
            Self::BankTransfer => "BANK_TRANSFER",
            Self::CashOnDelivery => "CASH_ON_DELIVERY",
            Self::Installments => "INSTALLMENTS",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Card,
            Self::Wallet,
            Self::BankTransfer,
            Self::CashOnDelivery,
            Self::Installments,
        ]
        .into_iter()
        .find(|m| m.as_str() == raw)
    }

    /// Card and wallet go through the provider's authorize / capture; the others do not hold
    /// funds at a provider (installments charge each installment on its own).
    pub fn uses_provider_hold(self) -> bool {
        matches!(self, Self::Card | Self::Wallet)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Authorized,
    Declined,
    PartiallyCaptured,
    Captured,
    Voided,
    PartiallyRefunded,
    Refunded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Authorized => "AUTHORIZED",
            Self::Declined => "DECLINED",
            Self::PartiallyCaptured => "PARTIALLY_CAPTURED",
            Self::Captured => "CAPTURED",
            Self::Voided => "VOIDED",
            Self::PartiallyRefunded => "PARTIALLY_REFUNDED",
            Self::Refunded => "REFUNDED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Authorized,
            Self::Declined,
            Self::PartiallyCaptured,
            Self::Captured,
            Self::Voided,
            Self::PartiallyRefunded,
            Self::Refunded,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineReason {
    ProviderDeclined,
    ProviderUnavailable,
    PlanRejected,
    Blocklisted,
    BankTransferExpired,
    MethodNotAllowed,
}

impl DeclineReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProviderDeclined => "PROVIDER_DECLINED",
            Self::ProviderUnavailable => "PROVIDER_UNAVAILABLE",
            Self::PlanRejected => "PLAN_REJECTED",
            Self::Blocklisted => "BLOCKLISTED",
            Self::BankTransferExpired => "BANK_TRANSFER_EXPIRED",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::ProviderDeclined,
            Self::ProviderUnavailable,
            Self::PlanRejected,
            Self::Blocklisted,
            Self::BankTransferExpired,
            Self::MethodNotAllowed,
        ]
        .into_iter()
        .find(|r| r.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    Authorization,
    Reauthorization,
    Capture,
    Void,
    Refund,
    CashCollection,
    BankTransfer,
    /// An installment plan's receivable given up when the plan defaulted (ledger only).
    WriteOff,
}

impl TransactionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorization => "AUTHORIZATION",
            Self::Reauthorization => "REAUTHORIZATION",
            Self::Capture => "CAPTURE",
            Self::Void => "VOID",
            Self::Refund => "REFUND",
            Self::CashCollection => "CASH_COLLECTION",
            Self::BankTransfer => "BANK_TRANSFER",
            Self::WriteOff => "WRITE_OFF",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Authorization,
            Self::Reauthorization,
            Self::Capture,
            Self::Void,
            Self::Refund,
            Self::CashCollection,
            Self::BankTransfer,
            Self::WriteOff,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }
}

/// Why a move was refused; the message is meant for an operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("the amount must be positive")]
    NotPositive,
    #[error("{asked} is more than the {available} still authorized and not captured or voided")]
    ExceedsAuthorized { asked: i64, available: i64 },
    #[error("{asked} is more than the {available} not yet authorized")]
    ExceedsOwed { asked: i64, available: i64 },
    #[error("{asked} is more than the {available} captured and not yet refunded")]
    ExceedsRefundable { asked: i64, available: i64 },
    #[error("the amount must not be negative")]
    Negative,
    #[error("{captured} was captured already: a payment is amended only before its first capture")]
    AlreadyCaptured { captured: i64 },
}

/// What an amendment does to the open hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amendment {
    /// The payment covers the amount already.
    Unchanged,
    /// The hold must grow by this much: authorized for the difference.
    Increase(i64),
    /// This much of the hold must be released: voided.
    Decrease(i64),
}

/// The money on one payment, in minor units of its currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balances {
    /// What the order owes: its total, or the amount of the last amendment.
    pub amount: i64,
    /// Authorized and not yet captured, voided or written off (the open hold).
    pub authorized: i64,
    /// Everything ever authorized (a re-authorization replaces a hold, it adds nothing).
    pub authorized_total: i64,
    pub captured: i64,
    pub voided: i64,
    pub refunded: i64,
    pub written_off: i64,
    /// Of `voided`, what the last amendment already took off `amount` (the voids before it and
    /// the difference it voided), so that it is not owed less twice.
    pub voided_in_amount: i64,
}

impl Balances {
    pub fn new(amount: i64) -> Self {
        Self {
            amount,
            ..Self::default()
        }
    }

    /// Not yet authorized, voided or written off of what is owed.
    pub fn unauthorized(&self) -> i64 {
        self.amount - (self.authorized_total - self.voided_in_amount)
    }

    /// What the payment covers: the amount less what was voided since it was set (cancelled
    /// lines) and what was written off. Captures settle the payment when they reach it.
    pub fn covered(&self) -> i64 {
        self.amount - (self.voided - self.voided_in_amount) - self.written_off
    }

    /// Re-bases the payment on `target`, what it covers from now on, and says how the hold
    /// must change; only before anything is captured. The caller then authorizes the increase
    /// (`Movement::Authorize`) or voids the decrease (`Movement::Void`) on these balances.
    pub fn amend(&mut self, target: i64) -> Result<Amendment, MoveError> {
        if target < 0 {
            return Err(MoveError::Negative);
        }
        if self.captured > 0 {
            return Err(MoveError::AlreadyCaptured {
                captured: self.captured,
            });
        }
        let covered = self.covered();
        self.amount = target;
        self.voided_in_amount = self.voided;
        Ok(match target.cmp(&covered) {
            std::cmp::Ordering::Equal => Amendment::Unchanged,
            std::cmp::Ordering::Greater => Amendment::Increase(target - covered),
            std::cmp::Ordering::Less => {
                // The void that follows adds this to `voided`: already off the new amount.
                self.voided_in_amount += covered - target;
                Amendment::Decrease(covered - target)
            }
        })
    }

    pub fn refundable(&self) -> i64 {
        self.captured - self.refunded
    }

    pub fn authorize(&mut self, amount: i64) -> Result<(), MoveError> {
        positive(amount)?;
        if amount > self.unauthorized() {
            return Err(MoveError::ExceedsOwed {
                asked: amount,
                available: self.unauthorized(),
            });
        }
        self.authorized += amount;
        self.authorized_total += amount;
        Ok(())
    }

    pub fn capture(&mut self, amount: i64) -> Result<(), MoveError> {
        self.take_from_hold(amount)?;
        self.captured += amount;
        Ok(())
    }

    pub fn void(&mut self, amount: i64) -> Result<(), MoveError> {
        self.take_from_hold(amount)?;
        self.voided += amount;
        Ok(())
    }

    pub fn write_off(&mut self, amount: i64) -> Result<(), MoveError> {
        self.take_from_hold(amount)?;
        self.written_off += amount;
        Ok(())
    }

    pub fn refund(&mut self, amount: i64) -> Result<(), MoveError> {
        positive(amount)?;
        if amount > self.refundable() {
            return Err(MoveError::ExceedsRefundable {
                asked: amount,
                available: self.refundable(),
            });
        }
        self.refunded += amount;
        Ok(())
    }

    fn take_from_hold(&mut self, amount: i64) -> Result<(), MoveError> {
        positive(amount)?;
        if amount > self.authorized {
            return Err(MoveError::ExceedsAuthorized {
                asked: amount,
                available: self.authorized,
            });
        }
        self.authorized -= amount;
        Ok(())
    }

    /// Everything owed is captured: the captures reach what the payment covers (the amount
    /// less what was voided for cancelled lines), and something was captured.
    pub fn fully_captured(&self) -> bool {
        self.captured > 0 && self.captured >= self.covered()
    }

    /// The status these balances show, for a payment that is neither pending nor declined.
    pub fn status(&self) -> Status {
        if self.refunded > 0 {
            if self.refunded == self.captured && self.authorized == 0 {
                Status::Refunded
            } else {
                Status::PartiallyRefunded
            }
        } else if self.captured > 0 {
            if self.authorized == 0 {
                Status::Captured
            } else {
                Status::PartiallyCaptured
            }
        } else if self.authorized == 0 && self.voided > 0 {
            Status::Voided
        } else {
            Status::Authorized
        }
    }
}

fn positive(amount: i64) -> Result<(), MoveError> {
    if amount > 0 {
        Ok(())
    } else {
        Err(MoveError::NotPositive)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_captures_then_a_void_of_the_rest_settle_the_payment() {
        let mut b = Balances::new(1000);
        b.authorize(1000).unwrap();
        b.capture(600).unwrap();
        assert_eq!(b.status(), Status::PartiallyCaptured);
        assert!(!b.fully_captured());
        b.void(400).unwrap();
        assert_eq!(b.status(), Status::Captured);
        assert!(b.fully_captured());
    }

    #[test]
    fn nothing_is_captured_beyond_the_hold_or_refunded_beyond_the_captures() {
        let mut b = Balances::new(1000);
        b.authorize(1000).unwrap();
        assert_eq!(
            b.capture(1001),
            Err(MoveError::ExceedsAuthorized {
                asked: 1001,
                available: 1000
            })
        );
        b.capture(1000).unwrap();
        assert!(matches!(
            b.void(1),
            Err(MoveError::ExceedsAuthorized { .. })
        ));
        b.refund(300).unwrap();
        assert_eq!(b.status(), Status::PartiallyRefunded);
        assert!(matches!(
            b.refund(701),
            Err(MoveError::ExceedsRefundable { .. })
        ));
        b.refund(700).unwrap();
        assert_eq!(b.status(), Status::Refunded);
    }

    #[test]
    fn a_whole_void_before_any_capture_is_voided() {
        let mut b = Balances::new(500);
        b.authorize(500).unwrap();
        b.void(500).unwrap();
        assert_eq!(b.status(), Status::Voided);
        assert!(!b.fully_captured());
    }

    /// Applies an amendment the way the movements do: the increase authorized, the decrease
    /// voided.
    fn amend(b: &mut Balances, target: i64) -> Amendment {
        let change = b.amend(target).unwrap();
        match change {
            Amendment::Increase(d) => b.authorize(d).unwrap(),
            Amendment::Decrease(d) => b.void(d).unwrap(),
            Amendment::Unchanged => {}
        }
        change
    }

    #[test]
    fn an_amended_payment_settles_when_the_captures_reach_the_new_amount() {
        let mut b = Balances::new(1000);
        b.authorize(1000).unwrap();
        assert_eq!(amend(&mut b, 1300), Amendment::Increase(300));
        assert_eq!((b.amount, b.authorized, b.covered()), (1300, 1300, 1300));
        assert_eq!(amend(&mut b, 800), Amendment::Decrease(500));
        assert_eq!((b.amount, b.authorized, b.voided), (800, 800, 500));
        assert_eq!(b.covered(), 800);
        assert_eq!(b.status(), Status::Authorized);
        b.capture(500).unwrap();
        assert!(!b.fully_captured());
        b.capture(300).unwrap();
        assert!(b.fully_captured());
        assert_eq!(b.status(), Status::Captured);
    }

    #[test]
    fn an_amendment_after_a_void_of_cancelled_lines_covers_exactly_its_amount() {
        let mut b = Balances::new(1000);
        b.authorize(1000).unwrap();
        b.void(200).unwrap();
        assert_eq!(b.covered(), 800);
        assert_eq!(amend(&mut b, 800), Amendment::Unchanged);
        assert_eq!(amend(&mut b, 900), Amendment::Increase(100));
        assert_eq!((b.covered(), b.authorized, b.unauthorized()), (900, 900, 0));
    }

    #[test]
    fn nothing_is_amended_after_a_capture_or_below_zero() {
        let mut b = Balances::new(1000);
        b.authorize(1000).unwrap();
        assert_eq!(b.amend(-1), Err(MoveError::Negative));
        b.capture(100).unwrap();
        let before = b;
        assert_eq!(
            b.amend(2000),
            Err(MoveError::AlreadyCaptured { captured: 100 })
        );
        assert_eq!(b, before);
    }

    proptest::proptest! {
        /// Whatever amendments come first, the hold then equals the last amount, and the
        /// payment settles exactly when the captures reach it.
        #[test]
        fn after_any_amendments_the_captures_of_the_last_amount_settle(
            amount in 1i64..5_000,
            targets in proptest::collection::vec(0i64..10_000, 0..8),
            parts in 1i64..5,
        ) {
            let mut b = Balances::new(amount);
            b.authorize(amount).unwrap();
            for target in &targets {
                amend(&mut b, *target);
                proptest::prop_assert_eq!(b.authorized, *target);
                proptest::prop_assert_eq!(b.covered(), *target);
                proptest::prop_assert_eq!(b.unauthorized(), 0);
                proptest::prop_assert_eq!(
                    b.authorized + b.captured + b.voided + b.written_off,
                    b.authorized_total
                );
            }
            let last = b.amount;
            let share = last / parts;
            for _ in 1..parts {
                if share > 0 {
                    b.capture(share).unwrap();
                    proptest::prop_assert!(!b.fully_captured());
                }
            }
            if b.authorized > 0 {
                b.capture(b.authorized).unwrap();
                proptest::prop_assert!(b.fully_captured());
                proptest::prop_assert_eq!(b.captured, last);
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for m in [
            "CARD",
            "WALLET",
            "BANK_TRANSFER",
            "CASH_ON_DELIVERY",
            "INSTALLMENTS",
        ] {
            assert_eq!(Method::parse(m).unwrap().as_str(), m);
        }
        assert_eq!(Status::parse("CAPTURED"), Some(Status::Captured));
        assert_eq!(
            TransactionKind::parse("WRITE_OFF"),
            Some(TransactionKind::WriteOff)
        );
        assert_eq!(
            DeclineReason::parse("PLAN_REJECTED"),
            Some(DeclineReason::PlanRejected)
        );
    }
}
