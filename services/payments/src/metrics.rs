//! What payments tells Prometheus about money and risk, beside the RPC and event metrics every
//! service has: declines by method and reason, refunds by method, amendments by method and
//! outcome, and the distribution of risk scores (how many orders score high enough for orders to hold them).
//!
//! They move inside the transaction that causes them (an event handler's, committed by the
//! consumer runner after the handler returns, or an RPC's just before its commit): a transaction
//! that rolls back and is retried counts twice. They are rates to watch, not a ledger; the
//! ledger is the database.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeclineLabels {
    method: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AmendmentLabels {
    method: &'static str,
    outcome: &'static str,
}

/// Unregistered (`Default`) in tests that build the handlers by hand.
#[derive(Clone)]
pub struct PaymentMetrics {
    declined: Family<DeclineLabels, Counter>,
    refunds: Family<MethodLabels, Counter>,
    amendments: Family<AmendmentLabels, Counter>,
    risk_score: Histogram,
}

impl Default for PaymentMetrics {
    fn default() -> Self {
        Self {
            declined: Family::default(),
            refunds: Family::default(),
            amendments: Family::default(),
            // Scores run 0–100; review thresholds sit in the upper half.
            risk_score: Histogram::new([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]),
        }
    }
}

impl PaymentMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "oc_payments_declined",
            "payments declined, by method and reason",
            metrics.declined.clone(),
        );
        registry.register(
            "oc_payments_refunds",
            "refunds issued, by payment method",
            metrics.refunds.clone(),
        );
        registry.register(
            "oc_payments_amendments",
            "order-update amendments answered, by payment method and outcome",
            metrics.amendments.clone(),
        );
        registry.register(
            "oc_payments_risk_score",
            "risk scores (0-100) of assessed orders",
            metrics.risk_score.clone(),
        );
        metrics
    }

    pub fn declined(&self, method: &'static str, reason: &'static str) {
        self.declined
            .get_or_create(&DeclineLabels { method, reason })
            .inc();
    }

    pub fn refunded(&self, method: &'static str) {
        self.refunds.get_or_create(&MethodLabels { method }).inc();
    }

    /// `outcome`: `amended` or `declined`; a repeated request is not counted again.
    pub fn amended(&self, method: &'static str, outcome: &'static str) {
        self.amendments
            .get_or_create(&AmendmentLabels { method, outcome })
            .inc();
    }

    pub fn risk_assessed(&self, score: i32) {
        self.risk_score.observe(f64::from(score));
    }
}
