//! The payments API and event handlers over real gRPC, NATS and Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod risk;
