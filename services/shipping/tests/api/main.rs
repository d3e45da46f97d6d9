//! The shipping API over real gRPC and HTTP, against real Postgres and NATS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod create_shipment;
mod privacy;
mod queries;
mod returns;
mod simulator;
mod tracking;
mod watch;
mod webhooks;
