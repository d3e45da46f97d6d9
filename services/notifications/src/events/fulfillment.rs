//! Fulfillment's events: a parcel handed to its carrier ("shipped", with the tracking link
//! shipping gave it), and a store order ready for pickup (with the pickup code).

use contracts::fulfillment::{FulfillmentReadyForPickup, ParcelHandedOver};
use messaging::{Envelope, Handler, HandlerError};
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::{Notifier, Source, amount};
use crate::domain::messages::{PICKUP_READY, SHIPMENT_SHIPPED};
use crate::store::shipments::{self, Shipment};

impl Handler<ParcelHandedOver> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ParcelHandedOver>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let contact = self.contact_of(tx, &e.order_id).await?;
        // Shipping publishes the link when it creates the shipment, at packing; without it
        // the message still names the carrier and tracking number.
        let shipment = shipments::get(tx, &e.shipment_id)
            .await?
            .unwrap_or_default();
        self.to_customer(
            tx,
            &Source::of(envelope),
            SHIPMENT_SHIPPED,
            &contact,
            shipped(e, &shipment),
        )
        .await
    }
}

fn shipped(e: &ParcelHandedOver, shipment: &Shipment) -> Value {
    json!({
        "carrier": e.carrier,
        "tracking_number": e.tracking_number,
        "tracking_url": shipment.tracking_url,
    })
}

impl Handler<FulfillmentReadyForPickup> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentReadyForPickup>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if e.pickup_code.is_empty() {
            return Err(HandlerError::permanent(
                "ready for pickup without a pickup code",
            ));
        }
        let contact = self
            .remember(tx, &e.order_id, &e.order_number, e.customer.as_ref())
            .await?;
        self.to_customer(tx, &Source::of(envelope), PICKUP_READY, &contact, ready(e))
            .await
    }
}

fn ready(e: &FulfillmentReadyForPickup) -> Value {
    json!({
        "pickup_code": e.pickup_code,
        "store": e.warehouse_id,
        "shelf": e.shelf_location,
        "cash_due": amount(e.cash_due.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::renders;
    use super::*;

    #[test]
    fn every_fulfillment_message_renders_from_its_event() {
        renders(
            SHIPMENT_SHIPPED,
            shipped(&ParcelHandedOver::default(), &Shipment::default()),
        );
        renders(PICKUP_READY, ready(&FulfillmentReadyForPickup::default()));
    }
}
