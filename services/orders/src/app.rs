//! Wires the orders service into its host: the outbox relay, the gRPC API.

use contracts::orders::order_service_server::OrderServiceServer;
use messaging::Bus;
use runtime::{BoxError, Host};

use crate::grpc::OrdersApi;

pub async fn build(host: &mut Host) -> Result<(), BoxError> {
    let bus = Bus::attach(host);
    let api = OrdersApi::new(
        host.pool().clone(),
        bus.outbox().clone(),
        host.clock().clone(),
    );
    host.add_service(OrderServiceServer::new(api));
    Ok(())
}
