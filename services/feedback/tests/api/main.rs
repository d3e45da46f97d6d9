//! The feedback API over real gRPC, against real Postgres and NATS; orders' events are played
//! onto the test's own subject root as orders would publish them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod auth;
mod cases;
mod events;
mod privacy;
mod reviews;
mod surveys;
