//! The payments service: payment methods and money movement (the payments issue), and risk
//! scoring of every placed order.
//!
//! Events enter through [`events`] (one transaction per event, with the inbox), queries through
//! [`grpc`]; the rules are in [`domain`], the SQL in [`store`]; [`app`] wires them to a host.

pub mod app;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod store;

use runtime::{BoxError, BoxFuture, Host, ServiceDef};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "payments",
    migrations: &[&messaging::MIGRATOR, &MIGRATOR],
    build,
};

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(app::build(host))
}
