//! The carriers, seen from shipping. A [`CarrierProvider`] is told about every new shipment in
//! the transaction that created it; what comes back (scans) arrives as tracking events.
//!
//! - [`WebhookCarrier`]: a real carrier. Nothing to do at creation here; it reports through
//!   `POST /webhooks/carriers/{code}` (see `webhooks.rs`).
//! - [`SimulatedCarrier`]: the built-in simulator, used for carriers marked `simulated` in the
//!   rate table while `OC_SHIPPING_SIMULATOR=on` (the default). It plays the journey that the
//!   recipient address asks for (`domain::simulation`: a happy delivery, a failed first attempt,
//!   failures until the parcel goes back, an exception, or nothing for `[sim:hold]`), one scan
//!   every `OC_SHIPPING_SIM_STEP_SECS` of service-clock time (so `OC_CLOCK_SCALE` speeds it up).
//!   Each scan is a durable timer (`oc_timers`, kind `shipping.sim_scan`), so a journey
//!   survives restarts; it is recorded exactly like a carrier's webhook (carrier code, carrier
//!   event id `sim-<shipment>-<n>`, so a re-fired timer is a duplicate), with the cash on
//!   delivery collected in full at delivery and a simulated courier named when out for
//!   delivery.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use messaging::timers::{self, Timer, TimerHandler};
use messaging::{HandlerError, Outbox};
use runtime::{BoxFuture, Clock};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::config::ShippingConfig;
use crate::domain::simulation::{Scenario, script};
use crate::domain::tracking::TrackingUpdate;
use crate::domain::{Shipment, TrackingStatus};
use crate::ingest::{self, Incoming, IngestError, Target};
use crate::store;

/// A carrier's side of a new shipment.
pub trait CarrierProvider: Send + Sync {
    fn shipment_created<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        shipment: &'a Shipment,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;
}

/// A real carrier: it reports by webhook.
pub struct WebhookCarrier;

impl CarrierProvider for WebhookCarrier {
    fn shipment_created<'a>(
        &'a self,
        _tx: &'a mut PgConnection,
        _shipment: &'a Shipment,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }
}

pub const SIM_TIMER: &str = "shipping.sim_scan";

#[derive(Debug, Serialize, Deserialize)]
struct ScanPayload {
    step: usize,
}

/// The simulated carrier (see the module docs).
pub struct SimulatedCarrier {
    step: chrono::Duration,
}

impl SimulatedCarrier {
    pub fn new(config: &ShippingConfig) -> Self {
        Self {
            step: chrono::Duration::from_std(config.sim_step).unwrap_or(chrono::Duration::hours(1)),
        }
    }
}

async fn schedule_scan(
    tx: &mut PgConnection,
    shipment_id: Uuid,
    step: usize,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_value(ScanPayload { step }).unwrap_or_default();
    // One timer row per scan: the poller marks the row it fired after the handler returns,
    // so the next scan cannot reuse it.
    let key = format!("{shipment_id}:{step}");
    timers::schedule(tx, SIM_TIMER, &key, at, &payload).await
}

impl CarrierProvider for SimulatedCarrier {
    fn shipment_created<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        shipment: &'a Shipment,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            if Scenario::from_address(&shipment.ship_to) == Scenario::Hold {
                return Ok(());
            }
            schedule_scan(tx, shipment.id, 0, now + self.step).await
        })
    }
}

/// The provider of each carrier code.
#[derive(Clone)]
pub struct Carriers {
    by_code: Arc<BTreeMap<String, Arc<dyn CarrierProvider>>>,
}

impl Carriers {
    pub fn from_config(config: &ShippingConfig) -> Self {
        let by_code = config
            .rates
            .carriers
            .iter()
            .map(|c| {
                let provider: Arc<dyn CarrierProvider> = if c.simulated && config.simulator {
                    Arc::new(SimulatedCarrier::new(config))
                } else {
                    Arc::new(WebhookCarrier)
                };
                (c.code.clone(), provider)
            })
            .collect();
        Self {
            by_code: Arc::new(by_code),
        }
    }

    pub async fn shipment_created(
        &self,
        tx: &mut PgConnection,
        shipment: &Shipment,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        match self.by_code.get(&shipment.carrier) {
            Some(provider) => provider.shipment_created(tx, shipment, now).await,
            None => Ok(()),
        }
    }
}

/// Fires the simulated scans.
pub struct SimulatedScans {
    pub outbox: Outbox,
    pub config: ShippingConfig,
    pub clock: Clock,
}

impl TimerHandler for SimulatedScans {
    async fn fire(&self, tx: &mut PgConnection, timer: &Timer) -> Result<(), HandlerError> {
        let shipment_id = timer
            .key
            .split_once(':')
            .and_then(|(id, _)| Uuid::parse_str(id).ok())
            .ok_or_else(|| {
                HandlerError::permanent(format!("timer key {:?} names no shipment", timer.key))
            })?;
        let ScanPayload { step } = serde_json::from_value(timer.payload.clone())
            .map_err(|e| HandlerError::permanent(format!("scan payload: {e}")))?;
        let Some(shipment) = store::shipments::get(tx, shipment_id)
            .await
            .map_err(HandlerError::transient)?
        else {
            return Err(HandlerError::permanent(format!(
                "shipment {shipment_id} is gone"
            )));
        };
        if shipment.status.is_final() || shipment.status == TrackingStatus::Exception {
            // Delivered, cancelled or stuck by someone else's event: the journey is over.
            return Ok(());
        }
        let Some(carrier) = self.config.rates.carrier(&shipment.carrier) else {
            return Ok(());
        };
        let scenario = Scenario::from_address(&shipment.ship_to);
        let steps = script(
            scenario,
            &shipment.ship_from,
            &shipment.ship_to,
            self.config.eta.max_delivery_attempts,
        );
        let Some(scan) = steps.get(step) else {
            return Ok(());
        };
        let now = self.clock.now();
        let sim_step =
            chrono::Duration::from_std(self.config.sim_step).unwrap_or(chrono::Duration::hours(1));
        let incoming = Incoming {
            carrier_event_id: Some(format!("sim-{shipment_id}-{step}")),
            update: TrackingUpdate {
                status: scan.status,
                carrier_status_code: carrier.code_for(scan.status, scan.failure_reason),
                description: format!("{} (simulated)", scan.status.describe()),
                location: scan.location.clone(),
                occurred_at: now,
                eta: None,
                courier: scan.courier.clone(),
                cash_collected: (scan.status == TrackingStatus::Delivered)
                    .then(|| shipment.cash_on_delivery.clone())
                    .flatten(),
                failure_reason: scan.failure_reason,
                // The simulator's next attempt is its next scan but one.
                next_attempt_at: scan.retry_planned.then(|| now + sim_step * 2),
                received_by: if scan.status == TrackingStatus::Delivered {
                    shipment.ship_to.recipient.clone()
                } else {
                    String::new()
                },
            },
        };
        match ingest::record(
            tx,
            &self.outbox,
            &self.config,
            &Target::Id(shipment_id),
            &incoming,
            now,
        )
        .await
        {
            Ok(_) => {}
            Err(IngestError::Store(err)) => return Err(HandlerError::transient(err)),
            Err(err) => return Err(HandlerError::permanent(err)),
        }
        if step + 1 < steps.len() {
            schedule_scan(tx, shipment_id, step + 1, now + sim_step).await?;
        }
        Ok(())
    }
}
