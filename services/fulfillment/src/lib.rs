//! The fulfillment service: steps 3 and 11 of the order cycle — pick, pack, label, weigh —
//! and store pickup and returned parcels.
//!
//! Orders' fulfilment request becomes one fulfilment per allocated warehouse ([`events`]); an
//! order update after confirmation replaces them until picking is scheduled.
//! Warehouse staff work through [`grpc`]: waves and pick lists sorted along the pick path
//! ([`domain::pick`]), picking (short picks raise an exception event), packing (weighed
//! against the catalog, [`domain::weight`]; shipping assigns carrier, tracking number and
//! label over gRPC), hand-over to the carrier, store pickup with a code, returns received and
//! graded. SQL lives in [`store`]; [`app`] wires it to a host.

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod privacy;
pub mod store;

use runtime::{BoxError, BoxFuture, Host, ServiceDef};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "fulfillment",
    migrations: &[&messaging::MIGRATOR, &MIGRATOR],
    build,
};

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(app::build(host))
}
