//! The orders API over real gRPC, against real Postgres and NATS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod auth;
mod cancel;
mod history;
mod invoices;
mod place_order;
mod privacy;
mod receipt;
mod return_refunds;
mod returns;
mod review;
mod saga;
mod totals;
mod updates;
