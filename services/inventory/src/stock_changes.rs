//! What follows every change of stock, inside the transaction that made it: the level is
//! touched (its `updated_at`, and a `pg_notify` that reaches watchers on commit), and its
//! low-stock state is judged again — one `StockLow` per crossing of the reorder point, however
//! many transactions cross at once (the level's row is locked while it is judged).

use std::collections::BTreeSet;

use contracts::inventory::StockLow;
use contracts::time::to_timestamp;
use sqlx::PgConnection;

use crate::app::Shared;
use crate::domain::stock::{LowStock, low_stock};
use crate::replenishment;
use crate::store;
use crate::store::StoreError;

/// The levels (sku, warehouse) one transaction changed.
pub type Touched = BTreeSet<(String, String)>;

/// Touches and re-judges every changed level, in (sku, warehouse) order.
pub async fn after_change(
    conn: &mut PgConnection,
    shared: &Shared,
    touched: &Touched,
) -> Result<(), StoreError> {
    let now = shared.clock.now();
    for (sku, warehouse_id) in touched {
        store::stock::touch(conn, sku, warehouse_id, now).await?;
        judge_low_stock(conn, shared, sku, warehouse_id).await?;
    }
    Ok(())
}

/// Publishes `StockLow` when the level has just fallen to or below the reorder point, and
/// re-arms it once the level is above again. Also run when an item's reorder point or active
/// flag changes.
pub async fn judge_low_stock(
    conn: &mut PgConnection,
    shared: &Shared,
    sku: &str,
    warehouse_id: &str,
) -> Result<(), StoreError> {
    let Some(state) = store::stock::lock_low_state(conn, sku, warehouse_id).await? else {
        return Ok(());
    };
    let level = store::stock::level(conn, sku, warehouse_id).await?;
    let now = shared.clock.now();
    match low_stock(
        state.low_since.is_some(),
        level.available,
        state.reorder_point,
        state.active,
    ) {
        LowStock::Unchanged => {}
        LowStock::Left => store::stock::set_low_since(conn, sku, warehouse_id, None).await?,
        LowStock::Entered => {
            let suggested = replenishment::suggestions(
                conn,
                &shared.config,
                now,
                &[sku.to_owned()],
                Some(warehouse_id),
                shared.config.plan_horizon_days,
            )
            .await?
            .first()
            .map_or(0, |s| s.plan.suggested_quantity);
            store::stock::set_low_since(conn, sku, warehouse_id, Some(now)).await?;
            shared
                .outbox
                .append(
                    conn,
                    &StockLow {
                        sku: sku.to_owned(),
                        name: state.name,
                        warehouse_id: warehouse_id.to_owned(),
                        on_hand: level.on_hand,
                        available: level.available,
                        reorder_point: state.reorder_point,
                        safety_stock: state.safety_stock,
                        below_safety_stock: level.available < state.safety_stock,
                        suggested_quantity: suggested,
                        detected_at: Some(to_timestamp(now)),
                    },
                )
                .await?;
            shared.metrics.stock_low(warehouse_id);
            tracing::info!(sku, warehouse_id, available = level.available, "stock low");
        }
    }
    Ok(())
}
