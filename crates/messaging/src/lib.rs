//! Reliable events between services: nothing lost, nothing applied twice, whatever crashes
//! where.
//!
//! - [`outbox`]: events are rows written in the transaction of the state change; the relay
//!   publishes them to JetStream (`Nats-Msg-Id` = event id, CloudEvents headers) and marks them
//!   after the ack.
//! - [`consumer`]: durable pull consumers; each event is applied in one transaction together
//!   with its id in the inbox, then acked; retries with backoff; poison to [`dlq`].
//! - [`timers`]: deadlines as rows fired by a `SKIP LOCKED` poller on the service clock.
//! - [`envelope`]: the wire format; [`failpoint`]: named crash points for fault tests;
//!   [`bus`]: all of it wired into a service's `runtime::Host`.
//! - [`privacy`]: personal-data erasure, the plumbing every service honours
//!   `CustomerDataErased` with (pseudonyms, rewriting rows and payloads, `oc_erasures`).
//!
//! Tables live in `migrations/` and are applied with every service's own migrations.

pub mod bus;
pub mod consumer;
pub mod dlq;
pub mod envelope;
pub mod failpoint;
pub mod metrics;
pub mod outbox;
pub mod privacy;
pub mod timers;

pub use bus::Bus;
pub use consumer::{Consumer, Handler, HandlerError};
pub use envelope::Envelope;
pub use outbox::{Outbox, Relay};
pub use timers::{Timer, TimerHandler};

/// The messaging tables (`oc_outbox`, `oc_inbox`, `oc_timers`, `oc_erasures`), versions 1–999.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
