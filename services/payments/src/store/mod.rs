//! Postgres access for payments; functions take a connection so they run in the caller's
//! transaction.

pub mod risk;
