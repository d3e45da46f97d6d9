//! The inventory service: the catalog, warehouses with their bin layouts, real-time stock per
//! warehouse and bin, reservations that never oversell, low-stock alerts and replenishment.
//!
//! Requests enter through [`grpc`] (protobuf → [`domain`] values, every bad field reported);
//! orders' reservation requests (and the amendments and exact releases of order updates) enter
//! through [`events`], one transaction per event with the inbox. Either way the change is made
//! through [`store`] in one Postgres transaction together with the events it causes (outbox)
//! and what follows every stock change ([`stock_changes`]: low-stock alerts, and notices that
//! [`watch`] fans out to `WatchAvailability` streams on commit). Overselling is prevented by
//! locking the stock rows a reservation draws on, in one order every writer keeps, and by a
//! table constraint that no bin holds more reservations than units. [`replenishment`] turns
//! demand history into reorder suggestions; [`app`] wires it all into a `runtime::Host`.

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod metrics;
pub mod replenishment;
pub mod stock_changes;
pub mod store;
pub mod watch;

use runtime::{BoxError, BoxFuture, Host, ServiceDef};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "inventory",
    migrations: &[&messaging::MIGRATOR, &MIGRATOR],
    build,
};

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(app::build(host))
}
