//! Holding stock for lines: what a new reservation and an amendment of one have in common.
//!
//! Never oversold: the stock rows of the requested SKUs in the allowed warehouses are locked
//! (in the common order) before availability is read, so concurrent holds of the same SKU queue
//! and each sees what the previous one left; each bin update is conditional on the units being
//! there, and the `bin_stock` CHECK refuses any commit that would over-reserve.

use std::collections::{HashMap, HashSet};

use contracts::common;
use contracts::inventory::ShortLine;
use contracts::orders::ReservationLine;
use messaging::HandlerError;
use sqlx::PgConnection;

use crate::app::Shared;
use crate::domain::allocation::{
    self, Allocation, BinSupply, Demand, Outcome, Routing, Short, Site, units_by_bin,
};
use crate::stock_changes::{self, Touched};
use crate::store;

/// Requested lines, validated; the error says why they can never be filled.
pub(super) fn demands(lines: &[ReservationLine]) -> Result<Vec<Demand>, String> {
    if lines.is_empty() {
        return Err("no lines to reserve".to_owned());
    }
    let mut seen = HashSet::new();
    lines
        .iter()
        .map(|line| {
            let line_id = line.line_id.trim();
            let sku = line.sku.trim();
            if line_id.is_empty() || sku.is_empty() {
                return Err("lines[].line_id and lines[].sku are required".to_owned());
            }
            if !seen.insert(line_id) {
                return Err(format!("line {line_id} appears twice"));
            }
            if line.quantity <= 0 {
                return Err(format!("line {line_id}: quantity must be positive"));
            }
            Ok(Demand {
                line_id: line_id.to_owned(),
                sku: sku.to_owned(),
                quantity: line.quantity,
            })
        })
        .collect()
}

/// Allocates `lines` by the routing rules and, when every line can be filled, adds the units to
/// the bins' reserved counts (with what follows every stock change). All or nothing: on a
/// shortage nothing is held. `id` names the reservation in errors.
pub(super) async fn hold(
    tx: &mut PgConnection,
    shared: &Shared,
    id: &str,
    lines: &[Demand],
    routing: &Routing,
) -> Result<Outcome, HandlerError> {
    let sites = sites(tx, lines, routing).await?;
    let outcome = allocation::allocate(lines, &sites, routing);
    match &outcome {
        Outcome::Reserved(allocations) => add_reserved(tx, shared, id, allocations).await?,
        Outcome::Shortage(shorts) => shared.metrics.shortage(shorts.len()),
    }
    Ok(outcome)
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
async fn add_reserved(
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

pub(super) fn to_proto(a: &Allocation) -> common::Allocation {
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

pub(super) fn short_lines(shorts: &[Short]) -> Vec<ShortLine> {
    shorts
        .iter()
        .map(|s| ShortLine {
            line_id: s.line_id.clone(),
            sku: s.sku.clone(),
            requested_quantity: s.requested,
            available_quantity: s.available,
        })
        .collect()
}
