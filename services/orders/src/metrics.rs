//! What orders tells Prometheus about the business and the saga, beside the RPC and event
//! metrics every service has: orders placed by channel, holds, cancellations by reason (stock
//! shortages and payment declines among them), returns requested, how long orders spend in each
//! stage, and how many orders wait in each status and for how long (the "stuck order" signal).
//!
//! Counters move inside the transaction that causes them, before it commits: a transaction that
//! rolls back and is retried (a consumer's transient error) counts twice. They are rates to
//! watch, not a ledger; the ledger is the database.
//!
//! Durations are read on the service clock, so under `OC_CLOCK_SCALE` they are scaled too.

use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::domain::saga::CancelReason;
use crate::domain::{Channel, OrderStatus};
use crate::store::saga::cancel_reason_name;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    from: &'static str,
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

/// Seconds to weeks: a payment answers in seconds, an auto-accept window lasts days.
fn stage_histogram() -> Histogram {
    Histogram::new([
        0.1,
        0.5,
        1.0,
        5.0,
        15.0,
        60.0,
        300.0,
        900.0,
        3600.0,
        14_400.0,
        43_200.0,
        86_400.0,
        259_200.0,
        604_800.0,
        1_209_600.0,
    ])
}

/// Statuses an order never leaves: not "waiting", so not in the stuck-order gauges.
const FINAL: [&str; 3] = ["COMPLETED", "CANCELLED", "REJECTED"];

type StageHistograms = Family<StageLabels, Histogram, fn() -> Histogram>;

#[derive(Clone)]
pub struct OrderMetrics {
    placed: Family<ChannelLabels, Counter>,
    held: Counter,
    cancelled: Family<ReasonLabels, Counter>,
    returns_requested: Counter,
    stage: StageHistograms,
    in_status: Family<StatusLabels, Gauge>,
    oldest_in_status: Family<StatusLabels, Gauge>,
}

impl OrderMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            placed: Family::default(),
            held: Counter::default(),
            cancelled: Family::default(),
            returns_requested: Counter::default(),
            stage: Family::new_with_constructor(stage_histogram),
            in_status: Family::default(),
            oldest_in_status: Family::default(),
        };
        registry.register(
            "oc_orders_placed",
            "orders placed, by channel",
            metrics.placed.clone(),
        );
        registry.register(
            "oc_orders_held",
            "orders held for review",
            metrics.held.clone(),
        );
        registry.register(
            "oc_orders_cancelled",
            "orders cancelled, by reason (OUT_OF_STOCK is a stock shortage, PAYMENT_DECLINED a decline)",
            metrics.cancelled.clone(),
        );
        registry.register(
            "oc_orders_returns_requested",
            "returns (RMAs) requested",
            metrics.returns_requested.clone(),
        );
        registry.register(
            "oc_order_stage_duration_seconds",
            "time an order spent in status `from` before moving to `to`",
            metrics.stage.clone(),
        );
        registry.register(
            "oc_orders_in_status",
            "orders currently in each non-final status",
            metrics.in_status.clone(),
        );
        registry.register(
            "oc_orders_oldest_in_status_seconds",
            "time since the least recently changed order in each non-final status last changed",
            metrics.oldest_in_status.clone(),
        );
        metrics
    }

    pub fn placed(&self, channel: Channel) {
        self.placed
            .get_or_create(&ChannelLabels {
                channel: channel.as_str(),
            })
            .inc();
    }

    pub fn returns_requested(&self) {
        self.returns_requested.inc();
    }

    /// Records a status change: the time spent in `from` (entered at `entered`, when known),
    /// and a hold or a cancellation.
    pub fn transition(
        &self,
        entered: Option<DateTime<Utc>>,
        from: OrderStatus,
        to: OrderStatus,
        cancel: Option<CancelReason>,
        now: DateTime<Utc>,
    ) {
        if let Some(entered) = entered {
            let seconds = (now - entered).to_std().unwrap_or_default().as_secs_f64();
            self.stage
                .get_or_create(&StageLabels {
                    from: from.as_str(),
                    to: to.as_str(),
                })
                .observe(seconds);
        }
        if to == OrderStatus::OnHold {
            self.held.inc();
        }
        if let Some(reason) = cancel.filter(|_| to == OrderStatus::Cancelled) {
            self.cancelled
                .get_or_create(&ReasonLabels {
                    reason: cancel_reason_name(reason),
                })
                .inc();
        }
    }

    /// Refreshes the per-status gauges every `every` until `token` is cancelled. Every replica
    /// reports the same totals: aggregate them with `max`, not `sum`.
    pub async fn watch_statuses(
        self,
        pool: PgPool,
        clock: runtime::Clock,
        every: Duration,
        token: CancellationToken,
    ) {
        loop {
            if let Err(err) = self.refresh_statuses(&pool, clock.now()).await {
                tracing::debug!(error = %err, "cannot count orders by status");
            }
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    async fn refresh_statuses(&self, pool: &PgPool, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let rows: Vec<(String, i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT status, count(*), min(updated_at) FROM orders
             WHERE status <> ALL($1) GROUP BY status",
        )
        .bind(&FINAL[..])
        .fetch_all(pool)
        .await?;
        // A status with no order left must read 0, not its last value.
        self.in_status.clear();
        self.oldest_in_status.clear();
        for (status, count, oldest) in rows {
            let labels = StatusLabels { status };
            self.in_status.get_or_create(&labels).set(count);
            let age = (now - oldest).num_seconds().max(0);
            self.oldest_in_status.get_or_create(&labels).set(age);
        }
        Ok(())
    }
}
