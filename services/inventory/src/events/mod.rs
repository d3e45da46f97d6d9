//! Handlers for orders' requests to inventory, and the reservation-expiry timer.
//!
//! Each runs in the consumer's transaction (with the inbox, so a redelivered event is applied
//! once). Beyond that each is idempotent by state or natural key, since orders may ask again
//! under a new event id: a reservation id is created once; a release applies to what is still
//! held; a commit is recorded by (reservation, fulfillment, parcel); a restock by its return;
//! an order update's amendment or release by (reservation, update). Requests that arrive out of
//! order are handled by state: a release before its reservation leaves a RELEASED tombstone, so
//! the late request reserves nothing. Requests that can never apply (malformed, or a confirm or
//! commit for a reservation that does not exist) are permanent errors: the runner dead-letters
//! them for a person to look at — except an amendment, which has an answer: it is refused.
//!
//! [`hold`] is where a new reservation and an amendment take stock from the warehouses;
//! [`settle`] is where releases, expiries and commits give it back or let it go.

mod amend;
mod commit;
mod confirm;
mod hold;
mod release;
mod reserve;
mod restock;

use std::collections::BTreeMap;

use contracts::common;
use contracts::inventory::ReservationExpired;
use contracts::time::to_timestamp;
use messaging::HandlerError;
use sqlx::PgConnection;

pub use amend::Amend;
pub use commit::Commit;
pub use confirm::Confirm;
pub use release::{Expire, Release};
pub use reserve::Reserve;
pub use restock::Restock;

use crate::app::Shared;
use crate::domain::reservation::{Held, Reservation, ReservationStatus, Take, plan_release};
use crate::stock_changes::{self, Touched};
use crate::store;

/// Timer kind of reservation expiry; the key is the reservation id.
pub const RESERVATION_EXPIRY: &str = "inventory.reservation.expiry";

/// Groups taken units per (line, sku, warehouse) with their bins in pick-path order, the shape
/// of `Allocation` in every event.
fn allocations(held: &[Held], takes: &[Take]) -> Vec<common::Allocation> {
    let mut grouped: BTreeMap<(usize, &str, &str), Vec<common::BinAllocation>> = BTreeMap::new();
    for take in takes {
        let h = &held[take.index];
        // Keyed by the first allocation of the line so lines keep the reservation's order.
        let first = held
            .iter()
            .position(|x| x.line_id == h.line_id)
            .unwrap_or(take.index);
        grouped
            .entry((first, h.warehouse_id.as_str(), h.sku.as_str()))
            .or_default()
            .push(common::BinAllocation {
                bin: h.bin.clone(),
                quantity: take.quantity,
                pick_sequence: h.pick_sequence,
            });
    }
    grouped
        .into_iter()
        .map(|((first, warehouse_id, sku), mut bins)| {
            bins.sort_by(|a, b| (a.pick_sequence, &a.bin).cmp(&(b.pick_sequence, &b.bin)));
            common::Allocation {
                line_id: held[first].line_id.clone(),
                sku: sku.to_owned(),
                warehouse_id: warehouse_id.to_owned(),
                quantity: bins.iter().map(|b| b.quantity).sum(),
                bins,
            }
        })
        .collect()
}

/// Moves units out of held: `commit` takes them off on-hand too (goods left), otherwise they
/// go back to available. Locks the bins in the common order first.
async fn settle(
    conn: &mut PgConnection,
    shared: &Shared,
    reservation: &mut Reservation,
    takes: &[Take],
    commit: bool,
) -> Result<(), HandlerError> {
    let now = shared.clock.now();
    let mut keys: Vec<(String, String, String)> = takes
        .iter()
        .map(|t| {
            let h = &reservation.allocations[t.index];
            (h.sku.clone(), h.warehouse_id.clone(), h.bin.clone())
        })
        .collect();
    keys.sort();
    keys.dedup();
    store::stock::lock_bins(conn, &keys).await?;
    let mut touched = Touched::new();
    for take in takes {
        let held = &reservation.allocations[take.index];
        let key = (
            held.sku.as_str(),
            held.warehouse_id.as_str(),
            held.bin.as_str(),
        );
        let on_hand = if commit { -take.quantity } else { 0 };
        if !store::stock::shift(conn, key, -take.quantity, on_hand, now).await? {
            return Err(HandlerError::permanent(format!(
                "reservation {} holds {} units of {} in {}/{} that the bin does not have",
                reservation.id, take.quantity, held.sku, held.warehouse_id, held.bin
            )));
        }
        let (committed, released) = if commit {
            (take.quantity, 0)
        } else {
            (0, take.quantity)
        };
        store::reservations::settle(conn, &reservation.id, held, committed, released).await?;
        if commit {
            store::stock::record_movement(
                conn,
                &store::stock::Movement {
                    sku: &held.sku,
                    warehouse_id: &held.warehouse_id,
                    bin: &held.bin,
                    delta: -take.quantity,
                    kind: crate::domain::stock::MovementKind::Committed,
                    reason: None,
                    reference: &reservation.id,
                    note: "",
                    actor_id: "",
                },
                now,
            )
            .await?;
            store::demand::record(
                conn,
                &held.sku,
                &held.warehouse_id,
                now.date_naive(),
                take.quantity,
            )
            .await?;
        }
        touched.insert((held.sku.clone(), held.warehouse_id.clone()));
    }
    for take in takes {
        let held = &mut reservation.allocations[take.index];
        if commit {
            held.committed += take.quantity;
        } else {
            held.released += take.quantity;
        }
    }
    stock_changes::after_change(conn, shared, &touched).await?;
    Ok(())
}

/// Releases everything an unconfirmed reservation holds and reports it expired. The caller has
/// locked the reservation and checked it is RESERVED and past its time.
async fn expire(
    conn: &mut PgConnection,
    shared: &Shared,
    mut reservation: Reservation,
) -> Result<(), HandlerError> {
    let takes = plan_release(&reservation.allocations, &[]);
    let released = allocations(&reservation.allocations, &takes);
    settle(conn, shared, &mut reservation, &takes, false).await?;
    let now = shared.clock.now();
    store::reservations::set_status(conn, &reservation.id, ReservationStatus::Expired, None, now)
        .await?;
    shared
        .outbox
        .append(
            conn,
            &ReservationExpired {
                reservation_id: reservation.id.clone(),
                order_id: reservation.order_id.clone(),
                released,
                expired_at: Some(to_timestamp(now)),
            },
        )
        .await?;
    tracing::info!(reservation_id = %reservation.id, "reservation expired");
    Ok(())
}

/// A required text field of an event, or a permanent error naming it.
fn required<'a>(value: &'a str, field: &str) -> Result<&'a str, HandlerError> {
    let value = value.trim();
    if value.is_empty() {
        Err(HandlerError::permanent(format!("{field} is required")))
    } else {
        Ok(value)
    }
}
