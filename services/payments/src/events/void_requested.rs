//! `orders.payment.void_requested` → release (part of) the authorization, cancel a pending bank
//! transfer, or cancel the rest of an installment plan; publish `payments.payment.voided`. A
//! void with nothing left to release (everything captured) is refused in the log: captured
//! money goes back by refund.

use contracts::orders::{CancelReason, PaymentVoidRequested};
use messaging::{Envelope, Handler, HandlerError};
use sqlx::PgConnection;

use super::{amount, apply_or_park};
use crate::movements::{MoveRequest, Movements, PARKED_VOID};

pub struct Void {
    pub movements: Movements,
}

impl Handler<PaymentVoidRequested> for Void {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentVoidRequested>,
    ) -> Result<(), HandlerError> {
        let event = &envelope.event;
        let (amount, currency) = amount(event.amount.as_ref())?;
        let reason = CancelReason::try_from(event.reason)
            .map(|r| r.as_str_name().to_owned())
            .unwrap_or_default();
        let request = MoveRequest {
            key: format!("void:event:{}", envelope.id),
            amount,
            reason,
            currency,
            ..MoveRequest::default()
        };
        let movements = &self.movements;
        apply_or_park(
            tx,
            &movements.clock,
            &event.order_id,
            &event.payment_id,
            PARKED_VOID,
            request,
            async |tx, payment, request| movements.void(tx, payment, request).await,
        )
        .await
    }
}
