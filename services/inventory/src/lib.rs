//! Inventory: catalog, multi-warehouse stock, reservations that never oversell, low-stock alerts, forecast and replenishment.
//!
//! Foundation stage: the service owns its database (`ordercycle_inventory`, with the messaging
//! tables), runs its outbox relay, and serves `InventoryService` with health and reflection; every RPC
//! answers UNIMPLEMENTED until its issue lands.

use contracts::inventory::inventory_service_server::{InventoryService, InventoryServiceServer};
use messaging::Bus;
use runtime::{BoxError, BoxFuture, Host, ServiceDef};

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "inventory",
    migrations: &[&messaging::MIGRATOR],
    build,
};

#[derive(Clone)]
struct Api;

impl InventoryService for Api {}

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(async move {
        Bus::attach(host);
        host.add_service(InventoryServiceServer::new(Api));
        Ok(())
    })
}
