//! `orders.restock.requested` → inspected resellable units of a return go back on hand in the
//! warehouse that received them. Applied once per return.

use contracts::orders::RestockRequested;
use messaging::{Envelope, Handler, HandlerError};
use sqlx::PgConnection;

use super::required;
use crate::app::Shared;
use crate::domain::stock::MovementKind;
use crate::stock_changes::{self, Touched};
use crate::store;

pub struct Restock(pub Shared);

impl Handler<RestockRequested> for Restock {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<RestockRequested>,
    ) -> Result<(), HandlerError> {
        let shared = &self.0;
        let request = &envelope.event;
        let return_id = required(&request.return_id, "return_id")?;
        let warehouse_id = required(&request.warehouse_id, "warehouse_id")?;
        if request.lines.is_empty() {
            return Err(HandlerError::permanent(format!(
                "restock for return {return_id} has no lines"
            )));
        }
        let now = shared.clock.now();
        if !store::reservations::record_restock(
            tx,
            return_id,
            request.order_id.trim(),
            warehouse_id,
            now,
        )
        .await?
        {
            tracing::info!(return_id, "restocked already");
            return Ok(());
        }
        let warehouse = store::catalog::get_warehouse(tx, warehouse_id)
            .await?
            .ok_or_else(|| {
                HandlerError::permanent(format!("restock into unknown warehouse {warehouse_id}"))
            })?;
        let mut puts = Vec::with_capacity(request.lines.len());
        for line in &request.lines {
            let sku = required(&line.sku, "lines[].sku")?;
            if line.quantity <= 0 {
                return Err(HandlerError::permanent(format!(
                    "restock of {sku}: quantity must be positive"
                )));
            }
            if store::catalog::get_item(tx, sku).await?.is_none() {
                return Err(HandlerError::permanent(format!(
                    "restock of unknown SKU {sku}"
                )));
            }
            let bin = match line.bin.trim() {
                "" => warehouse.receiving_bin(),
                code => warehouse.bin(code),
            }
            .ok_or_else(|| {
                HandlerError::permanent(format!(
                    "restock of {sku}: warehouse {warehouse_id} has no bin {:?}",
                    line.bin
                ))
            })?;
            puts.push((sku.to_owned(), bin.code.clone(), line.quantity));
        }
        // The common lock order.
        puts.sort();
        let mut touched = Touched::new();
        for (sku, bin, quantity) in &puts {
            store::stock::add_on_hand(tx, (sku, warehouse_id, bin), *quantity, now).await?;
            store::stock::record_movement(
                tx,
                &store::stock::Movement {
                    sku,
                    warehouse_id,
                    bin,
                    delta: *quantity,
                    kind: MovementKind::Restocked,
                    reason: None,
                    reference: return_id,
                    note: "",
                    actor_id: "",
                },
                now,
            )
            .await?;
            touched.insert((sku.clone(), warehouse_id.to_owned()));
        }
        stock_changes::after_change(tx, shared, &touched).await?;
        tracing::info!(return_id, warehouse_id, "restocked");
        Ok(())
    }
}
