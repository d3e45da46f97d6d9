//! The orders service: where an order lives from the first click to completion.
//!
//! A request enters through [`grpc`] (protobuf → [`domain`] values, every bad field reported),
//! is applied in one Postgres transaction through [`store`] together with the events it causes
//! (written to the outbox, published by the relay), and is answered once that transaction has
//! committed. [`app`] wires it all into a `runtime::Host`. [`pricing`] prices a new order
//! (shipping, discount codes, tax) with the arithmetic of [`domain::pricing`]. [`invoices`]
//! issues an invoice when an order settles and a credit note for each refund after that,
//! rendered as PDF by the small writer in [`pdf`]. [`privacy`] erases customers' personal data
//! on request or after the retention period and tells every service.

pub mod app;
pub mod catalog;
pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod invoices;
pub mod metrics;
pub mod pdf;
pub mod pricing;
pub mod privacy;
pub mod returns;
pub mod store;
pub mod update_saga;
pub mod updates;
pub mod workflow;

use runtime::{BoxError, BoxFuture, Host, ServiceDef};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "orders",
    migrations: &[&messaging::MIGRATOR, &MIGRATOR],
    build,
};

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(app::build(host))
}
