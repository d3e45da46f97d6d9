//! Every service of the platform started together, as `ordercycle up` does.

use runtime::ServiceDef;
use testkit::{RunningService, TestEnv};

/// Every service; shipping before fulfillment, which calls it.
pub static ALL: [&ServiceDef; 8] = [
    &orders::SERVICE,
    &inventory::SERVICE,
    &payments::SERVICE,
    &shipping::SERVICE,
    &fulfillment::SERVICE,
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
        let services = env.start_all(&ALL).await;
        Self { env, services }
    }

    pub fn service(&self, name: &str) -> &RunningService {
        self.services
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is not running"))
    }
}
