//! Wires the orders service into its host: the outbox relay, the consumers of every fact the
//! saga reacts to, its timers, and the gRPC API (orders, returns, pricing, invoices, review).

use std::sync::Arc;

use contracts::orders::invoice_service_server::InvoiceServiceServer;
use contracts::orders::order_service_server::OrderServiceServer;
use contracts::orders::order_update_service_server::OrderUpdateServiceServer;
use contracts::orders::pricing_service_server::PricingServiceServer;
use contracts::orders::privacy_service_server::PrivacyServiceServer;
use contracts::orders::return_service_server::ReturnServiceServer;
use contracts::orders::review_service_server::ReviewServiceServer;
use messaging::Bus;
use runtime::{BoxError, Host};

use crate::config::OrdersConfig;
use crate::events;
use crate::grpc::{
    InvoicesApi, OrderUpdateApi, OrdersApi, PricingApi, PrivacyApi, ReturnsApi, ReviewApi,
};
use crate::metrics::OrderMetrics;
use crate::privacy::{self, Retention};
use crate::workflow::Workflow;

pub async fn build(host: &mut Host) -> Result<(), BoxError> {
    let config = OrdersConfig::from_env(&host.settings().env())?;
    let retention = Retention::from_env(&host.settings().env())?;
    let bus = Bus::attach(host);
    let metrics = OrderMetrics::register(host.registry());
    let (pool, clock) = (host.pool().clone(), host.clock().clone());
    let every = host.settings().messaging.metrics_poll;
    let watch = metrics.clone();
    host.spawn("order-status-gauges", move |token| {
        watch.watch_statuses(pool, clock, every, token)
    });
    let wf = Workflow {
        outbox: bus.outbox().clone(),
        clock: host.clock().clone(),
        config: Arc::new(config),
        metrics,
    };
    events::subscribe(&bus, host, &wf).await?;
    events::timers::start(&bus, host, &wf);
    privacy::start_retention(host, bus.outbox().clone(), retention);
    host.add_service(PrivacyServiceServer::new(PrivacyApi::new(
        host.pool().clone(),
        wf.clone(),
    )));
    host.add_service(ReturnServiceServer::new(ReturnsApi::new(
        host.pool().clone(),
        wf.clone(),
    )));
    let orders = OrdersApi::new(host.pool().clone(), wf);
    host.add_service(OrderServiceServer::new(orders.clone()));
    host.add_service(PricingServiceServer::new(PricingApi::new(
        orders.clone(),
        host.pool().clone(),
    )));
    host.add_service(OrderUpdateServiceServer::new(OrderUpdateApi::new(
        orders.clone(),
        host.pool().clone(),
    )));
    host.add_service(InvoiceServiceServer::new(InvoicesApi::new(
        host.pool().clone(),
    )));
    host.add_service(ReviewServiceServer::new(ReviewApi::new(
        orders,
        host.pool().clone(),
    )));
    Ok(())
}
