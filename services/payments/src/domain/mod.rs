//! The payments domain. Pure: no I/O, no protobuf.
//!
//! - [`payment`]: methods, statuses and the balances every money move is checked against.
//! - [`ledger`]: the double-entry journal entry of each move.
//! - [`installments`]: splitting a total and scheduling the plan.
//! - [`risk`] and [`blocklist`]: scoring a placed order.
//! - [`money`], [`pan`]: amounts, and spotting card numbers so none is kept.

pub mod blocklist;
pub mod installments;
pub mod ledger;
pub mod money;
pub mod payment;
pub mod risk;
