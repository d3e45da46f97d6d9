//! The order cycle across services, in-process through testkit, against real NATS and
//! Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod after_sales;
mod analytics;
mod bad_input;
mod concurrency;
mod cycle;
mod erasure;
mod paths;
mod platform;
mod thin_slice;
mod tls;
mod updates;
