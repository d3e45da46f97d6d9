//! `orders.reservation.release_requested` → give back what the reservation still holds (all of
//! it, or the named lines' units); and the expiry timer, which releases an unconfirmed
//! reservation at its time and reports `inventory.reservation.expired`.

use contracts::orders::ReservationReleaseRequested;
use messaging::{Envelope, Handler, HandlerError, Timer, TimerHandler, timers};
use sqlx::PgConnection;

use super::{RESERVATION_EXPIRY, expire, required, settle};
use crate::app::Shared;
use crate::domain::reservation::{LineRelease, ReservationStatus, plan_release, status_after};
use crate::store;
use crate::store::reservations::NewReservation;

pub struct Release(pub Shared);

impl Handler<ReservationReleaseRequested> for Release {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReservationReleaseRequested>,
    ) -> Result<(), HandlerError> {
        let shared = &self.0;
        let request = &envelope.event;
        let id = required(&request.reservation_id, "reservation_id")?;
        let lines: Vec<LineRelease> = request
            .lines
            .iter()
            .map(|l| {
                if l.quantity <= 0 {
                    return Err(HandlerError::permanent(format!(
                        "release of {id}: line {} quantity must be positive",
                        l.line_id
                    )));
                }
                Ok(LineRelease {
                    line_id: l.line_id.clone(),
                    quantity: l.quantity,
                })
            })
            .collect::<Result<_, _>>()?;
        if lines.is_empty() {
            // Before the reservation's lock: the timer poller takes the timer, then the
            // reservation.
            timers::cancel(tx, RESERVATION_EXPIRY, id).await?;
        }
        let now = shared.clock.now();
        // Released before it was reserved (events overtook each other): a tombstone makes the
        // late request reserve nothing.
        let tombstone = store::reservations::claim(
            tx,
            &NewReservation {
                id,
                order_id: request.order_id.trim(),
                order_number: "",
                status: ReservationStatus::Released,
                fulfillment_mode: "",
                pickup_store_id: "",
                expires_at: None,
            },
            now,
        )
        .await?;
        if tombstone {
            tracing::info!(reservation_id = id, "released before reserved");
            return Ok(());
        }
        let Some(mut reservation) = store::reservations::lock(tx, id).await? else {
            return Err(HandlerError::transient(format!(
                "reservation {id} vanished"
            )));
        };
        if !reservation.status.is_open() {
            tracing::info!(
                reservation_id = id,
                status = reservation.status.as_str(),
                "nothing held to release"
            );
            return Ok(());
        }
        let takes = plan_release(&reservation.allocations, &lines);
        settle(tx, shared, &mut reservation, &takes, false).await?;
        let status = status_after(reservation.status, &reservation.allocations);
        let expires_at = if status == ReservationStatus::Reserved {
            reservation.expires_at
        } else {
            None
        };
        store::reservations::set_status(tx, id, status, expires_at, now).await?;
        tracing::info!(
            reservation_id = id,
            status = status.as_str(),
            "stock released"
        );
        Ok(())
    }
}

/// Fires at a reservation's `expires_at`.
pub struct Expire(pub Shared);

impl TimerHandler for Expire {
    async fn fire(&self, tx: &mut PgConnection, timer: &Timer) -> Result<(), HandlerError> {
        let Some(reservation) = store::reservations::lock(tx, &timer.key).await? else {
            return Ok(());
        };
        // Confirmed, released or committed since: nothing expires.
        if reservation.status == ReservationStatus::Reserved {
            expire(tx, &self.0, reservation).await?;
        }
        Ok(())
    }
}
