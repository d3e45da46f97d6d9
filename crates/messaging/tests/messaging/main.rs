//! The guarantees of the messaging crate, against real NATS and Postgres: published only after
//! commit, no double effect after a relay crash or a redelivery (with JetStream's duplicate
//! window out of the way), poison events dead-lettered while later ones flow, and events
//! written during a NATS outage delivered once it is back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod probe;

mod batch;
mod dead_letter;
mod idempotence;
mod outage;
mod outbox;
mod timers;
