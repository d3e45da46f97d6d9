//! The double-entry ledger: every money movement is one journal entry of two legs that sum to
//! zero (debits positive, credits negative), over four accounts per payment:
//!
//! | account       | holds                                                                |
//! |---------------|----------------------------------------------------------------------|
//! | `customer`    | the customer's side: minus everything agreed and not given back        |
//! | `receivable`  | authorized (or accepted: COD, a plan) and not yet captured or released |
//! | `cash`        | captured and not refunded: the merchant's money                        |
//! | `written_off` | an installment plan's receivable given up when it defaulted            |
//!
//! So `receivable` equals the open hold and `cash` equals captured minus refunded, and the
//! accounts of a payment always sum to zero.

use crate::domain::payment::Balances;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    Customer,
    Receivable,
    Cash,
    WrittenOff,
}

impl Account {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Receivable => "receivable",
            Self::Cash => "cash",
            Self::WrittenOff => "written_off",
        }
    }
}

/// A money movement as the ledger sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    /// Authorized, COD accepted, plan accepted, transfer received.
    Authorize(i64),
    /// Captured, cash collected, installment charged.
    Capture(i64),
    Void(i64),
    Refund(i64),
    WriteOff(i64),
}

/// One leg of a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    pub account: Account,
    pub amount: i64,
}

/// The journal entry for `movement`: a debit and a credit of the same amount.
pub fn journal(movement: Movement) -> [Leg; 2] {
    let (debit, credit, amount) = match movement {
        Movement::Authorize(a) => (Account::Receivable, Account::Customer, a),
        Movement::Capture(a) => (Account::Cash, Account::Receivable, a),
        Movement::Void(a) => (Account::Customer, Account::Receivable, a),
        Movement::Refund(a) => (Account::Customer, Account::Cash, a),
        Movement::WriteOff(a) => (Account::WrittenOff, Account::Receivable, a),
    };
    [
        Leg {
            account: debit,
            amount,
        },
        Leg {
            account: credit,
            amount: -amount,
        },
    ]
}

/// Applies `movement` to `balances` (checked) and returns its journal entry.
pub fn post(
    balances: &mut Balances,
    movement: Movement,
) -> Result<[Leg; 2], crate::domain::payment::MoveError> {
    match movement {
        Movement::Authorize(a) => balances.authorize(a)?,
        Movement::Capture(a) => balances.capture(a)?,
        Movement::Void(a) => balances.void(a)?,
        Movement::Refund(a) => balances.refund(a)?,
        Movement::WriteOff(a) => balances.write_off(a)?,
    }
    Ok(journal(movement))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn movement() -> impl Strategy<Value = Movement> {
        prop_oneof![
            (1i64..2_000).prop_map(Movement::Authorize),
            (1i64..2_000).prop_map(Movement::Capture),
            (1i64..2_000).prop_map(Movement::Void),
            (1i64..2_000).prop_map(Movement::Refund),
            (1i64..2_000).prop_map(Movement::WriteOff),
        ]
    }

    proptest! {
        /// Whatever is asked, in whatever order: the accepted movements keep the ledger
        /// balanced, its accounts equal to the payment's balances, and the invariants true.
        #[test]
        fn the_ledger_always_balances_and_matches_the_payment(
            amount in 1i64..5_000,
            moves in proptest::collection::vec(movement(), 0..40),
        ) {
            let mut balances = Balances::new(amount);
            let mut accounts: BTreeMap<Account, i64> = BTreeMap::new();
            for m in moves {
                let before = balances;
                match post(&mut balances, m) {
                    Ok(legs) => {
                        prop_assert_eq!(legs.iter().map(|l| l.amount).sum::<i64>(), 0);
                        for leg in legs {
                            *accounts.entry(leg.account).or_default() += leg.amount;
                        }
                    }
                    Err(_) => prop_assert_eq!(before, balances, "a refused move changes nothing"),
                }
                prop_assert_eq!(accounts.values().sum::<i64>(), 0);
                let get = |a| accounts.get(&a).copied().unwrap_or(0);
                prop_assert_eq!(get(Account::Receivable), balances.authorized);
                prop_assert_eq!(get(Account::Cash), balances.captured - balances.refunded);
                prop_assert_eq!(get(Account::WrittenOff), balances.written_off);
                prop_assert!(balances.captured <= balances.authorized_total);
                prop_assert!(balances.refunded <= balances.captured);
                prop_assert!(balances.unauthorized() >= 0);
                prop_assert!(balances.authorized >= 0);
                prop_assert_eq!(
                    balances.authorized + balances.captured + balances.voided + balances.written_off,
                    balances.authorized_total
                );
            }
        }
    }
}
