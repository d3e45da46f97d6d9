//! Wires analytics into its host: the consumers of every fact (one durable consumer per
//! subject, all recording through [`crate::events::Record`]), the periodic archiver, the rollup
//! refresher, the gRPC
//! API and the report routes on the admin HTTP server.

use std::sync::Arc;

use contracts::analytics::analytics_service_server::AnalyticsServiceServer;
use messaging::Bus;
use runtime::{BoxError, Host};

use crate::archive::Archiver;
use crate::config::Config;
use crate::events::{self, Record};
use crate::grpc::AnalyticsApi;
use crate::refresher::{self, RollupMetrics};

/// Builds the service with its configuration from `OC_ANALYTICS_…` variables.
pub async fn build(host: &mut Host) -> Result<(), BoxError> {
    let config = Config::from_env(&host.settings().env())?;
    build_with(host, config).await
}

/// Builds the service with `config` (tests and embedders pass their own).
pub async fn build_with(host: &mut Host, config: Config) -> Result<(), BoxError> {
    let bus = Bus::attach(host);
    messaging::privacy::subscribe(&bus, host, crate::privacy::RawEvents).await?;
    let record = Record {
        clock: host.clock().clone(),
    };
    events::subscribe(&bus, host, &record).await?;
    if let Some(every) = config.archive_every {
        let archiver = Archiver {
            pool: host.pool().clone(),
            clock: host.clock().clone(),
            dir: config.archive_dir.clone(),
            after: config.archive_after,
            every,
        };
        host.spawn("order-archiver", move |token| archiver.run_every(token));
    }
    let metrics = RollupMetrics::register(host.registry());
    let (pool, every) = (host.pool().clone(), config.rollup_refresh_every);
    host.spawn("rollup-refresher", move |token| {
        refresher::run(pool, every, metrics, token)
    });
    let api = AnalyticsApi {
        pool: host.pool().clone(),
        clock: host.clock().clone(),
        config: Arc::new(config),
    };
    host.add_admin_routes(crate::report::routes(api.clone()));
    host.add_service(AnalyticsServiceServer::new(api));
    Ok(())
}
