//! Notifications: tells customers about each milestone of their orders, and staff about what
//! needs a person, by e-mail, SMS and app push.
//!
//! Events come in through [`events`] (one consumer per subject, plus a watcher of the
//! dead-letter stream): each handler decides the message from [`domain::messages`], renders it
//! per locale with [`templates`], lets [`domain::plan`] pick channels, recipients and a time
//! from the customer's preferences (quiet hours, muted topics, channels per topic), and records
//! one notification row per channel and recipient in the event's own transaction ([`store`]).
//! [`dispatch`] then sends due rows through the [`channels`] (SMTP, SMS gateway, push webhook),
//! retrying with backoff and giving up after the configured attempts. Every message carries an
//! idempotency key from its event, channel and recipient — the e-mail's `Message-ID`, the HTTP
//! `Idempotency-Key` — so a resend after a crash can be dropped by the receiver, and the inbox
//! plus one row per key mean a redelivered event sends nothing new.
//!
//! [`grpc`] serves preferences and the delivery log; [`app`] wires everything to the host;
//! [`config`] lists the `OC_NOTIFICATIONS_…` settings. Logs name ids, never addresses, phone
//! numbers or tokens.

pub mod app;
pub mod channels;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod privacy;
pub mod store;
pub mod templates;

use runtime::{BoxError, BoxFuture, Host, ServiceDef};

/// This service's migrations (the messaging tables are applied with them).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "notifications",
    migrations: &[&messaging::MIGRATOR, &MIGRATOR],
    build,
};

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(app::build(host))
}
