//! gRPC clients of a running platform, shared by the demo and the operator commands.
//!
//! Each service's address is, in order: its `--<service>-addr` flag, its `OC_<SERVICE>_GRPC_ADDR`
//! (the variable `up` listens on), or `--target-host` with the port `--port-base` + its index
//! (50051 for orders … 50058 for analytics by default).

use anyhow::Context as _;
use contracts::analytics::analytics_service_client::AnalyticsServiceClient;
use contracts::feedback::feedback_service_client::FeedbackServiceClient;
use contracts::fulfillment::fulfillment_service_client::FulfillmentServiceClient;
use contracts::inventory::inventory_service_client::InventoryServiceClient;
use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::return_service_client::ReturnServiceClient;
use contracts::orders::review_service_client::ReviewServiceClient;
use contracts::shipping::shipping_service_client::ShippingServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Where the platform's services listen.
#[derive(clap::Args, Clone, Debug)]
pub struct Target {
    /// Host every service is reached on (unless an address is given).
    #[arg(long, global = true, default_value = "127.0.0.1")]
    pub target_host: String,
    /// gRPC port of orders; the others follow in DESIGN order (inventory +1 … analytics +7).
    #[arg(long, global = true, default_value_t = 50051)]
    pub port_base: u16,
    #[arg(long, global = true)]
    pub orders_addr: Option<String>,
    #[arg(long, global = true)]
    pub inventory_addr: Option<String>,
    #[arg(long, global = true)]
    pub payments_addr: Option<String>,
    #[arg(long, global = true)]
    pub fulfillment_addr: Option<String>,
    #[arg(long, global = true)]
    pub shipping_addr: Option<String>,
    #[arg(long, global = true)]
    pub notifications_addr: Option<String>,
    #[arg(long, global = true)]
    pub feedback_addr: Option<String>,
    #[arg(long, global = true)]
    pub analytics_addr: Option<String>,
}

const NAMES: [&str; 8] = [
    "orders",
    "inventory",
    "payments",
    "fulfillment",
    "shipping",
    "notifications",
    "feedback",
    "analytics",
];

impl Target {
    pub fn addr(&self, service: &str) -> String {
        let flag = match service {
            "orders" => &self.orders_addr,
            "inventory" => &self.inventory_addr,
            "payments" => &self.payments_addr,
            "fulfillment" => &self.fulfillment_addr,
            "shipping" => &self.shipping_addr,
            "notifications" => &self.notifications_addr,
            "feedback" => &self.feedback_addr,
            _ => &self.analytics_addr,
        };
        if let Some(addr) = flag {
            return addr.clone();
        }
        let var = format!("OC_{}_GRPC_ADDR", service.to_ascii_uppercase());
        if let Ok(addr) = std::env::var(&var)
            && !addr.is_empty()
        {
            return addr;
        }
        let index = NAMES.iter().position(|n| *n == service).unwrap_or(0);
        let port = self
            .port_base
            .saturating_add(u16::try_from(index).unwrap_or(0));
        format!("{}:{port}", self.target_host)
    }

    fn channel(&self, service: &str) -> anyhow::Result<Channel> {
        let addr = self.addr(service);
        let uri = if addr.contains("://") {
            addr
        } else {
            format!("http://{addr}")
        };
        let endpoint = Endpoint::from_shared(uri.clone())
            .with_context(|| format!("bad {service} address {uri}"))?
            .connect_timeout(std::time::Duration::from_secs(3))
            .timeout(std::time::Duration::from_secs(30));
        Ok(endpoint.connect_lazy())
    }
}

type Interceptor = fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>;

/// A channel whose calls carry the caller's current trace (`traceparent`), so that what a
/// command does in the services shows up under its span.
pub type Traced = InterceptedService<Channel, Interceptor>;

/// One client per gRPC service; cheap to clone.
#[derive(Clone)]
pub struct Clients {
    pub orders: OrderServiceClient<Traced>,
    pub review: ReviewServiceClient<Traced>,
    pub returns: ReturnServiceClient<Traced>,
    pub inventory: InventoryServiceClient<Traced>,
    pub fulfillment: FulfillmentServiceClient<Traced>,
    pub shipping: ShippingServiceClient<Traced>,
    pub feedback: FeedbackServiceClient<Traced>,
    pub analytics: AnalyticsServiceClient<Traced>,
}

impl Clients {
    pub fn new(target: &Target) -> anyhow::Result<Self> {
        let traced = |service: &str| -> anyhow::Result<Traced> {
            let propagate: Interceptor = runtime::grpc::propagate_trace;
            Ok(InterceptedService::new(target.channel(service)?, propagate))
        };
        let orders = traced("orders")?;
        Ok(Self {
            orders: OrderServiceClient::new(orders.clone()),
            review: ReviewServiceClient::new(orders.clone()),
            returns: ReturnServiceClient::new(orders),
            inventory: InventoryServiceClient::new(traced("inventory")?),
            fulfillment: FulfillmentServiceClient::new(traced("fulfillment")?),
            shipping: ShippingServiceClient::new(traced("shipping")?),
            feedback: FeedbackServiceClient::new(traced("feedback")?),
            analytics: AnalyticsServiceClient::new(traced("analytics")?),
        })
    }
}

/// A failed call as one line: `orders GetOrder: NOT_FOUND: no order OC-…`.
#[derive(Debug)]
pub struct RpcError {
    pub call: &'static str,
    pub status: tonic::Status,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.call,
            code_name(self.status.code()),
            self.status.message()
        )
    }
}

impl std::error::Error for RpcError {}

/// The canonical gRPC name of a code (`NOT_FOUND`).
pub fn code_name(code: tonic::Code) -> String {
    let debug = format!("{code:?}");
    let mut out = String::new();
    for (i, ch) in debug.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// Turns a call's `Result` into `anyhow` with the call's name and the gRPC code.
pub trait Rpc<T> {
    fn rpc(self, call: &'static str) -> anyhow::Result<T>;
}

impl<T> Rpc<T> for Result<tonic::Response<T>, tonic::Status> {
    fn rpc(self, call: &'static str) -> anyhow::Result<T> {
        self.map(tonic::Response::into_inner)
            .map_err(|status| RpcError { call, status }.into())
    }
}
