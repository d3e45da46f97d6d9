//! The inventory API and event handlers over real gRPC, NATS and Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod amendments;
mod auth;
mod catalog;
mod concurrency;
mod low_stock;
mod replenishment;
mod reservations;
mod stock;
mod warehouses;
mod watch;
