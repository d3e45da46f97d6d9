//! The analytics API over real gRPC and HTTP, against real Postgres and NATS: the other
//! services' events are played onto the test's own subject root as their producers would
//! publish them, with known timestamps, and every figure is asserted exactly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;
mod scenario;

mod archive;
mod cohorts;
mod duplicates;
mod export;
mod kpis;
mod order_updates;
mod privacy;
mod report;
mod validation;
