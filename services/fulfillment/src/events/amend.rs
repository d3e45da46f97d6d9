//! `orders.fulfillment.amend_requested` → an order update after confirmation, the saga's point
//! of no return: while nothing of the order is waved, picked or packed, fulfillment's copy
//! becomes the request — each named warehouse's lines exactly its allocated units, a new
//! warehouse gets a fulfillment ([`super::create::open`]), a warehouse no longer named is
//! cancelled ([`super::cancel::cancel`]), and every fulfillment takes the new customer, address
//! and cash-on-delivery flag. Everything fulfillment sends on later (pick lists, parcels, the
//! shipment and its cash amount) reads that copy.
//!
//! The answer is `fulfillment.order.amended` or `.amend_refused`, stored per order and update
//! so that a repeat changes nothing and is answered the same. A request that cannot be applied
//! (unknown order, bad allocation) is refused rather than failed: orders then puts the update's
//! other steps back.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use contracts::fulfillment::{FulfillmentAmendRefused, FulfillmentAmended};
use contracts::orders::FulfillmentAmendRequested;
use contracts::time::to_timestamp;
use messaging::{Envelope, Handler, HandlerError};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Ctx;
use super::cancel::cancel;
use super::create::{open, party, ship_to, units_per_warehouse, unusable_allocation};
use crate::domain::Status;
use crate::domain::pick::keep_bins;
use crate::store::amendments::{self, AmendmentRow};
use crate::store::fulfillments::{self, FulfillmentRow, LineRow, NewFulfillment, NewLine};
use crate::store::parcels::{self, ParcelRow};

const AMENDED: &str = "AMENDED";
const REFUSED: &str = "REFUSED";

/// What a fulfillment dropped by an update is cancelled with.
const DROPPED: &str = "order updated";

pub(super) struct AmendFulfillments(pub(super) Ctx);

/// One of the order's fulfillments as the update finds it.
struct Current {
    row: FulfillmentRow,
    lines: Vec<LineRow>,
    parcels: Vec<ParcelRow>,
}

enum Outcome {
    /// The order's open fulfillments afterwards.
    Amended(Vec<Uuid>),
    /// Why not, for a person; nothing changed.
    Refused(String),
}

impl Handler<FulfillmentAmendRequested> for AmendFulfillments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentAmendRequested>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        runtime::telemetry::record_order_id(&e.order_id);
        // Locked before the stored answer is read: a concurrent repeat of this update waits
        // here and then finds the answer, and a pick wave or a pick waits for the update.
        let rows = match Uuid::parse_str(&e.order_id) {
            Ok(order_id) => fulfillments::of_order(tx, order_id).await?,
            Err(_) => Vec::new(),
        };
        let answer = match amendments::get(tx, &e.order_id, &e.update_id).await? {
            Some(stored) => stored,
            None => {
                let now = self.0.clock.now();
                let (outcome, fulfillment_ids, reason) = match self.amend(tx, e, rows, now).await? {
                    Outcome::Amended(ids) => (
                        AMENDED,
                        ids.iter().map(Uuid::to_string).collect(),
                        String::new(),
                    ),
                    Outcome::Refused(reason) => {
                        tracing::info!(update_id = %e.update_id, %reason, "order update refused");
                        (REFUSED, Vec::new(), reason)
                    }
                };
                let row = AmendmentRow {
                    order_id: e.order_id.clone(),
                    update_id: e.update_id.clone(),
                    outcome: outcome.to_owned(),
                    fulfillment_ids,
                    reason,
                    answered_at: now,
                };
                amendments::insert(tx, &row).await?;
                row
            }
        };
        self.answer(tx, &answer).await
    }
}

