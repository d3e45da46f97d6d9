//! Fulfillment's progress: created, parcels handed over, store pickup ready and collected.

use contracts::fulfillment::{
    FulfillmentCancelled, FulfillmentCreated, FulfillmentPickedUp, FulfillmentReadyForPickup,
    FulfillmentShortPicked, ParcelHandedOver,
};
use contracts::time::from_timestamp;
use messaging::{Bus, Envelope, Handler, HandlerError};
use runtime::Host;
use sqlx::PgConnection;

use super::order_id;
use crate::convert::parcel_lines;
use crate::domain::saga::Input;
use crate::returns::Act;
use crate::store::{self, shipments::Handover};
use crate::workflow::{Facts, ParcelFacts, Who, Workflow};

struct OnFulfillment(Workflow);

impl Handler<FulfillmentCreated> for OnFulfillment {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentCreated>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        let now = self.0.clock.now();
        store::shipments::upsert_fulfillment(
            tx,
            id,
            &e.fulfillment_id,
            &e.warehouse_id,
            "CREATED",
            now,
        )
        .await?;
        let facts = Facts::event("fulfillment", envelope.id).because(format!(
            "fulfilment {} created in {}",
            e.fulfillment_id, e.warehouse_id
        ));
        self.0
            .apply(tx, id, Input::FulfillmentCreated, &facts)
            .await?;
        Ok(())
    }
}

impl Handler<ParcelHandedOver> for OnFulfillment {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ParcelHandedOver>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        if !e.exchange_return_id.is_empty() {
            return self.replacement_handed_over(tx, envelope).await;
        }
        let at = e
            .handed_over_at
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(envelope.time);
        let fresh = store::shipments::record_handover(
            tx,
            id,
            &Handover {
                shipment_id: &e.shipment_id,
                fulfillment_id: &e.fulfillment_id,
                parcel_id: &e.parcel_id,
                warehouse_id: &e.warehouse_id,
                carrier: &e.carrier,
                tracking_number: &e.tracking_number,
                at,
                lines: &parcel_lines(e),
                replacement: false,
            },
        )
        .await?;
        if !fresh {
            // The same parcel reported again under another event id.
            return Ok(());
        }
        let lines: Vec<(String, i32)> = e
            .lines
            .iter()
            .map(|l| (l.line_id.clone(), l.quantity))
            .collect();
        let complete = store::shipments::add_shipped(tx, id, &lines).await?;
        let mut facts = Facts::event("fulfillment", envelope.id).because(format!(
            "parcel {} handed to {} ({})",
            e.parcel_id, e.carrier, e.tracking_number
        ));
        facts.parcel = Some(ParcelFacts {
            fulfillment_id: e.fulfillment_id.clone(),
            parcel_id: e.parcel_id.clone(),
            shipment_id: e.shipment_id.clone(),
            warehouse_id: e.warehouse_id.clone(),
            lines: e
                .lines
                .iter()
                .map(|l| (l.line_id.clone(), l.sku.clone(), l.quantity))
                .collect(),
        });
        self.0
            .apply(tx, id, Input::HandedOver { complete }, &facts)
            .await?;
        Ok(())
    }
}

impl OnFulfillment {
    /// An exchange's or repair's replacement left: its own reservation's stock is committed;
    /// the order's status and money are not touched (the replacement costs nothing).
    async fn replacement_handed_over(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ParcelHandedOver>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let rma_id = uuid::Uuid::parse_str(&e.exchange_return_id).map_err(|_| {
            HandlerError::permanent(format!(
                "exchange_return_id {:?} is not a UUID",
                e.exchange_return_id
            ))
        })?;
        let who = Who::service("fulfillment");
        let act = Act {
            who: &who,
            reason: None,
            event_id: Some(envelope.id),
            now: self.0.clock.now(),
        };
        self.0
            .rma_replacement_handed_over(tx, rma_id, e, &act)
            .await?;
        Ok(())
    }
}

impl Handler<FulfillmentReadyForPickup> for OnFulfillment {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentReadyForPickup>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        let now = self.0.clock.now();
        store::shipments::upsert_fulfillment(
            tx,
            id,
            &e.fulfillment_id,
            &e.warehouse_id,
            "READY_FOR_PICKUP",
            now,
        )
        .await?;
        let facts = Facts::event("fulfillment", envelope.id)
            .because(format!("ready for pickup at {}", e.warehouse_id));
        self.0.apply(tx, id, Input::ReadyForPickup, &facts).await?;
        Ok(())
    }
}

impl Handler<FulfillmentPickedUp> for OnFulfillment {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentPickedUp>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        let now = self.0.clock.now();
        store::shipments::upsert_fulfillment(
            tx,
            id,
            &e.fulfillment_id,
            &e.warehouse_id,
            "PICKED_UP",
            now,
        )
        .await?;
        let lines: Vec<(String, i32)> = e
            .lines
            .iter()
            .map(|l| (l.line_id.clone(), l.quantity))
            .collect();
        store::shipments::add_shipped(tx, id, &lines).await?;
        let mut facts = Facts::event("fulfillment", envelope.id)
            .because(format!("collected at {}", e.warehouse_id));
        facts.cash_collected = e.cash_collected.as_ref().map(|m| m.amount_minor);
        facts.parcel = Some(ParcelFacts {
            fulfillment_id: e.fulfillment_id.clone(),
            parcel_id: e.fulfillment_id.clone(),
            shipment_id: String::new(),
            warehouse_id: e.warehouse_id.clone(),
            lines: e
                .lines
                .iter()
                .map(|l| (l.line_id.clone(), l.sku.clone(), l.quantity))
                .collect(),
        });
        self.0.apply(tx, id, Input::PickedUp, &facts).await?;
        Ok(())
    }
}

