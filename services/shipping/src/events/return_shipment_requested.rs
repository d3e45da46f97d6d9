//! `orders.return_shipment.requested` → a return shipment from the customer to the return
//! warehouse, with its label (shipping renders every label). One per return: a repeat under
//! another event id finds the shipment of that return and does nothing more.

use contracts::orders::ReturnShipmentRequested;
use messaging::{Envelope, Handler, HandlerError};
use runtime::grpc::FieldViolations;
use sqlx::PgConnection;

use crate::app::Shipping;
use crate::booking::{Booked, BookingError, NewShipment};
use crate::domain::{Direction, ShipmentLine};
use crate::grpc::convert;

pub struct CreateReturnShipment {
    pub shipping: Shipping,
}

impl Handler<ReturnShipmentRequested> for CreateReturnShipment {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReturnShipmentRequested>,
    ) -> Result<(), HandlerError> {
        let r = &envelope.event;
        let mut v = FieldViolations::new();
        let return_id = convert::text(&mut v, "return_id", &r.return_id, true, 128);
        let order_id = convert::text(&mut v, "order_id", &r.order_id, true, 128);
        let warehouse_id = convert::text(
            &mut v,
            "return_warehouse_id",
            &r.return_warehouse_id,
            true,
            64,
        );
        let pickup = match &r.pickup_address {
            Some(a) => convert::address_in(&mut v, "pickup_address", a),
            None => {
                v.add("pickup_address", "is required");
                crate::domain::Address::default()
            }
        };
        if !v.is_empty() {
            let reasons: Vec<String> = v.iter().map(|(f, d)| format!("{f} {d}")).collect();
            return Err(HandlerError::permanent(format!(
                "ReturnShipmentRequested cannot apply: {}",
                reasons.join("; ")
            )));
        }
        let shipping = &self.shipping;
        let new = NewShipment {
            direction: Direction::Return,
            order_id,
            fulfillment_id: String::new(),
            parcel_id: String::new(),
            return_id,
            rma_number: r.rma_number.clone(),
            order_number: String::new(),
            warehouse_id: warehouse_id.clone(),
            ship_from: Some(pickup),
            ship_to: crate::domain::Address::default(),
            weight_grams: shipping.config.return_weight_grams,
            dimensions: None,
            lines: r
                .lines
                .iter()
                .map(|l| ShipmentLine {
                    sku: l.sku.clone(),
                    name: String::new(),
                    quantity: l.quantity,
                })
                .collect(),
            declared_value: None,
            cash_on_delivery: None,
            preferred_carrier: String::new(),
            service_level: String::new(),
        };
        let booking = shipping.booking();
        // The goods go to the return warehouse, whose address shipping knows from its outbound
        // parcels (or configuration).
        let ship_to = match booking.warehouse_address(tx, &warehouse_id).await {
            Ok(address) => address,
            Err(BookingError::Store(err)) => return Err(HandlerError::transient(err)),
            Err(err) => return Err(HandlerError::permanent(err)),
        };
        let new = NewShipment { ship_to, ..new };
        match booking.book(tx, &new, None, shipping.clock.now()).await {
            Ok(Booked::New(shipment)) => {
                tracing::info!(return_id = %r.return_id, shipment_id = %shipment.id, "return shipment created");
                Ok(())
            }
            Ok(Booked::Existing { .. }) => Ok(()),
            Err(BookingError::Store(err)) => Err(HandlerError::transient(err)),
            Err(err) => Err(HandlerError::permanent(err)),
        }
    }
}