impl AmendFulfillments {
    async fn amend(
        &self,
        tx: &mut PgConnection,
        e: &FulfillmentAmendRequested,
        rows: Vec<FulfillmentRow>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, HandlerError> {
        if e.update_id.trim().is_empty() {
            return Ok(Outcome::Refused("the request names no update".into()));
        }
        let mut current = Vec::new();
        // Fulfillments an earlier update dropped are history, not the order's copy.
        for row in rows
            .into_iter()
            .filter(|f| f.cancelled_by_update.is_empty())
        {
            let lines = fulfillments::lines(tx, row.id).await?;
            let parcels = parcels::of_fulfillment(tx, row.id).await?;
            current.push(Current {
                row,
                lines,
                parcels,
            });
        }
        if current.is_empty() {
            return Ok(Outcome::Refused(format!(
                "fulfillment has no fulfillment of order {} (not requested yet, or not an order \
                 it knows)",
                e.order_id
            )));
        }
        if let Some(reason) = current.iter().find_map(too_late) {
            return Ok(Outcome::Refused(reason));
        }
        if e.allocations.is_empty() {
            return Ok(Outcome::Refused(
                "the update leaves no unit to ship; cancel the order instead".into(),
            ));
        }
        if let Some(reason) = unusable_allocation(&e.lines, &e.allocations) {
            return Ok(Outcome::Refused(reason));
        }

        let mut per_warehouse = units_per_warehouse(&e.lines, &e.allocations);
        let customer = e.customer.as_ref().map(party);
        let address = e.shipping_address.as_ref().map(ship_to);
        let mut open_ids = Vec::new();
        for f in &current {
            let id = f.row.id;
            fulfillments::set_recipient(
                tx,
                id,
                customer.as_ref(),
                address.as_ref(),
                e.collect_cash_on_delivery,
                now,
            )
            .await?;
            match per_warehouse.remove(&f.row.warehouse_id) {
                Some(lines) => {
                    let lines = with_bins_kept(lines, &f.lines);
                    fulfillments::replace_lines(tx, id, &lines, now).await?;
                    open_ids.push(id);
                }
                None => {
                    fulfillments::set_cancelled_by_update(tx, id, &e.update_id).await?;
                    cancel(tx, &self.0.outbox, &f.row, DROPPED, now).await?;
                }
            }
        }
        let opened = self
            .open_new_warehouses(tx, e, &current[0].row, per_warehouse, now)
            .await?;
        open_ids.extend(opened);
        Ok(Outcome::Amended(open_ids))
    }

    /// Opens a fulfillment, as `orders.fulfillment.requested` would have, in each warehouse
    /// the update newly names; the order's other fulfillments lend it the order's details.
    async fn open_new_warehouses(
        &self,
        tx: &mut PgConnection,
        e: &FulfillmentAmendRequested,
        like: &FulfillmentRow,
        per_warehouse: BTreeMap<String, Vec<NewLine>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, HandlerError> {
        let customer = e
            .customer
            .as_ref()
            .map_or_else(|| like.customer.0.clone(), party);
        let address = e
            .shipping_address
            .as_ref()
            .map(ship_to)
            .or_else(|| like.ship_to.as_ref().map(|a| a.0.clone()));
        let mut ids = Vec::new();
        for (warehouse_id, lines) in per_warehouse {
            let id = Uuid::now_v7();
            let new = NewFulfillment {
                id,
                order_id: like.order_id,
                order_number: &like.order_number,
                warehouse_id: &warehouse_id,
                reship_case_id: "",
                reservation_id: &like.reservation_id,
                exchange_return_id: "",
                mode: &like.mode,
                customer: &customer,
                ship_to: address.as_ref(),
                collect_cod: e.collect_cash_on_delivery,
                currency: &like.currency,
                now,
            };
            if !open(tx, &self.0.outbox, &new, &lines).await? {
                // No live fulfillment is in this warehouse (it would have been amended), so
                // only a broken invariant gets here.
                return Err(HandlerError::permanent(format!(
                    "order {} unexpectedly has a fulfillment in {warehouse_id}",
                    e.order_id
                )));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    async fn answer(&self, tx: &mut PgConnection, a: &AmendmentRow) -> Result<(), HandlerError> {
        let at = Some(to_timestamp(a.answered_at));
        if a.outcome == AMENDED {
            let event = FulfillmentAmended {
                order_id: a.order_id.clone(),
                update_id: a.update_id.clone(),
                fulfillment_ids: a.fulfillment_ids.clone(),
                amended_at: at,
            };
            self.0.outbox.append(tx, &event).await?;
        } else {
            let event = FulfillmentAmendRefused {
                order_id: a.order_id.clone(),
                update_id: a.update_id.clone(),
                reason: a.reason.clone(),
                refused_at: at,
            };
            self.0.outbox.append(tx, &event).await?;
        }
        Ok(())
    }
}

/// Why this fulfillment can no longer take an update (its picking is scheduled or started, or
/// it is gone); `None` while it waits untouched.
fn too_late(f: &Current) -> Option<String> {
    let warehouse = &f.row.warehouse_id;
    if !f.row.reship_case_id.is_empty() || !f.row.exchange_return_id.is_empty() {
        return Some("the order already has a replacement shipment".into());
    }
    let status = Status::parse(&f.row.status).unwrap_or(Status::Cancelled);
    let reason = match status {
        Status::Cancelled => format!("the order's fulfillment from {warehouse} is cancelled"),
        Status::Picking => format!("the order is in a pick wave in {warehouse}"),
        Status::Picked | Status::ReadyForPickup | Status::PickedUp => {
            format!("the order is already picked in {warehouse}")
        }
        Status::Packed => format!("a parcel of the order is already packed in {warehouse}"),
        Status::HandedOver => format!("the order has left {warehouse}"),
        Status::Pending => {
            if f.row.wave_id.is_some() {
                format!("the order is in a pick wave in {warehouse}")
            } else if f.lines.iter().any(|l| l.picked_quantity.is_some()) {
                format!("picking of the order has started in {warehouse}")
            } else if !f.parcels.is_empty() {
                format!("a parcel of the order is already packed in {warehouse}")
            } else {
                return None;
            }
        }
    };
    Some(format!("too late to change the order: {reason}"))
}

/// The update's allocations name no bins (inventory chooses them only for added units, and
/// tells orders, not us): a line keeps the bins its units were in before, up to its new
/// quantity.
fn with_bins_kept(lines: Vec<NewLine>, before: &[LineRow]) -> Vec<NewLine> {
    lines
        .into_iter()
        .map(|mut line| {
            if line.bins.is_empty()
                && let Some(old) = before
                    .iter()
                    .find(|b| b.line_id == line.line_id && b.sku == line.sku)
            {
                line.bins = keep_bins(&old.bins.0, line.quantity);
            }
            line
        })
        .collect()
}