impl Handler<FulfillmentCancelled> for OnFulfillment {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentCancelled>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        let now = self.0.clock.now();
        store::shipments::upsert_fulfillment(
            tx,
            id,
            &e.fulfillment_id,
            &e.warehouse_id,
            "CANCELLED",
            now,
        )
        .await?;
        Ok(())
    }
}

/// A short pick ships partially (the policy here): the missing units are cancelled on their
/// lines, their stock released and their value voided, so the rest of the order can ship,
/// settle and complete.
impl Handler<FulfillmentShortPicked> for OnFulfillment {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentShortPicked>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        let Some(order) = store::orders::get(tx, id)
            .await
            .map_err(crate::workflow::WorkflowError::from)?
        else {
            return Err(HandlerError::permanent(format!("unknown order {id}")));
        };
        let Some(row) = store::saga::read(tx, id).await? else {
            return Err(HandlerError::permanent(format!("unknown order {id}")));
        };
        let mut released = Vec::new();
        let mut value = 0i64;
        for line in &e.lines {
            let missing = line.expected_quantity - line.picked_quantity;
            if missing <= 0 {
                continue;
            }
            if !store::shipments::record_short_pick(
                tx,
                id,
                &e.fulfillment_id,
                &line.line_id,
                missing,
            )
            .await?
            {
                continue;
            }
            let cancelled = store::shipments::cancel_units(tx, id, &line.line_id, missing).await?;
            if cancelled == 0 {
                continue;
            }
            // Cancelled units are a line's last ones (shipped ones its first): valued at their
            // share of the line's charge, so shipped and cancelled parts add up to it.
            value += order
                .lines
                .iter()
                .find(|l| l.line_id == line.line_id)
                .map_or(0, |l| {
                    l.value_of(l.quantity - l.cancelled_quantity - cancelled, cancelled)
                });
            released.push(contracts::orders::ReservationLine {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                quantity: cancelled,
            });
        }
        if released.is_empty() {
            // The same short pick heard again: its units are cancelled already.
            return Ok(());
        }
        let now = self.0.clock.now();
        let ts = Some(contracts::time::to_timestamp(now));
        let reservation_id = row
            .reservation_id
            .map(|r| r.to_string())
            .unwrap_or_default();
        let release = contracts::orders::ReservationReleaseRequested {
            order_id: e.order_id.clone(),
            reservation_id,
            lines: released.clone(),
            reason: contracts::orders::CancelReason::FulfillmentFailed.into(),
            requested_at: ts,
            allocations: Vec::new(),
            update_id: String::new(),
        };
        let release_id = self.0.outbox.append(tx, &release).await?;
        let void = contracts::orders::PaymentVoidRequested {
            order_id: e.order_id.clone(),
            payment_id: row.payment_id.clone().unwrap_or_default(),
            amount: Some(crate::convert::money_pb(crate::domain::Money::new(
                order.total.currency,
                value,
            ))),
            reason: contracts::orders::CancelReason::FulfillmentFailed.into(),
            requested_at: ts,
        };
        self.0.outbox.append(tx, &void).await?;
        let named: Vec<String> = released
            .iter()
            .map(|l| format!("{} × {}", l.quantity, l.sku))
            .collect();
        store::timeline::append(
            tx,
            store::timeline::Entry {
                order_id: id,
                occurred_at: now,
                kind: "fulfillment.fulfillment.short_picked",
                summary: format!(
                    "short pick in {}: {} cancelled, stock released and {} voided; the rest ships",
                    e.warehouse_id,
                    named.join(", "),
                    crate::domain::Money::new(order.total.currency, value)
                ),
                actor_id: "fulfillment",
                actor_type: "service",
                reason: Some("ships partially"),
                status_before: None,
                status_after: None,
                event_id: Some(release_id),
            },
        )
        .await?;
        Ok(())
    }
}

pub async fn subscribe(
    bus: &Bus,
    host: &mut Host,
    wf: &Workflow,
) -> Result<(), messaging::consumer::ConsumerError> {
    bus.consume::<FulfillmentCreated, _>(host, OnFulfillment(wf.clone()))
        .await?;
    bus.consume::<ParcelHandedOver, _>(host, OnFulfillment(wf.clone()))
        .await?;
    bus.consume::<FulfillmentReadyForPickup, _>(host, OnFulfillment(wf.clone()))
        .await?;
    bus.consume::<FulfillmentPickedUp, _>(host, OnFulfillment(wf.clone()))
        .await?;
    bus.consume::<FulfillmentShortPicked, _>(host, OnFulfillment(wf.clone()))
        .await?;
    bus.consume::<FulfillmentCancelled, _>(host, OnFulfillment(wf.clone()))
        .await
}
