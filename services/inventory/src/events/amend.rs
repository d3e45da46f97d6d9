//! `orders.reservation.amend_requested` → an order update after confirmation adds units: hold
//! them in the same reservation, all or nothing and by the same rules as a new reservation
//! ([`super::hold`]), and answer `inventory.reservation.amended` with the added allocations or
//! `inventory.reservation.amend_refused` (the short lines, or why the reservation cannot take
//! them).
//!
//! The reservation keeps its status and firmness: a firm one stays firm, an unconfirmed one
//! keeps its expiry, which then covers the added units too. Each (reservation, update) is
//! answered once and its answer kept: the same update asked again, under any event id, holds
//! nothing more and gets the same answer again. A request that cannot apply (an unknown or ended
//! reservation, unusable lines) is refused rather than dead-lettered, so orders' saga always
//! hears back; only one naming no reservation or update, which no answer could be matched to,
//! goes to the dead letters.

use chrono::{DateTime, Utc};
use contracts::inventory::{ReservationAmendRefused, ReservationAmended, ShortLine};
use contracts::orders::ReservationAmendRequested;
use contracts::time::to_timestamp;
use messaging::{Envelope, Handler, HandlerError};
use prost::Message;
use sqlx::PgConnection;

use super::{expire, hold, required};
use crate::app::Shared;
use crate::domain::allocation::{Outcome, Routing};
use crate::domain::reservation::{AmendOutcome, Reservation, ReservationStatus, UpdateKind};
use crate::store;

pub struct Amend(pub Shared);

/// The answer to one amendment, as kept and sent.
enum Answer {
    Amended(ReservationAmended),
    Refused(ReservationAmendRefused),
}

impl Answer {
    fn outcome(&self) -> AmendOutcome {
        match self {
            Self::Amended(_) => AmendOutcome::Amended,
            Self::Refused(_) => AmendOutcome::Refused,
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Self::Amended(event) => event.encode_to_vec(),
            Self::Refused(event) => event.encode_to_vec(),
        }
    }

    fn decode(outcome: Option<AmendOutcome>, bytes: &[u8]) -> Result<Self, HandlerError> {
        let unreadable = |err: prost::DecodeError| {
            HandlerError::permanent(format!("stored amendment answer is unreadable: {err}"))
        };
        match outcome {
            Some(AmendOutcome::Amended) => ReservationAmended::decode(bytes)
                .map(Self::Amended)
                .map_err(unreadable),
            Some(AmendOutcome::Refused) => ReservationAmendRefused::decode(bytes)
                .map(Self::Refused)
                .map_err(unreadable),
            None => Err(HandlerError::permanent(
                "stored amendment has no answer".to_owned(),
            )),
        }
    }

    async fn send(&self, tx: &mut PgConnection, shared: &Shared) -> Result<(), HandlerError> {
        match self {
            Self::Amended(event) => shared.outbox.append(tx, event).await?,
            Self::Refused(event) => shared.outbox.append(tx, event).await?,
        };
        Ok(())
    }
}

impl Handler<ReservationAmendRequested> for Amend {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReservationAmendRequested>,
    ) -> Result<(), HandlerError> {
        let shared = &self.0;
        let request = &envelope.event;
        let id = required(&request.reservation_id, "reservation_id")?;
        let update_id = required(&request.update_id, "update_id")?;
        // The reservation first, then its update's row: the store's lock order.
        let reservation = store::reservations::lock(tx, id).await?;
        let now = shared.clock.now();
        let answer = match store::updates::claim(tx, id, update_id, UpdateKind::Amend, now).await? {
            Some(applied) => {
                tracing::info!(
                    reservation_id = id,
                    update_id,
                    "amended already; same answer"
                );
                Answer::decode(applied.outcome, &applied.answer)?
            }
            None => {
                let answer = amend(tx, shared, request, reservation, now).await?;
                store::updates::answer(
                    tx,
                    id,
                    update_id,
                    UpdateKind::Amend,
                    answer.outcome(),
                    &answer.encode(),
                )
                .await?;
                answer
            }
        };
        answer.send(tx, shared).await
    }
}

