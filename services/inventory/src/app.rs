//! Wires inventory into its host: the outbox relay, one consumer per orders request, the
//! reservation-expiry timers, the stock-change listener and the gRPC API.

use std::sync::Arc;

use contracts::inventory::inventory_service_server::InventoryServiceServer;
use contracts::orders::{
    ReservationAmendRequested, ReservationCommitRequested, ReservationConfirmRequested,
    ReservationReleaseRequested, ReservationRequested, RestockRequested,
};
use messaging::{Bus, Outbox};
use runtime::{BoxError, Clock, Host};

use crate::config::InventoryConfig;
use crate::events::{
    Amend, Commit, Confirm, Expire, RESERVATION_EXPIRY, Release, Reserve, Restock,
};
use crate::grpc::InventoryApi;
use crate::metrics::InventoryMetrics;
use crate::watch::Hub;

/// What the API and the event handlers share.
#[derive(Clone)]
pub struct Shared {
    pub outbox: Outbox,
    pub clock: Clock,
    pub config: Arc<InventoryConfig>,
    pub metrics: InventoryMetrics,
}

pub async fn build(host: &mut Host) -> Result<(), BoxError> {
    let config = InventoryConfig::from_env(&host.settings().env())?;
    let bus = Bus::attach(host);
    let shared = Shared {
        outbox: bus.outbox().clone(),
        clock: host.clock().clone(),
        config: Arc::new(config),
        metrics: InventoryMetrics::register(host.registry()),
    };
    bus.consume::<ReservationRequested, _>(host, Reserve(shared.clone()))
        .await?;
    bus.consume::<ReservationConfirmRequested, _>(host, Confirm(shared.clone()))
        .await?;
    bus.consume::<ReservationCommitRequested, _>(host, Commit(shared.clone()))
        .await?;
    bus.consume::<ReservationReleaseRequested, _>(host, Release(shared.clone()))
        .await?;
    bus.consume::<RestockRequested, _>(host, Restock(shared.clone()))
        .await?;
    bus.consume::<ReservationAmendRequested, _>(host, Amend(shared.clone()))
        .await?;
    bus.timers(host, RESERVATION_EXPIRY, Expire(shared.clone()));
    let hub = Hub::start(host).await?;
    host.add_service(InventoryServiceServer::new(InventoryApi::new(
        host.pool().clone(),
        shared,
        hub,
    )));
    Ok(())
}
