//! What inventory tells Prometheus about stock, beside the RPC and event metrics every service
//! has: reservations refused for short stock, and levels that fell to their reorder point.
//!
//! Both move inside the transaction that causes them (an event handler's, committed by the
//! consumer runner after the handler returns, or an RPC's): a transaction that rolls back and is
//! retried counts twice. They are rates to watch, not a ledger; the ledger is the database.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WarehouseLabels {
    warehouse: String,
}

/// Unregistered (`Default`) in tests that build the handlers by hand.
#[derive(Clone, Default)]
pub struct InventoryMetrics {
    shortages: Counter,
    short_lines: Counter,
    stock_low: Family<WarehouseLabels, Counter>,
}

impl InventoryMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "oc_inventory_shortages",
            "reservation requests refused because a line was short of stock",
            metrics.shortages.clone(),
        );
        registry.register(
            "oc_inventory_short_lines",
            "order lines short of stock in refused reservations",
            metrics.short_lines.clone(),
        );
        registry.register(
            "oc_inventory_stock_low",
            "stock levels that fell to or below their reorder point, by warehouse",
            metrics.stock_low.clone(),
        );
        metrics
    }

    pub fn shortage(&self, short_lines: usize) {
        self.shortages.inc();
        self.short_lines.inc_by(short_lines as u64);
    }

    pub fn stock_low(&self, warehouse: &str) {
        self.stock_low
            .get_or_create(&WarehouseLabels {
                warehouse: warehouse.to_owned(),
            })
            .inc();
    }
}
