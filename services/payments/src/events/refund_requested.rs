//! `orders.payment.refund_requested` → refund (part of) the captured money, never more than was
//! captured and not yet refunded; publish `payments.payment.refunded`. A refund is keyed by its
//! return or case, so the same return is refunded once however often it is asked.

use contracts::orders::{PaymentRefundRequested, RefundReason};
use messaging::{Envelope, Handler, HandlerError};
use sqlx::PgConnection;

use super::{amount, apply_or_park};
use crate::movements::{MoveRequest, Movements, PARKED_REFUND};

pub struct Refund {
    pub movements: Movements,
}

impl Handler<PaymentRefundRequested> for Refund {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentRefundRequested>,
    ) -> Result<(), HandlerError> {
        let event = &envelope.event;
        let (amount, currency) = amount(event.amount.as_ref())?;
        let key = if !event.return_id.is_empty() {
            format!("refund:return:{}", event.return_id)
        } else if !event.case_id.is_empty() {
            format!("refund:case:{}", event.case_id)
        } else {
            format!("refund:event:{}", envelope.id)
        };
        let mut reason = RefundReason::try_from(event.reason)
            .map(|r| r.as_str_name().to_owned())
            .unwrap_or_default();
        if !event.note.is_empty() && !runtime::pan::looks_like_card_number(&event.note) {
            reason = format!("{reason}: {}", event.note);
        }
        let request = MoveRequest {
            key,
            amount,
            reason,
            return_id: event.return_id.clone(),
            case_id: event.case_id.clone(),
            currency,
            ..MoveRequest::default()
        };
        let movements = &self.movements;
        apply_or_park(
            tx,
            &movements.clock,
            &event.order_id,
            &event.payment_id,
            PARKED_REFUND,
            request,
            async |tx, payment, request| movements.refund(tx, payment, request).await,
        )
        .await
    }
}
