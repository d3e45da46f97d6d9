//! [`Bus`]: the messaging parts of one service wired into its [`Host`] — the outbox and its
//! relay, the consumers, the timer pollers — sharing one set of metrics and fail points.

use contracts::Event;

use crate::consumer::{Consumer, ConsumerError, Handler};
use crate::failpoint::FailPoints;
use crate::metrics::MessagingMetrics;
use crate::outbox::{Outbox, Relay};
use crate::timers::{TimerHandler, TimerPoller};
use runtime::Host;

#[derive(Clone)]
pub struct Bus {
    service: &'static str,
    outbox: Outbox,
    metrics: MessagingMetrics,
    failpoints: FailPoints,
}

impl Bus {
    /// Registers the metrics and starts the outbox relay. Fail points come from
    /// `OC_FAILPOINTS` (empty in production).
    pub fn attach(host: &mut Host) -> Self {
        let failpoints = std::env::var("OC_FAILPOINTS")
            .map(|spec| FailPoints::from_spec(&spec))
            .unwrap_or_default();
        let metrics = MessagingMetrics::register(host.registry());
        let outbox = Outbox::new(host.clock().clone());
        let relay = Relay::new(
            &outbox,
            host.pool().clone(),
            host.jetstream().clone(),
            host.subjects().clone(),
            host.name(),
            host.settings().messaging.clone(),
        )
        .with_metrics(metrics.clone())
        .with_failpoints(failpoints.clone());
        host.spawn("outbox-relay", move |token| relay.run(token));
        Self {
            service: host.name(),
            outbox,
            metrics,
            failpoints,
        }
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Subscribes the service to `E` through its durable consumer.
    pub async fn consume<E: Event, H: Handler<E>>(
        &self,
        host: &mut Host,
        handler: H,
    ) -> Result<(), ConsumerError> {
        let consumer = Consumer::<E, H>::provision(
            self.service,
            handler,
            host.pool().clone(),
            host.jetstream().clone(),
            host.subjects().clone(),
            &host.settings().streams,
            host.settings().messaging.clone(),
        )
        .await?
        .with_outbox(self.outbox.clone())
        .with_metrics(self.metrics.clone())
        .with_failpoints(self.failpoints.clone());
        let lag = consumer.lag_probe();
        host.spawn("consumer-lag", move |token| lag.run(token));
        host.spawn("consumer", move |token| consumer.run(token));
        Ok(())
    }

    /// Fires timers of `kind` with `handler`.
    pub fn timers<H: TimerHandler>(&self, host: &mut Host, kind: &'static str, handler: H) {
        let poller = TimerPoller::new(
            kind,
            handler,
            host.pool().clone(),
            host.clock().clone(),
            host.settings().messaging.timer_poll,
        )
        .with_outbox(self.outbox.clone())
        .with_metrics(self.metrics.clone())
        .with_batch(host.settings().messaging.timer_batch);
        host.spawn("timers", move |token| poller.run(token));
    }
}
