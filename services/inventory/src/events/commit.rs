//! `orders.reservation.commit_requested` → a parcel was handed over or a pickup collected: the
//! units leave on-hand stock and the reservation, and count as demand for forecasting.
//! Applied once per (reservation, fulfillment, parcel).

use contracts::orders::ReservationCommitRequested;
use messaging::{Envelope, Handler, HandlerError, timers};
use sqlx::PgConnection;

use super::{RESERVATION_EXPIRY, required, settle};
use crate::app::Shared;
use crate::domain::reservation::{LineUnits, ReservationStatus, plan_commit, status_after};
use crate::store;

pub struct Commit(pub Shared);

impl Handler<ReservationCommitRequested> for Commit {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReservationCommitRequested>,
    ) -> Result<(), HandlerError> {
        let shared = &self.0;
        let request = &envelope.event;
        let id = required(&request.reservation_id, "reservation_id")?;
        let mut lines = Vec::with_capacity(request.allocations.len());
        for a in &request.allocations {
            if a.quantity <= 0 || a.bins.iter().any(|b| b.quantity <= 0) {
                return Err(HandlerError::permanent(format!(
                    "commit for {id}: line {} has a quantity that is not positive",
                    a.line_id
                )));
            }
            lines.push(LineUnits {
                line_id: required(&a.line_id, "allocations[].line_id")?.to_owned(),
                warehouse_id: required(&a.warehouse_id, "allocations[].warehouse_id")?.to_owned(),
                quantity: a.quantity,
                bins: a.bins.iter().map(|b| (b.bin.clone(), b.quantity)).collect(),
            });
        }
        if lines.is_empty() {
            return Err(HandlerError::permanent(format!(
                "commit for {id} names no allocations"
            )));
        }
        // Goods handed over prove the order went ahead: the reservation no longer expires.
        timers::cancel(tx, RESERVATION_EXPIRY, id).await?;
        let Some(mut reservation) = store::reservations::lock(tx, id).await? else {
            return Err(HandlerError::permanent(format!(
                "commit for unknown reservation {id}"
            )));
        };
        let now = shared.clock.now();
        if !store::reservations::record_commit(
            tx,
            id,
            request.fulfillment_id.trim(),
            request.parcel_id.trim(),
            now,
        )
        .await?
        {
            tracing::info!(reservation_id = id, "commit applied already");
            return Ok(());
        }
        if !reservation.status.is_open() {
            // Released or expired stock was handed over: the books need a person.
            return Err(HandlerError::permanent(format!(
                "commit for reservation {id}, which is {}",
                reservation.status.as_str()
            )));
        }
        let takes = plan_commit(&reservation.allocations, &lines)
            .map_err(|err| HandlerError::permanent(format!("commit for {id}: {err}")))?;
        settle(tx, shared, &mut reservation, &takes, true).await?;
        let current = match reservation.status {
            ReservationStatus::Reserved => ReservationStatus::Firm,
            other => other,
        };
        let status = status_after(current, &reservation.allocations);
        store::reservations::set_status(tx, id, status, None, now).await?;
        tracing::info!(
            reservation_id = id,
            status = status.as_str(),
            "stock committed"
        );
        Ok(())
    }
}