/// Holds the added units, or says why not. The reservation is locked.
async fn amend(
    tx: &mut PgConnection,
    shared: &Shared,
    request: &ReservationAmendRequested,
    reservation: Option<Reservation>,
    now: DateTime<Utc>,
) -> Result<Answer, HandlerError> {
    let id = request.reservation_id.trim();
    let order_id = reservation
        .as_ref()
        .map_or(request.order_id.trim(), |r| r.order_id.as_str())
        .to_owned();
    let refuse = |reason: String, short_lines: Vec<ShortLine>| {
        tracing::info!(
            reservation_id = id,
            update_id = %request.update_id,
            %reason,
            "amendment refused"
        );
        Ok(Answer::Refused(ReservationAmendRefused {
            reservation_id: id.to_owned(),
            order_id: order_id.clone(),
            update_id: request.update_id.trim().to_owned(),
            short_lines,
            reason,
            refused_at: Some(to_timestamp(now)),
        }))
    };
    let Some(reservation) = reservation else {
        return refuse(format!("reservation {id} does not exist"), vec![]);
    };
    if !request.order_id.trim().is_empty() && request.order_id.trim() != reservation.order_id {
        return refuse(format!("reservation {id} belongs to another order"), vec![]);
    }
    if !reservation.status.is_open() {
        return refuse(
            format!(
                "reservation {id} is {} and holds no stock",
                reservation.status.as_str()
            ),
            vec![],
        );
    }
    if reservation.status == ReservationStatus::Reserved
        && reservation.expires_at.is_some_and(|at| at <= now)
    {
        // Unconfirmed past its time is expired, whether or not the timer has fired yet.
        expire(tx, shared, reservation).await?;
        return refuse(format!("reservation {id} has expired"), vec![]);
    }
    let lines = match hold::demands(&request.lines) {
        Ok(lines) => lines,
        Err(reason) => return refuse(reason, vec![]),
    };
    if let Some(line) = lines.iter().find(|l| {
        reservation
            .allocations
            .iter()
            .any(|h| h.line_id == l.line_id && h.sku != l.sku)
    }) {
        return refuse(
            format!(
                "line {} is held as another SKU than {}",
                line.line_id, line.sku
            ),
            vec![],
        );
    }
    let routing = routing(request, &reservation);
    match hold::hold(tx, shared, id, &lines, &routing).await? {
        Outcome::Reserved(allocations) => {
            store::reservations::add_lines(tx, id, &lines).await?;
            store::reservations::add_allocations(tx, id, &allocations).await?;
            // Status and expiry as they were: the added units share the reservation's fate.
            store::reservations::set_status(
                tx,
                id,
                reservation.status,
                reservation.expires_at,
                now,
            )
            .await?;
            tracing::info!(
                reservation_id = id,
                update_id = %request.update_id,
                "reservation amended"
            );
            Ok(Answer::Amended(ReservationAmended {
                reservation_id: id.to_owned(),
                order_id,
                update_id: request.update_id.trim().to_owned(),
                allocations: allocations.iter().map(hold::to_proto).collect(),
                amended_at: Some(to_timestamp(now)),
            }))
        }
        Outcome::Shortage(shorts) => refuse(
            "short of stock for the added units".to_owned(),
            hold::short_lines(&shorts),
        ),
    }
}

/// Where the added units may come from: the request's pickup store, else the reservation's
/// own for a pickup order (an update does not change how the order is fulfilled), else the
/// nearest warehouses to the ship-to address.
fn routing(request: &ReservationAmendRequested, reservation: &Reservation) -> Routing {
    let store_id = match request.pickup_store_id.trim() {
        "" if reservation.fulfillment_mode == "STORE_PICKUP" => {
            reservation.pickup_store_id.as_str()
        }
        store_id => store_id,
    };
    if store_id.is_empty() {
        Routing::Ship {
            country_code: request.ship_to_country_code.trim().to_owned(),
            region: request.ship_to_region.trim().to_owned(),
            allow_split: request.allow_split,
        }
    } else {
        Routing::Pickup {
            store_id: store_id.to_owned(),
        }
    }
}
