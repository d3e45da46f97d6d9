//! Inventory's low-stock alert, for staff.

use contracts::inventory::StockLow;
use messaging::{Envelope, Handler, HandlerError};
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::{Notifier, Source};
use crate::domain::messages::STAFF_STOCK_LOW;

impl Handler<StockLow> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<StockLow>,
    ) -> Result<(), HandlerError> {
        self.to_staff(
            tx,
            &Source::of(envelope),
            STAFF_STOCK_LOW,
            "",
            low(&envelope.event),
        )
        .await
    }
}

fn low(e: &StockLow) -> Value {
    json!({
        "sku": e.sku,
        "item": e.name,
        "warehouse": e.warehouse_id,
        "available": e.available,
        "on_hand": e.on_hand,
        "reorder_point": e.reorder_point,
        "suggested": e.suggested_quantity,
        "below_safety": e.below_safety_stock,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::renders;
    use super::*;

    #[test]
    fn the_low_stock_alert_renders_from_its_event() {
        renders(STAFF_STOCK_LOW, low(&StockLow::default()));
    }
}
