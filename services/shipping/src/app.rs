//! Wires shipping into its host: configuration, the outbox relay, the return-shipment consumer,
//! the simulated carrier's timers, the live-tracking listener, the gRPC API and the carrier
//! webhooks on the admin HTTP server.

use contracts::orders::ReturnShipmentRequested;
use contracts::shipping::shipping_service_server::ShippingServiceServer;
use messaging::{Bus, Outbox};
use runtime::{BoxError, Clock, Host};

use crate::booking::Booking;
use crate::carriers::{Carriers, SIM_TIMER, SimulatedScans};
use crate::config::ShippingConfig;
use crate::events::return_shipment_requested::CreateReturnShipment;
use crate::grpc::ShippingApi;
use crate::watch::Hub;
use crate::webhooks;

/// What every entry point (RPCs, webhooks, event handlers, timers) works with.
#[derive(Clone)]
pub struct Shipping {
    pub pool: sqlx::PgPool,
    pub outbox: Outbox,
    pub clock: Clock,
    pub config: ShippingConfig,
    pub carriers: Carriers,
}

impl Shipping {
    pub fn booking(&self) -> Booking<'_> {
        Booking {
            outbox: &self.outbox,
            config: &self.config,
            carriers: &self.carriers,
        }
    }
}

pub async fn build(host: &mut Host) -> Result<(), BoxError> {
    let config = ShippingConfig::from(&host.settings().env())?;
    let bus = Bus::attach(host);
    messaging::privacy::subscribe(&bus, host, crate::privacy::PERSONAL_DATA).await?;
    let shipping = Shipping {
        pool: host.pool().clone(),
        outbox: bus.outbox().clone(),
        clock: host.clock().clone(),
        carriers: Carriers::from_config(&config),
        config,
    };
    bus.consume::<ReturnShipmentRequested, _>(
        host,
        CreateReturnShipment {
            shipping: shipping.clone(),
        },
    )
    .await?;
    bus.timers(
        host,
        SIM_TIMER,
        SimulatedScans {
            outbox: shipping.outbox.clone(),
            config: shipping.config.clone(),
            clock: shipping.clock.clone(),
        },
    );
    let hub = Hub::start(host).await?;
    host.add_admin_routes(webhooks::routes(shipping.clone()));
    host.add_service(ShippingServiceServer::new(ShippingApi::new(shipping, hub)));
    Ok(())
}
