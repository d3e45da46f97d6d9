//! `orders.reservation.confirm_requested` → the reservation becomes firm: it no longer
//! expires. A confirmation that comes after the reservation's time expires it instead (the
//! timer may simply not have fired yet): the rule "unconfirmed past its TTL means expired" does
//! not depend on the poller's timing.

use contracts::orders::ReservationConfirmRequested;
use messaging::{Envelope, Handler, HandlerError, timers};
use sqlx::PgConnection;

use super::{RESERVATION_EXPIRY, expire, required};
use crate::app::Shared;
use crate::domain::reservation::ReservationStatus;
use crate::store;

pub struct Confirm(pub Shared);

impl Handler<ReservationConfirmRequested> for Confirm {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReservationConfirmRequested>,
    ) -> Result<(), HandlerError> {
        let shared = &self.0;
        let request = &envelope.event;
        let id = required(&request.reservation_id, "reservation_id")?;
        // Before the reservation's lock: the timer poller takes the timer, then the reservation.
        timers::cancel(tx, RESERVATION_EXPIRY, id).await?;
        let Some(reservation) = store::reservations::lock(tx, id).await? else {
            // Orders confirms only what inventory reported reserved: this cannot apply.
            return Err(HandlerError::permanent(format!(
                "confirm for unknown reservation {id}"
            )));
        };
        if !request.order_id.is_empty() && request.order_id != reservation.order_id {
            return Err(HandlerError::permanent(format!(
                "reservation {id} belongs to order {}, not {}",
                reservation.order_id, request.order_id
            )));
        }
        let now = shared.clock.now();
        match reservation.status {
            ReservationStatus::Reserved if reservation.expires_at.is_some_and(|at| at <= now) => {
                expire(tx, shared, reservation).await?;
            }
            ReservationStatus::Reserved => {
                store::reservations::set_status(tx, id, ReservationStatus::Firm, None, now).await?;
                tracing::info!(reservation_id = id, "reservation firm");
            }
            status => {
                // Firm already, or over (expired, released, short): nothing to confirm.
                tracing::info!(
                    reservation_id = id,
                    status = status.as_str(),
                    "confirm ignored"
                );
            }
        }
        Ok(())
    }
}
