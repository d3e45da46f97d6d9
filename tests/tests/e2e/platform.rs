//! Every service of the platform started together, as `ordercycle up` does.

use runtime::ServiceDef;
use testkit::{RunningService, TestEnv};

pub static ALL: [&ServiceDef; 8] = [
    &orders::SERVICE,
    &inventory::SERVICE,
    &payments::SERVICE,
    &fulfillment::SERVICE,
    &shipping::SERVICE,
    &notifications::SERVICE,
    &feedback::SERVICE,
    &analytics::SERVICE,
];

pub struct Platform {
    pub env: TestEnv,
    pub services: Vec<RunningService>,
}

impl Platform {
    pub async fn start() -> Self {
        Self::start_in(TestEnv::new().await).await
    }

    pub async fn start_in(mut env: TestEnv) -> Self {
        let mut services = Vec::new();
        // Fulfillment calls shipping over gRPC: shipping starts first and tells it where.
        for def in ALL.iter().filter(|d| d.name != "fulfillment") {
            services.push(env.start(def).await);
        }
        let shipping = services
            .iter()
            .find(|s| s.name == "shipping")
            .map(|s| s.grpc_addr);
        if let Some(addr) = shipping {
            env.settings.overrides.insert(
                "OC_FULFILLMENT_SHIPPING_URL".into(),
                format!("http://{addr}"),
            );
        }
        services.push(env.start(&fulfillment::SERVICE).await);
        Self { env, services }
    }

    pub fn service(&self, name: &str) -> &RunningService {
        self.services
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is not running"))
    }
}
