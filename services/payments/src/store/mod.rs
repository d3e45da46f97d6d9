//! Postgres access for payments; functions take a connection so they run in the caller's
//! transaction. No business rule lives here: the rules are in `domain`.

pub mod amendments;
pub mod blocklist;
pub mod parked;
pub mod payments;
pub mod plans;
pub mod requests;
pub mod risk;
pub mod transactions;
