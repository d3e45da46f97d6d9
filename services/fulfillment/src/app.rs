//! Wires fulfillment into its host: the relay, the consumers, the gRPC API (with its client of
//! shipping's API).

use contracts::fulfillment::fulfillment_service_server::FulfillmentServiceServer;
use messaging::Bus;
use runtime::{BoxError, Host};

use crate::config::FulfillmentConfig;
use crate::events::{self, Ctx};
use crate::grpc::FulfillmentApi;

pub async fn build(host: &mut Host) -> Result<(), BoxError> {
    let config = FulfillmentConfig::from_env(&host.settings().env())?;
    let bus = Bus::attach(host);
    messaging::privacy::subscribe(&bus, host, crate::privacy::PERSONAL_DATA).await?;
    let ctx = Ctx {
        outbox: bus.outbox().clone(),
        clock: host.clock().clone(),
    };
    events::subscribe(&bus, host, &ctx).await?;
    let tls = host.settings().tls.clone();
    let api = FulfillmentApi::new(host.pool().clone(), ctx, config, tls.as_ref())?;
    host.add_service(FulfillmentServiceServer::new(api));
    Ok(())
}
