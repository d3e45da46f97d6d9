//! Postgres access for fulfillment; every function takes a connection so it runs inside the
//! caller's transaction.

pub mod amendments;
pub mod fulfillments;
pub mod parcels;
pub mod returns;
