//! The shipping-tracking service: shipments and carriers, labels, canonical tracking states,
//! ETA and live tracking (DESIGN steps 4 and 12).
//!
//! - A shipment is created by [`booking`]: from `CreateShipment` ([`grpc`], called by
//!   fulfillment at packing) or from orders' `ReturnShipmentRequested` ([`events`]). The rate
//!   table in [`domain::rates`] chooses the carrier; [`domain::label`] renders the label (PDF or
//!   ZPL) whenever one is asked for.
//! - Tracking events enter through [`ingest`] from three doors: `RecordTrackingEvent`
//!   ([`grpc`]), signed carrier webhooks ([`webhooks`]) and the simulated carrier
//!   ([`carriers`]). [`domain::tracking`] decides what an event does (out-of-order events never
//!   move a shipment back) and recomputes the ETA; the facts go out through the outbox.
//! - [`watch`] turns committed events into updates for `WatchShipment` streams.
//! - SQL lives in [`store`]; settings in [`config`]; [`app`] wires everything to a host.

pub mod app;
pub mod booking;
pub mod carriers;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod ingest;
pub mod privacy;
pub mod store;
pub mod watch;
pub mod webhooks;

use runtime::{BoxError, BoxFuture, Host, ServiceDef};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "shipping",
    migrations: &[&messaging::MIGRATOR, &MIGRATOR],
    build,
};

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(app::build(host))
}
