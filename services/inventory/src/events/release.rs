//! `orders.reservation.release_requested` → give back what the reservation still holds: all of
//! it, the named lines' units, or — for an order update — exactly the named units per warehouse
//! and line; and the expiry timer, which releases an unconfirmed reservation at its time and
//! reports `inventory.reservation.expired`.
//!
//! An exact release belongs to an order update, after which fulfillment holds the same units as
//! inventory: it leaves the expiry timer and every other unit alone, and leaves no tombstone
//! (giving back some units must not stop a late reservation from being made). A release naming
//! its update is applied once per (reservation, update), whatever the event id it comes under.

use contracts::orders::ReservationReleaseRequested;
use messaging::{Envelope, Handler, HandlerError, Timer, TimerHandler, timers};
use sqlx::PgConnection;

use super::{RESERVATION_EXPIRY, expire, required, settle};
use crate::app::Shared;
use crate::domain::reservation::{
    LineRelease, LineUnits, ReservationStatus, UpdateKind, plan_exact_release, plan_release,
    status_after,
};
use crate::store;
use crate::store::reservations::NewReservation;

pub struct Release(pub Shared);

/// What a release request asks for.
enum Asked {
    /// Everything still held (no lines named).
    Everything,
    /// Up to each line's quantity, wherever it is held.
    Lines(Vec<LineRelease>),
    /// Exactly these units per warehouse and line.
    Exact(Vec<LineUnits>),
}

fn asked(id: &str, request: &ReservationReleaseRequested) -> Result<Asked, HandlerError> {
    let not_positive = |line_id: &str| {
        HandlerError::permanent(format!(
            "release of {id}: line {line_id} quantity must be positive"
        ))
    };
    if !request.allocations.is_empty() {
        return request
            .allocations
            .iter()
            .map(|a| {
                if a.quantity <= 0 || a.bins.iter().any(|b| b.quantity <= 0) {
                    return Err(not_positive(&a.line_id));
                }
                Ok(LineUnits {
                    line_id: required(&a.line_id, "allocations[].line_id")?.to_owned(),
                    warehouse_id: required(&a.warehouse_id, "allocations[].warehouse_id")?
                        .to_owned(),
                    quantity: a.quantity,
                    bins: a.bins.iter().map(|b| (b.bin.clone(), b.quantity)).collect(),
                })
            })
            .collect::<Result<_, _>>()
            .map(Asked::Exact);
    }
    if request.lines.is_empty() {
        return Ok(Asked::Everything);
    }
    request
        .lines
        .iter()
        .map(|l| {
            if l.quantity <= 0 {
                return Err(not_positive(&l.line_id));
            }
            Ok(LineRelease {
                line_id: l.line_id.clone(),
                quantity: l.quantity,
            })
        })
        .collect::<Result<_, _>>()
        .map(Asked::Lines)
}

impl Handler<ReservationReleaseRequested> for Release {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReservationReleaseRequested>,
    ) -> Result<(), HandlerError> {
        let shared = &self.0;
        let request = &envelope.event;
        let id = required(&request.reservation_id, "reservation_id")?;
        let asked = asked(id, request)?;
        let now = shared.clock.now();
        if !matches!(asked, Asked::Exact(_)) {
            if matches!(asked, Asked::Everything) {
                // Before the reservation's lock: the timer poller takes the timer, then the
                // reservation.
                timers::cancel(tx, RESERVATION_EXPIRY, id).await?;
            }
            // Released before it was reserved (events overtook each other): a tombstone makes
            // the late request reserve nothing.
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
        }
        let Some(mut reservation) = store::reservations::lock(tx, id).await? else {
            if matches!(asked, Asked::Exact(_)) {
                tracing::warn!(
                    reservation_id = id,
                    "exact release of an unknown reservation"
                );
                return Ok(());
            }
            return Err(HandlerError::transient(format!(
                "reservation {id} vanished"
            )));
        };
        let update_id = request.update_id.trim();
        if !update_id.is_empty()
            && store::updates::claim(tx, id, update_id, UpdateKind::Release, now)
                .await?
                .is_some()
        {
            tracing::info!(reservation_id = id, update_id, "update released already");
            return Ok(());
        }
        if !reservation.status.is_open() {
            tracing::info!(
                reservation_id = id,
                status = reservation.status.as_str(),
                "nothing held to release"
            );
            return Ok(());
        }
        let takes = match &asked {
            Asked::Everything => plan_release(&reservation.allocations, &[]),
            Asked::Lines(lines) => plan_release(&reservation.allocations, lines),
            Asked::Exact(units) => {
                let (takes, missing) = plan_exact_release(&reservation.allocations, units);
                if missing > 0 {
                    // Units committed or released before cannot come back twice: the release
                    // gives back what is still held.
                    tracing::warn!(
                        reservation_id = id,
                        update_id,
                        missing,
                        "exact release names units the reservation does not hold"
                    );
                }
                takes
            }
        };
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
