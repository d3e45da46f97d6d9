//! Shipping's events about outbound shipments: created (kept for its tracking link), out for
//! delivery, delivered, a failed attempt. Return shipments and other tracking states send
//! nothing.

use contracts::shipping::{
    DeliveryFailureReason, ShipmentCreated, ShipmentDelivered, ShipmentDeliveryFailed,
    ShipmentDirection, ShipmentStatusChanged, TrackingStatus,
};
use messaging::{Envelope, Handler, HandlerError};
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::{Notifier, Source, code, when};
use crate::domain::messages::{
    SHIPMENT_DELIVERED, SHIPMENT_DELIVERY_FAILED, SHIPMENT_OUT_FOR_DELIVERY,
};
use crate::store::shipments::{self, Shipment};

fn outbound(direction: i32) -> bool {
    direction != ShipmentDirection::Return as i32
}

impl Handler<ShipmentCreated> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ShipmentCreated>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if !outbound(e.direction) {
            return Ok(());
        }
        let shipment = Shipment {
            shipment_id: e.shipment_id.clone(),
            order_id: e.order_id.clone(),
            carrier: e.carrier.clone(),
            tracking_number: e.tracking_number.clone(),
            tracking_url: e.tracking_url.clone(),
        };
        shipments::insert(tx, &shipment, self.now()).await?;
        Ok(())
    }
}

impl Handler<ShipmentStatusChanged> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ShipmentStatusChanged>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        // Delivered and failed attempts have events of their own; ETA-only changes are quiet.
        let entered = e.status == TrackingStatus::OutForDelivery as i32
            && e.previous_status != TrackingStatus::OutForDelivery as i32;
        if !outbound(e.direction) || !entered {
            return Ok(());
        }
        let contact = self.contact_of(tx, &e.order_id).await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            SHIPMENT_OUT_FOR_DELIVERY,
            &contact,
            out_for_delivery(e),
        )
        .await
    }
}

fn out_for_delivery(e: &ShipmentStatusChanged) -> Value {
    json!({
        "tracking_url": e.tracking_url,
        "eta": when(e.eta.as_ref()),
        "courier": e.courier.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
    })
}

impl Handler<ShipmentDelivered> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ShipmentDelivered>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if !outbound(e.direction) {
            return Ok(());
        }
        let contact = self.contact_of(tx, &e.order_id).await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            SHIPMENT_DELIVERED,
            &contact,
            delivered(e),
        )
        .await
    }
}

fn delivered(e: &ShipmentDelivered) -> Value {
    json!({"received_by": e.received_by})
}

impl Handler<ShipmentDeliveryFailed> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ShipmentDeliveryFailed>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if !outbound(e.direction) {
            return Ok(());
        }
        let contact = self.contact_of(tx, &e.order_id).await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            SHIPMENT_DELIVERY_FAILED,
            &contact,
            delivery_failed(e),
        )
        .await
    }
}

fn delivery_failed(e: &ShipmentDeliveryFailed) -> Value {
    let reason =
        DeliveryFailureReason::try_from(e.reason).unwrap_or(DeliveryFailureReason::Unspecified);
    json!({
        "reason": code(reason.as_str_name(), "DELIVERY_FAILURE_REASON_"),
        "attempt": e.attempt.max(1),
        "next_attempt": when(e.next_attempt_at.as_ref()),
        "returning": e.returning_to_sender,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::renders;
    use super::*;

    #[test]
    fn every_shipping_message_renders_from_its_event() {
        renders(
            SHIPMENT_OUT_FOR_DELIVERY,
            out_for_delivery(&ShipmentStatusChanged::default()),
        );
        renders(SHIPMENT_DELIVERED, delivered(&ShipmentDelivered::default()));
        renders(
            SHIPMENT_DELIVERY_FAILED,
            delivery_failed(&ShipmentDeliveryFailed::default()),
        );
    }
}
