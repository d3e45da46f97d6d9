//! Fulfillment's progress: created, parcels handed over, store pickup ready and collected.

use contracts::fulfillment::{
    FulfillmentCancelled, FulfillmentCreated, FulfillmentPickedUp, FulfillmentReadyForPickup,
    ParcelHandedOver,
};
use contracts::time::from_timestamp;
use messaging::{Bus, Envelope, Handler, HandlerError};
use runtime::Host;
use sqlx::PgConnection;

use super::order_id;
use crate::domain::saga::Input;
use crate::store::{self, shipments::Handover};
use crate::workflow::{Facts, ParcelFacts, Workflow};

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
    bus.consume::<FulfillmentCancelled, _>(host, OnFulfillment(wf.clone()))
        .await
}
