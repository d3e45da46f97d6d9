//! Fulfillment: pick, pack, label and weigh; waves, split shipments, store pickup.
//!
//! Foundation stage: the service owns its database (`ordercycle_fulfillment`, with the messaging
//! tables), runs its outbox relay, and serves `FulfillmentService` with health and reflection; every RPC
//! answers UNIMPLEMENTED until its issue lands.

use contracts::fulfillment::fulfillment_service_server::{
    FulfillmentService, FulfillmentServiceServer,
};
use messaging::Bus;
use runtime::{BoxError, BoxFuture, Host, ServiceDef};

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "fulfillment",
    migrations: &[&messaging::MIGRATOR],
    build,
};

#[derive(Clone)]
struct Api;

impl FulfillmentService for Api {}

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(async move {
        Bus::attach(host);
        host.add_service(FulfillmentServiceServer::new(Api));
        Ok(())
    })
}
