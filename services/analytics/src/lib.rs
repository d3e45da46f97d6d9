//! Analytics: the order archive, KPIs and trends over every event of the platform.
//!
//! Analytics only observes (DESIGN §2a). Every fact it subscribes to goes through one generic
//! handler in [`events`]: the event is kept as it arrived in `raw_events` (its own history —
//! streams keep a limited one) and projected by [`events::project`] into read models (an order
//! fact table with every milestone, and tables per payment, fulfillment, parcel, shipment,
//! return, survey, review, case) in the same transaction as the inbox record, so a redelivered
//! event counts once. Projections are upserts keyed by each fact's natural id, so the same fact
//! under a second event id also counts once, and they accept events in any order.
//! [`rebuild()`] truncates the read models and replays `raw_events` in time order.
//! [`archive`] moves orders finished long ago out of the read models into monthly Parquet
//! files, which questions and exports read again when asked to include the archive.
//!
//! Questions come in through [`grpc`] (`AnalyticsService`), are validated into [`domain`] values
//! (ranges, buckets, rates) and answered by the SQL in [`store`], which reads pre-aggregated
//! hourly and daily rollups ([`store::rollup`]) kept up by the [`refresher`]. [`report`] renders an HTML
//! page and an SVG chart from the same queries on the admin HTTP server (`/report.html`,
//! `/report.svg`). [`app`] wires it all; [`config`] lists the `OC_ANALYTICS_…` settings.

pub mod app;
pub mod archive;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod privacy;
pub mod refresher;
pub mod report;
pub mod store;

mod rebuild;

use runtime::{BoxError, BoxFuture, Host, ServiceDef};

pub use rebuild::{RebuildReport, rebuild};

/// This service's migrations (the messaging tables are applied with them).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "analytics",
    migrations: &[&messaging::MIGRATOR, &MIGRATOR],
    build,
};

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(app::build(host))
}
