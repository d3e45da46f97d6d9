//! What every ordercycle service runs on.
//!
//! - [`config`]: `OC_…` environment variables with developer-machine defaults.
//! - [`telemetry`]: logs, OpenTelemetry spans, W3C trace context for gRPC and NATS;
//!   [`json_logs`]: the JSON log lines (span fields, trace ids, e-mails redacted).
//! - [`clock`]: the one clock, scalable for demos and tests.
//! - [`auth`]: the [`auth::Actor`] every RPC runs as (JWT, or dev mode).
//! - [`db`] and [`nats`]: a service's own database (created, migrated) and its stream.
//! - [`grpc`]: validation errors, internal-error mapping, server layers; [`pan`]: the card-number
//!   guard every service applies to free text (DESIGN §8: no card number is ever stored).
//! - [`host`]: [`ServiceDef`] → [`launch`] → [`App::run_until`]; health, reflection, the admin
//!   HTTP server ([`admin`]) and the ordered shutdown.
//!
//! Business rules never live here; the event plumbing (outbox, inbox, consumers, timers) is in
//! the `messaging` crate, built on these pieces.

pub mod admin;
pub mod admission;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod grpc;
pub mod host;
pub mod json_logs;
pub mod nats;
pub mod pan;
pub mod shutdown;
pub mod telemetry;
pub mod tls;

pub use auth::{Actor, Role};
pub use clock::Clock;
pub use config::{ServiceSettings, Settings};
pub use host::{App, BoxError, BoxFuture, Host, HostError, ServiceDef, launch};
pub use nats::Subjects;
