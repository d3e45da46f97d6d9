#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The notifications service over its real interfaces: events in through NATS, e-mail out to
//! an SMTP server on loopback, SMS and push out to an HTTP gateway on loopback, preferences
//! and the delivery log over gRPC, rows in Postgres.

mod customers;
mod delivery;
mod fakes;
mod harness;
mod order_updates;
mod preferences;
mod privacy;
mod staff;
