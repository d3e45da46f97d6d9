//! Postgres access for orders. Every function takes a connection so it can run inside the
//! caller's transaction; SQL lives here and nowhere else.

pub mod catalog;
pub mod invoices;
pub mod orders;
pub mod pricing;
pub mod returns;
pub mod saga;
pub mod shipments;
pub mod timeline;
pub mod updates;
