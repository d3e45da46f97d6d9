//! Shipping and tracking: shipments, carriers, tracking ingestion, ETA and live tracking.
//!
//! Foundation stage: the service owns its database (`ordercycle_shipping`, with the messaging
//! tables), runs its outbox relay, and serves `ShippingService` with health and reflection; every RPC
//! answers UNIMPLEMENTED until its issue lands.

use contracts::shipping::shipping_service_server::{ShippingService, ShippingServiceServer};
use messaging::Bus;
use runtime::{BoxError, BoxFuture, Host, ServiceDef};

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "shipping",
    migrations: &[&messaging::MIGRATOR],
    build,
};

#[derive(Clone)]
struct Api;

impl ShippingService for Api {}

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(async move {
        Bus::attach(host);
        host.add_service(ShippingServiceServer::new(Api));
        Ok(())
    })
}
