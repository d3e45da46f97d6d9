//! `orders.reservation.requested` → hold every line (all or nothing) and answer
//! `inventory.reservation.reserved` with the allocations, or `inventory.reservation.shortage`
//! with the lines that cannot be filled. Where the units come from, and how they are held
//! without overselling, is [`super::hold`].

use chrono::{DateTime, Utc};
use contracts::common::FulfillmentMode;
use contracts::inventory::{StockReserved, StockShortage};
use contracts::orders::ReservationRequested;
use contracts::time::{from_timestamp, to_timestamp};
use messaging::{Envelope, Handler, HandlerError, timers};
use sqlx::PgConnection;

use super::{hold, required};
use crate::app::Shared;
use crate::domain::allocation::{Outcome, Routing};
use crate::domain::reservation::ReservationStatus;
use crate::store;
use crate::store::reservations::NewReservation;

pub struct Reserve(pub Shared);

/// When the hold ends: the request's `expires_at`, else its time plus its TTL, else the
/// configured default TTL from now.
fn expires_at(
    request: &ReservationRequested,
    shared: &Shared,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    if let Some(at) = request.expires_at.as_ref().and_then(from_timestamp) {
        return at;
    }
    let ttl = request
        .ttl
        .as_ref()
        .and_then(|d| std::time::Duration::try_from(*d).ok())
        .unwrap_or(shared.config.default_ttl);
    let from = request
        .requested_at
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(now);
    from + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)
}

impl Handler<ReservationRequested> for Reserve {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReservationRequested>,
    ) -> Result<(), HandlerError> {
        let shared = &self.0;
        let request = &envelope.event;
        let id = required(&request.reservation_id, "reservation_id")?;
        let order_id = required(&request.order_id, "order_id")?;
        let lines = hold::demands(&request.lines).map_err(HandlerError::permanent)?;
        let pickup = request.fulfillment_mode == FulfillmentMode::StorePickup as i32;
        let routing = if pickup {
            Routing::Pickup {
                store_id: required(&request.pickup_store_id, "pickup_store_id")?.to_owned(),
            }
        } else {
            Routing::Ship {
                country_code: request.ship_to_country_code.trim().to_owned(),
                region: request.ship_to_region.trim().to_owned(),
                allow_split: request.allow_split,
            }
        };
        let now = shared.clock.now();
        let expires_at = expires_at(request, shared, now);
        let claimed = store::reservations::claim(
            tx,
            &NewReservation {
                id,
                order_id,
                order_number: request.order_number.trim(),
                status: ReservationStatus::Reserved,
                fulfillment_mode: if pickup { "STORE_PICKUP" } else { "SHIP" },
                pickup_store_id: request.pickup_store_id.trim(),
                expires_at: Some(expires_at),
            },
            now,
        )
        .await?;
        if !claimed {
            // Asked again, or released before it arrived: the first outcome stands.
            tracing::info!(
                reservation_id = id,
                "reservation exists already; nothing to do"
            );
            return Ok(());
        }

        match hold::hold(tx, shared, id, &lines, &routing).await? {
            Outcome::Reserved(allocations) => {
                store::reservations::insert_lines(tx, id, &lines, &[]).await?;
                store::reservations::add_allocations(tx, id, &allocations).await?;
                timers::schedule(
                    tx,
                    super::RESERVATION_EXPIRY,
                    id,
                    expires_at,
                    &serde_json::json!({}),
                )
                .await?;
                let event = StockReserved {
                    reservation_id: id.to_owned(),
                    order_id: order_id.to_owned(),
                    allocations: allocations.iter().map(hold::to_proto).collect(),
                    expires_at: Some(to_timestamp(expires_at)),
                    reserved_at: Some(to_timestamp(now)),
                };
                shared.outbox.append(tx, &event).await?;
                tracing::info!(reservation_id = id, "stock reserved");
            }
            Outcome::Shortage(shorts) => {
                store::reservations::set_status(tx, id, ReservationStatus::Shortage, None, now)
                    .await?;
                store::reservations::insert_lines(tx, id, &lines, &shorts).await?;
                let event = StockShortage {
                    reservation_id: id.to_owned(),
                    order_id: order_id.to_owned(),
                    short_lines: hold::short_lines(&shorts),
                    detected_at: Some(to_timestamp(now)),
                };
                shared.outbox.append(tx, &event).await?;
                tracing::info!(reservation_id = id, short = shorts.len(), "stock short");
            }
        }
        Ok(())
    }
}
