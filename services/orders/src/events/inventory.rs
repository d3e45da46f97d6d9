//! Inventory's answers to our reservation requests.

use contracts::inventory::{ReservationExpired, StockReserved, StockShortage};
use contracts::orders as pb;
use messaging::{Bus, Envelope, Handler, HandlerError};
use runtime::Host;
use sqlx::PgConnection;

use super::order_id;
use crate::domain::saga::Input;
use crate::returns::Act;
use crate::store::{self, saga::Allocation};
use crate::workflow::{Facts, Who, Workflow};

struct OnInventory(Workflow);

/// The RMA whose exchange asked for `reservation_id`, if it is one.
async fn exchange(
    tx: &mut PgConnection,
    reservation_id: &str,
) -> Result<Option<uuid::Uuid>, HandlerError> {
    let Ok(id) = uuid::Uuid::parse_str(reservation_id) else {
        return Ok(None);
    };
    Ok(store::returns::by_exchange_reservation(tx, id).await?)
}

fn act<'a>(
    who: &'a crate::workflow::Who,
    envelope_id: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
    reason: Option<&'a str>,
) -> Act<'a> {
    Act {
        who,
        reason,
        event_id: Some(envelope_id),
        now,
    }
}

/// A reservation answer counts only for the reservation we asked for last.
async fn is_current(
    tx: &mut PgConnection,
    order: uuid::Uuid,
    reservation_id: &str,
) -> Result<bool, HandlerError> {
    let row = store::saga::read(tx, order).await?;
    Ok(row
        .and_then(|r| r.reservation_id)
        .is_some_and(|id| id.to_string() == reservation_id))
}

impl Handler<StockReserved> for OnInventory {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<StockReserved>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if let Some(rma) = exchange(tx, &e.reservation_id).await? {
            let who = Who::service("inventory");
            let act = act(
                &who,
                envelope.id,
                self.0.clock.now(),
                Some("replacement stock reserved"),
            );
            self.0
                .rma_exchange_reserved(tx, rma, &e.allocations, &act)
                .await?;
            return Ok(());
        }
        let id = order_id(&e.order_id)?;
        if !is_current(tx, id, &e.reservation_id).await? {
            return Ok(());
        }
        let allocations: Vec<Allocation> = e
            .allocations
            .iter()
            .map(|a| Allocation {
                line_id: a.line_id.clone(),
                sku: a.sku.clone(),
                warehouse_id: a.warehouse_id.clone(),
                quantity: a.quantity,
            })
            .collect();
        store::saga::set_allocations(tx, id, &allocations).await?;
        let warehouses: std::collections::BTreeSet<&str> = allocations
            .iter()
            .map(|a| a.warehouse_id.as_str())
            .collect();
        let facts = Facts::event("inventory", envelope.id).because(format!(
            "stock reserved in {}",
            warehouses.into_iter().collect::<Vec<_>>().join(", ")
        ));
        self.0.apply(tx, id, Input::StockReserved, &facts).await?;
        Ok(())
    }
}

impl Handler<StockShortage> for OnInventory {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<StockShortage>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if let Some(rma) = exchange(tx, &e.reservation_id).await? {
            let who = Who::service("inventory");
            let act = act(
                &who,
                envelope.id,
                self.0.clock.now(),
                Some("out of stock for the replacements"),
            );
            self.0.rma_exchange_short(tx, rma, &act).await?;
            return Ok(());
        }
        let id = order_id(&e.order_id)?;
        if !is_current(tx, id, &e.reservation_id).await? {
            return Ok(());
        }
        let named: Vec<String> = e
            .short_lines
            .iter()
            .map(|l| {
                format!(
                    "{} ({} of {})",
                    l.sku, l.available_quantity, l.requested_quantity
                )
            })
            .collect();
        let mut facts = Facts::event("inventory", envelope.id)
            .because(format!("out of stock: {}", named.join(", ")));
        facts.short_lines = e
            .short_lines
            .iter()
            .map(|l| pb::ShortLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                requested_quantity: l.requested_quantity,
                available_quantity: l.available_quantity,
            })
            .collect();
        self.0.apply(tx, id, Input::StockShortage, &facts).await?;
        Ok(())
    }
}

impl Handler<ReservationExpired> for OnInventory {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReservationExpired>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        if !is_current(tx, id, &e.reservation_id).await? {
            return Ok(());
        }
        let facts = Facts::event("inventory", envelope.id).because("the stock reservation expired");
        self.0
            .apply(tx, id, Input::ReservationExpired, &facts)
            .await?;
        Ok(())
    }
}

pub async fn subscribe(
    bus: &Bus,
    host: &mut Host,
    wf: &Workflow,
) -> Result<(), messaging::consumer::ConsumerError> {
    bus.consume::<StockReserved, _>(host, OnInventory(wf.clone()))
        .await?;
    bus.consume::<StockShortage, _>(host, OnInventory(wf.clone()))
        .await?;
    bus.consume::<ReservationExpired, _>(host, OnInventory(wf.clone()))
        .await
}
