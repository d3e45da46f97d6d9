//! The rollup refresher: every `OC_ANALYTICS_ROLLUP_REFRESH_MS` it recomputes the rollup
//! buckets the consumers' writes marked stale ([`crate::store::rollup::refresh`]) and reports
//! how far behind it is. Answers do not wait for it (stale buckets are computed from the facts),
//! so falling behind costs query time, never correctness.

use std::time::Duration;

use prometheus_client::metrics::gauge::{Atomic as _, Gauge};
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::store::rollup;

/// Hours recomputed per run: bounds one transaction; a backlog takes several runs.
const HOURS_PER_RUN: i64 = 500;

#[derive(Clone, Debug, Default)]
pub struct RollupMetrics {
    stale_hours: Gauge,
    lag_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl RollupMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "oc_analytics_rollup_stale_hours",
            "hours whose rollups wait to be recomputed (answered from the facts meanwhile)",
            metrics.stale_hours.clone(),
        );
        registry.register(
            "oc_analytics_rollup_lag_seconds",
            "age of the oldest rollup bucket waiting to be recomputed",
            metrics.lag_seconds.clone(),
        );
        metrics
    }
}

/// Refreshes every `every` until `token` is cancelled.
pub async fn run(pool: PgPool, every: Duration, metrics: RollupMetrics, token: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        match rollup::refresh(&pool, HOURS_PER_RUN).await {
            Ok(_) => {}
            // Another replica's refresher committed first: nothing to report.
            Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("40001") => {}
            Err(err) => tracing::warn!(error = %err, "rollup refresh failed; retrying next period"),
        }
        match rollup::lag(&pool).await {
            Ok((hours, seconds)) => {
                metrics.stale_hours.set(hours);
                metrics.lag_seconds.inner().set(seconds);
            }
            Err(err) => tracing::debug!(error = %err, "reading the rollups' lag failed"),
        }
    }
}
