//! Wires payments into its host: the outbox relay, the risk consumer, the gRPC API.

use contracts::orders::OrderPlaced;
use contracts::payments::payment_service_server::PaymentServiceServer;
use contracts::payments::risk_service_server::RiskServiceServer;
use messaging::Bus;
use runtime::{BoxError, Host};

use crate::domain::risk::RiskRules;
use crate::events::order_placed::AssessRisk;
use crate::grpc::{PaymentsApi, RiskApi};

pub async fn build(host: &mut Host) -> Result<(), BoxError> {
    let bus = Bus::attach(host);
    let assess = AssessRisk {
        rules: RiskRules::default(),
        outbox: bus.outbox().clone(),
        clock: host.clock().clone(),
    };
    bus.consume::<OrderPlaced, _>(host, assess).await?;
    host.add_service(RiskServiceServer::new(RiskApi {
        pool: host.pool().clone(),
    }));
    host.add_service(PaymentServiceServer::new(PaymentsApi));
    Ok(())
}
