//! `orders.payment.amend_requested` → "from now on the payment covers `amount`": raise the
//! hold (card, wallet) or the amount to collect (cash on delivery), or void the difference;
//! publish `payments.payment.amended`, or `.amend_declined` with the reason. The rules are in
//! `movements::amend`. Every request gets an answer — also one for an unknown payment or with
//! a broken amount — so nothing here is poison, and a repeat of the same (payment, update,
//! compensation) is answered as the first time without changing anything.

use contracts::orders::PaymentAmendRequested;
use messaging::{Envelope, Handler, HandlerError};
use sqlx::PgConnection;

use crate::movements::{AmendRequest, MoveFailure, Movements};

pub struct Amend {
    pub movements: Movements,
}

impl Handler<PaymentAmendRequested> for Amend {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentAmendRequested>,
    ) -> Result<(), HandlerError> {
        let event = &envelope.event;
        let request = AmendRequest {
            order_id: event.order_id.clone(),
            payment_id: event.payment_id.clone(),
            update_id: event.update_id.clone(),
            amount: event
                .amount
                .as_ref()
                .map(|m| (m.currency_code.clone(), m.amount_minor)),
            compensation: event.compensation,
        };
        match self.movements.amend(tx, &request).await {
            Ok(()) => Ok(()),
            Err(MoveFailure::Store(err)) => Err(err.into()),
            // Only a provider outage while voiding a decrease gets here: retried.
            Err(other) => Err(HandlerError::transient(other)),
        }
    }
}
