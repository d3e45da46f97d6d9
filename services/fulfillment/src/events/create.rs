//! `orders.fulfillment.requested` → one fulfilment per warehouse in the allocations (store
//! pickup: the pickup store), each announced with `fulfillment.fulfillment.created`.
//!
//! The pieces an order update reuses live here too: how the request's lines and allocations
//! become each warehouse's lines ([`units_per_warehouse`]), the customer and address as stored
//! ([`party`], [`ship_to`]), and opening one warehouse's fulfilment ([`open`]).

use std::collections::BTreeMap;

use contracts::common::{Address, Allocation, Customer, FulfillmentMode};
use contracts::fulfillment::{FulfillmentCreated, ParcelLine};
use contracts::orders::{FulfillmentRequested, OrderLine};
use contracts::time::to_timestamp;
use messaging::{Envelope, Handler, HandlerError, Outbox};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Ctx;
use crate::domain::pick::BinShare;
use crate::store::fulfillments::{self, NewFulfillment, NewLine, Party, ShipTo};

pub(super) struct CreateFulfillments(pub(super) Ctx);

impl Handler<FulfillmentRequested> for CreateFulfillments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentRequested>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let order_id = parse_order_id(&e.order_id)?;
        let pickup = e.fulfillment_mode() == FulfillmentMode::StorePickup;
        let per_warehouse = if pickup {
            // Store pickup: every unit waits at the pickup store, whatever inventory allocated.
            let lines = e
                .lines
                .iter()
                .map(|line| new_line(line, line.quantity, Vec::new()))
                .collect();
            BTreeMap::from([(e.pickup_store_id.clone(), lines)])
        } else {
            if let Some(line) = e
                .lines
                .iter()
                .find(|l| !e.allocations.iter().any(|a| a.line_id == l.line_id))
            {
                return Err(HandlerError::permanent(format!(
                    "line {} has no allocation",
                    line.line_id
                )));
            }
            units_per_warehouse(&e.lines, &e.allocations)
        };
        let party = party(&e.customer.clone().unwrap_or_default());
        let ship_to = e.shipping_address.as_ref().map(ship_to);
        let currency = e
            .lines
            .first()
            .and_then(|l| l.unit_price.as_ref())
            .map(|m| m.currency_code.clone())
            .unwrap_or_default();
        let now = self.0.clock.now();
        for (warehouse_id, lines) in per_warehouse {
            // Requested again under another event id, the fulfilment exists and `open` says so.
            open(
                tx,
                &self.0.outbox,
                &NewFulfillment {
                    id: Uuid::now_v7(),
                    order_id,
                    order_number: &e.order_number,
                    warehouse_id: &warehouse_id,
                    reship_case_id: &e.reship_case_id,
                    reservation_id: &e.reservation_id,
                    exchange_return_id: &e.exchange_return_id,
                    mode: if pickup { "STORE_PICKUP" } else { "SHIP" },
                    customer: &party,
                    ship_to: ship_to.as_ref(),
                    collect_cod: e.collect_cash_on_delivery,
                    currency: &currency,
                    now,
                },
                &lines,
            )
            .await?;
        }
        Ok(())
    }
}

pub(super) fn parse_order_id(raw: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(raw)
        .map_err(|_| HandlerError::permanent(format!("order_id {raw:?} is not a UUID")))
}

/// Inserts one warehouse's fulfilment and announces it with `fulfillment.fulfillment.created`;
/// false (and nothing published) when the order already has its fulfilment there.
pub(super) async fn open(
    tx: &mut PgConnection,
    outbox: &Outbox,
    f: &NewFulfillment<'_>,
    lines: &[NewLine],
) -> Result<bool, HandlerError> {
    if !fulfillments::insert(tx, f, lines).await? {
        return Ok(false);
    }
    let mode = if f.mode == "STORE_PICKUP" {
        FulfillmentMode::StorePickup
    } else {
        FulfillmentMode::Ship
    };
    let event = FulfillmentCreated {
        fulfillment_id: f.id.to_string(),
        order_id: f.order_id.to_string(),
        order_number: f.order_number.to_owned(),
        warehouse_id: f.warehouse_id.to_owned(),
        fulfillment_mode: mode.into(),
        lines: lines
            .iter()
            .map(|l| ParcelLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect(),
        created_at: Some(to_timestamp(f.now)),
    };
    outbox.append(tx, &event).await?;
    Ok(true)
}

/// Why these allocations cannot be shipped, for a person; `None` when every one names a line
/// of the order, a warehouse and at least one unit.
pub(super) fn unusable_allocation(
    lines: &[OrderLine],
    allocations: &[Allocation],
) -> Option<String> {
    allocations.iter().enumerate().find_map(|(i, a)| {
        if !lines.iter().any(|l| l.line_id == a.line_id) {
            Some(format!(
                "allocation {i} is for line {:?}, which the order does not have",
                a.line_id
            ))
        } else if a.warehouse_id.trim().is_empty() {
            Some(format!(
                "allocation {i} (line {}) names no warehouse",
                a.line_id
            ))
        } else if a.quantity < 1 {
            Some(format!(
                "allocation {i} (line {}) has {} units",
                a.line_id, a.quantity
            ))
        } else {
            None
        }
    })
}

/// Each warehouse's lines: every allocation becomes units of its order line in its warehouse
/// (name and price from the line, bins as inventory chose them), in the order of the lines.
/// Several allocations of one line in one warehouse are one line there. Lines without an
/// allocation, and allocations of no line, are not shipped.
pub(super) fn units_per_warehouse(
    lines: &[OrderLine],
    allocations: &[Allocation],
) -> BTreeMap<String, Vec<NewLine>> {
    let mut per_warehouse: BTreeMap<String, Vec<NewLine>> = BTreeMap::new();
    for line in lines {
        for a in allocations.iter().filter(|a| a.line_id == line.line_id) {
            let bins: Vec<BinShare> = a
                .bins
                .iter()
                .map(|b| BinShare {
                    bin: b.bin.clone(),
                    quantity: b.quantity,
                    pick_sequence: b.pick_sequence,
                })
                .collect();
            let here = per_warehouse.entry(a.warehouse_id.clone()).or_default();
            match here.iter_mut().find(|l| l.line_id == line.line_id) {
                Some(same) => {
                    same.quantity += a.quantity;
                    same.bins.extend(bins);
                }
                None => here.push(new_line(line, a.quantity, bins)),
            }
        }
    }
    per_warehouse
}

fn new_line(line: &OrderLine, quantity: i32, bins: Vec<BinShare>) -> NewLine {
    NewLine {
        line_id: line.line_id.clone(),
        sku: line.sku.clone(),
        name: line.name.clone(),
        quantity,
        unit_price_minor: line.unit_price.as_ref().map_or(0, |m| m.amount_minor),
        bins,
    }
}

pub(super) fn party(c: &Customer) -> Party {
    Party {
        id: c.id.clone(),
        name: c.name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
    }
}

pub(super) fn ship_to(a: &Address) -> ShipTo {
    ShipTo {
        recipient: a.recipient.clone(),
        line1: a.line1.clone(),
        line2: a.line2.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country_code: a.country_code.clone(),
        phone: a.phone.clone(),
    }
}
