//! Analytics: order archive, KPIs and trends over every event.
//!
//! Foundation stage: the service owns its database (`ordercycle_analytics`, with the messaging
//! tables), runs its outbox relay, and serves `AnalyticsService` with health and reflection; every RPC
//! answers UNIMPLEMENTED until its issue lands.

use contracts::analytics::analytics_service_server::{AnalyticsService, AnalyticsServiceServer};
use messaging::Bus;
use runtime::{BoxError, BoxFuture, Host, ServiceDef};

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "analytics",
    migrations: &[&messaging::MIGRATOR],
    build,
};

#[derive(Clone)]
struct Api;

impl AnalyticsService for Api {}

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(async move {
        Bus::attach(host);
        host.add_service(AnalyticsServiceServer::new(Api));
        Ok(())
    })
}
