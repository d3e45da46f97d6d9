//! Fulfillment over real gRPC, NATS and Postgres, with the real shipping service assigning
//! carriers, tracking numbers and labels.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod amendments;
mod pickup;
mod privacy;
mod returns;
mod ship;
