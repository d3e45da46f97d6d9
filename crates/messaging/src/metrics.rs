//! Event counters and outbox gauges, registered in the service's Prometheus registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SubjectLabels {
    pub subject: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumedLabels {
    pub consumer: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    pub consumer: String,
    pub subject: String,
}

#[derive(Clone, Default)]
pub struct MessagingMetrics {
    pub published: Family<SubjectLabels, Counter>,
    pub publish_failures: Counter,
    pub consumed: Family<ConsumedLabels, Counter>,
    pub dead_lettered: Family<SubjectLabels, Counter>,
    pub outbox_backlog: Gauge,
    pub outbox_oldest_seconds: Gauge,
    pub timers_fired: Counter,
    /// Events in the stream not yet delivered to the consumer: its lag.
    pub consumer_pending: Family<ConsumerLabels, Gauge>,
    /// Events delivered and not yet acknowledged (being handled, or waiting for a retry).
    pub consumer_ack_pending: Family<ConsumerLabels, Gauge>,
}

impl MessagingMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "oc_events_published",
            "events published from the outbox, by subject",
            metrics.published.clone(),
        );
        registry.register(
            "oc_events_publish_failures",
            "outbox publishes that were not acknowledged and will be retried",
            metrics.publish_failures.clone(),
        );
        registry.register(
            "oc_events_consumed",
            "events handled by a consumer, by outcome (applied, duplicate, retried, dead_lettered)",
            metrics.consumed.clone(),
        );
        registry.register(
            "oc_events_dead_lettered",
            "events moved to the dead-letter stream, by original subject",
            metrics.dead_lettered.clone(),
        );
        registry.register(
            "oc_outbox_backlog",
            "outbox rows not yet published",
            metrics.outbox_backlog.clone(),
        );
        registry.register(
            "oc_outbox_oldest_age_seconds",
            "age of the oldest unpublished outbox row",
            metrics.outbox_oldest_seconds.clone(),
        );
        registry.register(
            "oc_timers_fired",
            "durable timers fired",
            metrics.timers_fired.clone(),
        );
        registry.register(
            "oc_consumer_pending",
            "events in the stream not yet delivered to this durable consumer (its lag)",
            metrics.consumer_pending.clone(),
        );
        registry.register(
            "oc_consumer_ack_pending",
            "events delivered to this durable consumer and not yet acknowledged",
            metrics.consumer_ack_pending.clone(),
        );
        metrics
    }
}
