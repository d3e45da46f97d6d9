//! `orders.order.accepted` → remember that the customer accepted the order (it may arrive
//! before the delivery event; the delivery fills in the rest).

use contracts::orders::OrderAccepted;
use contracts::time::from_timestamp;
use messaging::{Envelope, Handler, HandlerError};
use sqlx::PgConnection;

use super::{order_id, required};
use crate::store;

pub struct RecordAcceptance;

impl Handler<OrderAccepted> for RecordAcceptance {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<OrderAccepted>,
    ) -> Result<(), HandlerError> {
        let accepted = &envelope.event;
        let order_id = order_id(&accepted.order_id)?;
        let customer_id = required("customer id", &accepted.customer_id)?;
        let accepted_at = accepted
            .accepted_at
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(envelope.time);
        store::orders::record_acceptance(
            tx,
            order_id,
            &accepted.order_number,
            customer_id,
            accepted_at,
            accepted.auto_accepted,
        )
        .await?;
        Ok(())
    }
}
