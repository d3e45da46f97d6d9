//! Recording a tracking event, whatever brought it (RecordTrackingEvent, a carrier webhook, the
//! simulated carrier): in the caller's transaction the shipment is locked, a repeat of a
//! carrier event id is recognised and changes nothing, the event is checked and applied by the
//! domain rules, the history row and the shipment are written, the events subscribers hear of
//! go to the outbox, and live watchers are notified when the transaction commits.

use chrono::{DateTime, Utc};
use contracts::shipping as pb;
use contracts::time::to_timestamp;
use messaging::Outbox;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::config::ShippingConfig;
use crate::domain::tracking::{Outcome, TrackingError, TrackingUpdate};
use crate::domain::{RecordedEvent, Shipment, TrackingStatus};
use crate::grpc::convert;
use crate::store::{self, StoreError};
use crate::watch;

/// Which shipment an event is about.
#[derive(Debug, Clone)]
pub enum Target {
    Id(Uuid),
    /// As webhooks identify it.
    CarrierTracking {
        carrier: String,
        number: String,
    },
}

#[derive(Debug, Clone)]
pub struct Incoming {
    /// The carrier's id of the event (dedup key); `None` for manual events.
    pub carrier_event_id: Option<String>,
    pub update: TrackingUpdate,
}

pub struct Recorded {
    pub shipment: Shipment,
    pub duplicate: bool,
    pub outcome: Option<Outcome>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("shipment {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Rejected(#[from] TrackingError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for IngestError {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(StoreError::Db(err))
    }
}

async fn already_recorded(
    conn: &mut PgConnection,
    carrier: &str,
    carrier_event_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM tracking_events WHERE carrier = $1 AND carrier_event_id = $2)",
    )
    .bind(carrier)
    .bind(carrier_event_id)
    .fetch_one(conn)
    .await
}

/// Records `incoming` for `target` inside `tx`; see the module docs.
pub async fn record(
    tx: &mut PgConnection,
    outbox: &Outbox,
    config: &ShippingConfig,
    target: &Target,
    incoming: &Incoming,
    now: DateTime<Utc>,
) -> Result<Recorded, IngestError> {
    let found = match target {
        Target::Id(id) => store::shipments::lock(tx, *id).await?,
        Target::CarrierTracking { carrier, number } => {
            store::shipments::lock_by_carrier_tracking(tx, carrier, number).await?
        }
    };
    let mut shipment = found.ok_or_else(|| {
        IngestError::NotFound(match target {
            Target::Id(id) => id.to_string(),
            Target::CarrierTracking { carrier, number } => format!("{carrier} {number}"),
        })
    })?;
    if let Some(event_id) = &incoming.carrier_event_id
        && already_recorded(tx, &shipment.carrier, event_id).await?
    {
        return Ok(Recorded {
            shipment,
            duplicate: true,
            outcome: None,
        });
    }
    shipment.check(&incoming.update)?;

    let update = &incoming.update;
    let outcome = shipment.apply(update, &config.eta, now);
    let event = RecordedEvent {
        id: Uuid::now_v7(),
        status: update.status,
        carrier_status_code: update.carrier_status_code.clone(),
        description: update.description.clone(),
        location: update.location.clone(),
        occurred_at: update.occurred_at,
        recorded_at: now,
        carrier_event_id: incoming.carrier_event_id.clone(),
        failure_reason: update.failure_reason,
    };
    if !store::events::insert(tx, shipment.id, &shipment.carrier, &event, outcome.advanced).await? {
        // Recorded concurrently under the same carrier event id: the first one stands.
        let shipment = store::shipments::get(tx, shipment.id)
            .await?
            .ok_or_else(|| IngestError::NotFound(shipment.id.to_string()))?;
        return Ok(Recorded {
            shipment,
            duplicate: true,
            outcome: None,
        });
    }
    store::shipments::update(tx, &shipment).await?;
    publish(tx, outbox, &shipment, update, &outcome).await?;
    watch::notify(tx, shipment.id, event.id).await?;
    tracing::info!(
        shipment_id = %shipment.id,
        status = shipment.status.as_str(),
        event_status = update.status.as_str(),
        advanced = outcome.advanced,
        "tracking event recorded"
    );
    Ok(Recorded {
        shipment,
        duplicate: false,
        outcome: Some(outcome),
    })
}

/// The facts subscribers hear of.
async fn publish(
    tx: &mut PgConnection,
    outbox: &Outbox,
    s: &Shipment,
    update: &TrackingUpdate,
    outcome: &Outcome,
) -> Result<(), sqlx::Error> {
    let direction = convert::direction(s.direction) as i32;
    if outcome.status_changed || outcome.eta_changed || outcome.courier_changed {
        outbox
            .append(
                tx,
                &pb::ShipmentStatusChanged {
                    shipment_id: s.id.to_string(),
                    order_id: s.order_id.clone(),
                    direction,
                    return_id: s.return_id.clone(),
                    carrier: s.carrier.clone(),
                    tracking_number: s.tracking_number.clone(),
                    tracking_url: s.tracking_url.clone(),
                    previous_status: convert::status(outcome.previous_status) as i32,
                    status: convert::status(s.status) as i32,
                    description: update.description.clone(),
                    location: update.location.clone(),
                    eta: s.eta.map(to_timestamp),
                    courier: s.courier.as_ref().map(convert::courier),
                    occurred_at: Some(to_timestamp(update.occurred_at)),
                },
            )
            .await?;
    }
    if !outcome.advanced {
        return Ok(());
    }
    match s.status {
        TrackingStatus::Delivered => {
            outbox
                .append(
                    tx,
                    &pb::ShipmentDelivered {
                        shipment_id: s.id.to_string(),
                        order_id: s.order_id.clone(),
                        direction,
                        fulfillment_id: s.fulfillment_id.clone(),
                        parcel_id: s.parcel_id.clone(),
                        return_id: s.return_id.clone(),
                        carrier: s.carrier.clone(),
                        tracking_number: s.tracking_number.clone(),
                        cash_collected: s.cash_collected.as_ref().map(convert::money),
                        received_by: s.received_by.clone(),
                        delivered_at: s.delivered_at.map(to_timestamp),
                    },
                )
                .await?;
        }
        TrackingStatus::DeliveryFailed => {
            outbox
                .append(
                    tx,
                    &pb::ShipmentDeliveryFailed {
                        shipment_id: s.id.to_string(),
                        order_id: s.order_id.clone(),
                        direction,
                        return_id: s.return_id.clone(),
                        carrier: s.carrier.clone(),
                        tracking_number: s.tracking_number.clone(),
                        reason: convert::failure_reason(update.failure_reason) as i32,
                        description: update.description.clone(),
                        attempt: outcome.attempt.unwrap_or(s.delivery_attempts),
                        next_attempt_at: s.next_attempt_at.map(to_timestamp),
                        returning_to_sender: outcome.returning_to_sender,
                        failed_at: Some(to_timestamp(update.occurred_at)),
                    },
                )
                .await?;
        }
        _ => {}
    }
    Ok(())
}
