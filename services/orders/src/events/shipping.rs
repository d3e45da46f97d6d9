//! Shipping's tracking of our outbound parcels (returns are the RMA's business), including a
//! parcel the carrier brings back undelivered.

use contracts::shipping::{
    ShipmentCreated, ShipmentDelivered, ShipmentDeliveryFailed, ShipmentDirection,
    ShipmentStatusChanged, TrackingStatus,
};
use contracts::time::from_timestamp;
use messaging::{Bus, Envelope, Handler, HandlerError};
use runtime::Host;
use sqlx::PgConnection;

use super::order_id;
use crate::domain::saga::Input;
use crate::returns::{Act, policy};
use crate::store::{self, shipments::Tracking};
use crate::workflow::{Facts, Workflow};

struct OnShipping(Workflow);

fn outbound(direction: i32) -> bool {
    direction != ShipmentDirection::Return as i32
}

impl Handler<ShipmentCreated> for OnShipping {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ShipmentCreated>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if !outbound(e.direction) {
            // A return label and shipment for one of our RMAs.
            if let Ok(rma) = uuid::Uuid::parse_str(&e.return_id) {
                store::returns::set_shipment(tx, rma, &e.shipment_id, &e.tracking_number).await?;
            }
            return Ok(());
        }
        store::shipments::record_tracking(
            tx,
            order_id(&e.order_id)?,
            &Tracking {
                shipment_id: &e.shipment_id,
                carrier: &e.carrier,
                tracking_number: &e.tracking_number,
                tracking_url: &e.tracking_url,
                status: "CREATED",
                eta: e.eta.as_ref().and_then(from_timestamp),
            },
        )
        .await?;
        Ok(())
    }
}

impl Handler<ShipmentStatusChanged> for OnShipping {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ShipmentStatusChanged>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if !outbound(e.direction) {
            return Ok(());
        }
        let status = e
            .status()
            .as_str_name()
            .trim_start_matches("TRACKING_STATUS_")
            .to_owned();
        let id = order_id(&e.order_id)?;
        store::shipments::record_tracking(
            tx,
            id,
            &Tracking {
                shipment_id: &e.shipment_id,
                carrier: &e.carrier,
                tracking_number: &e.tracking_number,
                tracking_url: &e.tracking_url,
                status: &status,
                eta: e.eta.as_ref().and_then(from_timestamp),
            },
        )
        .await?;
        if e.status() == TrackingStatus::ReturnedToSender {
            // The failed attempt before it says whether it was refused; heard first, this
            // cannot tell, and calls it undeliverable.
            self.returned_to_sender(tx, id, &e.shipment_id, false, envelope.id)
                .await?;
        }
        Ok(())
    }
}

impl Handler<ShipmentDelivered> for OnShipping {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ShipmentDelivered>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if !outbound(e.direction) {
            return Ok(());
        }
        let id = order_id(&e.order_id)?;
        let at = e
            .delivered_at
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(envelope.time);
        let cash = e
            .cash_collected
            .as_ref()
            .map(|m| m.amount_minor)
            .filter(|c| *c > 0);
        let (fresh, all) =
            store::shipments::record_delivered(tx, id, &e.shipment_id, at, cash).await?;
        if !fresh {
            return Ok(());
        }
        let mut facts = Facts::event("shipping", envelope.id)
            .because(format!("shipment {} delivered", e.tracking_number));
        facts.cash_collected = cash;
        facts.shipment_id = Some(e.shipment_id.clone());
        self.0
            .apply(tx, id, Input::ShipmentDelivered { all }, &facts)
            .await?;
        Ok(())
    }
}

impl Handler<ShipmentDeliveryFailed> for OnShipping {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ShipmentDeliveryFailed>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if !outbound(e.direction) {
            return Ok(());
        }
        let id = order_id(&e.order_id)?;
        store::timeline::append(
            tx,
            store::timeline::Entry {
                order_id: id,
                occurred_at: self.0.clock.now(),
                kind: "shipping.shipment.delivery_failed",
                summary: format!(
                    "delivery attempt {} of {} failed{}",
                    e.attempt,
                    e.tracking_number,
                    if e.returning_to_sender {
                        "; returning to sender"
                    } else {
                        ""
                    }
                ),
                actor_id: "shipping",
                actor_type: "service",
                reason: Some(e.description.as_str()).filter(|d| !d.is_empty()),
                status_before: None,
                status_after: None,
                event_id: Some(envelope.id),
            },
        )
        .await?;
        if e.returning_to_sender {
            let refused = e.reason() == contracts::shipping::DeliveryFailureReason::Refused
                || e.reason() == contracts::shipping::DeliveryFailureReason::PaymentNotAvailable;
            self.returned_to_sender(tx, id, &e.shipment_id, refused, envelope.id)
                .await?;
        }
        Ok(())
    }
}

impl OnShipping {
    /// A parcel on its way back to us: open its RMA, and cancel the order when nothing of it
    /// reached the customer. Heard from the last failed attempt or from the tracking status,
    /// whichever comes first; the second finds the shipment marked and does nothing.
    async fn returned_to_sender(
        &self,
        tx: &mut PgConnection,
        id: uuid::Uuid,
        shipment_id: &str,
        refused: bool,
        event_id: uuid::Uuid,
    ) -> Result<(), HandlerError> {
        let Some(order) = store::orders::get(tx, id)
            .await
            .map_err(crate::workflow::WorkflowError::from)?
        else {
            return Err(HandlerError::permanent(format!("order {id} is not ours")));
        };
        let who = policy();
        let act = Act {
            who: &who,
            reason: None,
            event_id: Some(event_id),
            now: self.0.clock.now(),
        };
        if !self
            .0
            .rma_returned_to_sender(tx, &order, shipment_id, refused, &act)
            .await?
        {
            return Ok(());
        }
        let all = store::shipments::all_returning(tx, id).await?;
        let facts = Facts::event("shipping", event_id).because(if refused {
            "the parcel was refused at the door"
        } else {
            "the carrier could not deliver the parcel"
        });
        self.0
            .apply(tx, id, Input::ReturnedToSender { all, refused }, &facts)
            .await?;
        Ok(())
    }
}

pub async fn subscribe(
    bus: &Bus,
    host: &mut Host,
    wf: &Workflow,
) -> Result<(), messaging::consumer::ConsumerError> {
    bus.consume::<ShipmentCreated, _>(host, OnShipping(wf.clone()))
        .await?;
    bus.consume::<ShipmentStatusChanged, _>(host, OnShipping(wf.clone()))
        .await?;
    bus.consume::<ShipmentDelivered, _>(host, OnShipping(wf.clone()))
        .await?;
    bus.consume::<ShipmentDeliveryFailed, _>(host, OnShipping(wf.clone()))
        .await
}
