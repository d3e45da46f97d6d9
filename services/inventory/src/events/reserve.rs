//! `orders.reservation.requested` → hold every line (all or nothing) and answer
//! `inventory.reservation.reserved` with the allocations, or `inventory.reservation.shortage`
//! with the lines that cannot be filled.
//!
//! Never oversold: the stock rows of the requested SKUs in the allowed warehouses are locked
//! (in the common order) before availability is read, so concurrent reservations of the same
//! SKU queue and each sees what the previous one left; each bin update is conditional on the
//! units being there, and the `bin_stock` CHECK refuses any commit that would over-reserve.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use contracts::common::{self, FulfillmentMode};
use contracts::inventory::{ShortLine, StockReserved, StockShortage};
use contracts::orders::ReservationRequested;
use contracts::time::{from_timestamp, to_timestamp};
use messaging::{Envelope, Handler, HandlerError, timers};
use sqlx::PgConnection;

use super::required;
use crate::app::Shared;
use crate::domain::allocation::{
    self, Allocation, BinSupply, Demand, Outcome, Routing, Site, units_by_bin,
};
use crate::domain::reservation::ReservationStatus;
use crate::stock_changes::{self, Touched};
use crate::store;
use crate::store::reservations::NewReservation;

pub struct Reserve(pub Shared);

/// The request's lines, validated; a malformed request can never be filled.
fn demands(request: &ReservationRequested) -> Result<Vec<Demand>, HandlerError> {
    if request.lines.is_empty() {
        return Err(HandlerError::permanent(
            "a reservation needs at least one line",
        ));
    }
    let mut seen = HashSet::new();
    request
        .lines
        .iter()
        .map(|line| {
            let line_id = required(&line.line_id, "lines[].line_id")?;
            if !seen.insert(line_id) {
                return Err(HandlerError::permanent(format!(
                    "line {line_id} appears twice"
                )));
            }
            if line.quantity <= 0 {
                return Err(HandlerError::permanent(format!(
                    "line {line_id}: quantity must be positive"
                )));
            }
            Ok(Demand {
                line_id: line_id.to_owned(),
                sku: required(&line.sku, "lines[].sku")?.to_owned(),
                quantity: line.quantity,
            })
        })
        .collect()
}

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
        let lines = demands(request)?;
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

        let sites = sites(tx, &lines, &routing).await?;
        match allocation::allocate(&lines, &sites, &routing) {
            Outcome::Reserved(allocations) => {
                hold(tx, shared, id, &allocations).await?;
                store::reservations::insert_lines(tx, id, &lines, &[]).await?;
                store::reservations::insert_allocations(tx, id, &allocations).await?;
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
                    allocations: allocations.iter().map(to_proto).collect(),
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
                    short_lines: shorts
                        .iter()
                        .map(|s| ShortLine {
                            line_id: s.line_id.clone(),
                            sku: s.sku.clone(),
                            requested_quantity: s.requested,
                            available_quantity: s.available,
                        })
                        .collect(),
                    detected_at: Some(to_timestamp(now)),
                };
                shared.outbox.append(tx, &event).await?;
                shared.metrics.shortage(shorts.len());
                tracing::info!(reservation_id = id, short = shorts.len(), "stock short");
            }
        }
        Ok(())
    }
}

/// The warehouses allowed to serve, with what they have of the requested active SKUs — their
/// stock rows locked until the transaction ends. Inactive or unknown SKUs have no supply, so
/// their lines come out short.
async fn sites(
    tx: &mut PgConnection,
    lines: &[Demand],
    routing: &Routing,
) -> Result<Vec<Site>, HandlerError> {
    let mut skus: Vec<String> = lines.iter().map(|l| l.sku.clone()).collect();
    skus.sort();
    skus.dedup();
    let active: HashSet<String> = store::catalog::items(tx, &skus)
        .await?
        .into_iter()
        .filter(|i| i.active)
        .map(|i| i.sku)
        .collect();
    skus.retain(|s| active.contains(s));
    let warehouses: Vec<_> = store::catalog::active_warehouses(tx)
        .await?
        .into_iter()
        .filter(|w| match routing {
            Routing::Pickup { store_id } => &w.id == store_id && w.pickup_enabled,
            Routing::Ship { .. } => true,
        })
        .collect();
    let ids: Vec<String> = warehouses.iter().map(|w| w.id.clone()).collect();
    let rows = store::stock::lock_supply(tx, &skus, &ids).await?;
    let mut supply: HashMap<&str, HashMap<String, Vec<BinSupply>>> = HashMap::new();
    for row in &rows {
        let available = row.on_hand - row.reserved;
        if row.pickable && available > 0 {
            supply
                .entry(row.warehouse_id.as_str())
                .or_default()
                .entry(row.sku.clone())
                .or_default()
                .push(BinSupply {
                    bin: row.bin.clone(),
                    pick_sequence: row.pick_sequence,
                    available,
                });
        }
    }
    Ok(warehouses
        .iter()
        .map(|w| Site {
            supply: supply.remove(w.id.as_str()).unwrap_or_default(),
            warehouse_id: w.id.clone(),
            country_code: w.country_code.clone(),
            region: w.region.clone(),
        })
        .collect())
}

/// Adds the allocated units to the bins' reserved counts (rows already locked).
async fn hold(
    tx: &mut PgConnection,
    shared: &Shared,
    id: &str,
    allocations: &[Allocation],
) -> Result<(), HandlerError> {
    let now = shared.clock.now();
    let mut touched = Touched::new();
    for ((sku, warehouse_id, bin), units) in units_by_bin(allocations) {
        if !store::stock::shift(tx, (&sku, &warehouse_id, &bin), units, 0, now).await? {
            // The rows are locked, so this means the books moved under the lock: retry afresh.
            return Err(HandlerError::transient(format!(
                "reservation {id}: {sku} in {warehouse_id}/{bin} no longer has {units} units"
            )));
        }
        touched.insert((sku, warehouse_id));
    }
    stock_changes::after_change(tx, shared, &touched).await?;
    Ok(())
}

fn to_proto(a: &Allocation) -> common::Allocation {
    common::Allocation {
        line_id: a.line_id.clone(),
        sku: a.sku.clone(),
        warehouse_id: a.warehouse_id.clone(),
        quantity: a.quantity(),
        bins: a
            .bins
            .iter()
            .map(|b| common::BinAllocation {
                bin: b.bin.clone(),
                quantity: b.quantity,
                pick_sequence: b.pick_sequence,
            })
            .collect(),
    }
}
