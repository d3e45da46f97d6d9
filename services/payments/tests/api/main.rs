//! The payments API and event handlers over real gRPC, NATS and Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod amendments;
mod bank_transfer;
mod blocklist;
mod card;
mod cash_on_delivery;
mod helpers;
mod installments;
mod privacy;
mod risk;
mod validation;
mod velocity;
