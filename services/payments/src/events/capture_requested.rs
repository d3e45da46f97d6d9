//! `orders.payment.capture_requested` → capture that shipment's share (card, wallet) or record
//! the cash collected (cash on delivery); publish `payments.payment.captured`, and
//! `payments.order.settled` once everything owed is captured. Installments ignore it (they are
//! captured on the plan's schedule), as do bank transfers (captured at confirmation).

use contracts::orders::PaymentCaptureRequested;
use messaging::{Envelope, Handler, HandlerError};
use sqlx::PgConnection;

use super::{amount, apply_or_park};
use crate::movements::{MoveRequest, Movements, PARKED_CAPTURE};

pub struct Capture {
    pub movements: Movements,
}

impl Handler<PaymentCaptureRequested> for Capture {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentCaptureRequested>,
    ) -> Result<(), HandlerError> {
        let event = &envelope.event;
        let (amount, currency) = amount(event.amount.as_ref())?;
        // One capture per shipment (or pickup): the same share asked twice is captured once.
        let key = if !event.shipment_id.is_empty() {
            format!("capture:shipment:{}", event.shipment_id)
        } else if !event.fulfillment_id.is_empty() {
            format!("capture:fulfillment:{}", event.fulfillment_id)
        } else {
            format!("capture:event:{}", envelope.id)
        };
        let request = MoveRequest {
            key,
            amount,
            shipment_id: event.shipment_id.clone(),
            reason: if event.cash_collected {
                "cash collected".into()
            } else {
                String::new()
            },
            currency,
            ..MoveRequest::default()
        };
        let movements = &self.movements;
        apply_or_park(
            tx,
            &movements.clock,
            &event.order_id,
            &event.payment_id,
            PARKED_CAPTURE,
            request,
            async |tx, payment, request| movements.capture(tx, payment, request).await,
        )
        .await
    }
}
