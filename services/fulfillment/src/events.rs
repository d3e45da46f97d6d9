//! What fulfillment does with orders' requests and inventory's catalog.
//!
//! `orders.fulfillment.requested` → one fulfilment per warehouse in the allocations (store
//! pickup: the pickup store), each announced with `fulfillment.fulfillment.created`.
//! `orders.fulfillment.cancel_requested` → cancel what has not left yet.
//! `inventory.item.upserted` → unit weights for the packing check.

use std::collections::BTreeMap;

use contracts::common::FulfillmentMode;
use contracts::fulfillment::{FulfillmentCancelled, FulfillmentCreated, ParcelLine};
use contracts::inventory::ItemUpserted;
use contracts::orders::{FulfillmentCancelRequested, FulfillmentRequested};
use contracts::time::{from_timestamp, to_timestamp};
use messaging::{Bus, Envelope, Handler, HandlerError, Outbox};
use runtime::{Clock, Host};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::Status;
use crate::domain::pick::BinShare;
use crate::store::fulfillments::{self, NewFulfillment, NewLine, Party, ShipTo};
use crate::store::parcels;

#[derive(Clone)]
pub struct Ctx {
    pub outbox: Outbox,
    pub clock: Clock,
}

struct CreateFulfillments(Ctx);

impl Handler<FulfillmentRequested> for CreateFulfillments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentRequested>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let order_id = Uuid::parse_str(&e.order_id).map_err(|_| {
            HandlerError::permanent(format!("order_id {:?} is not a UUID", e.order_id))
        })?;
        let pickup = e.fulfillment_mode() == FulfillmentMode::StorePickup;
        // Group the order's lines by the warehouse inventory allocated them to.
        let mut per_warehouse: BTreeMap<String, Vec<NewLine>> = BTreeMap::new();
        for line in &e.lines {
            let allocations: Vec<_> = e
                .allocations
                .iter()
                .filter(|a| a.line_id == line.line_id)
                .collect();
            if allocations.is_empty() || pickup {
                let warehouse = if pickup {
                    e.pickup_store_id.clone()
                } else {
                    return Err(HandlerError::permanent(format!(
                        "line {} has no allocation",
                        line.line_id
                    )));
                };
                per_warehouse.entry(warehouse).or_default().push(new_line(
                    line,
                    line.quantity,
                    &[],
                ));
                continue;
            }
            for a in allocations {
                let bins: Vec<BinShare> = a
                    .bins
                    .iter()
                    .map(|b| BinShare {
                        bin: b.bin.clone(),
                        quantity: b.quantity,
                        pick_sequence: b.pick_sequence,
                    })
                    .collect();
                per_warehouse
                    .entry(a.warehouse_id.clone())
                    .or_default()
                    .push(new_line(line, a.quantity, &bins));
            }
        }
        let customer = e.customer.clone().unwrap_or_default();
        let party = Party {
            id: customer.id,
            name: customer.name,
            email: customer.email,
            phone: customer.phone,
        };
        let ship_to = e.shipping_address.clone().map(|a| ShipTo {
            recipient: a.recipient,
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country_code: a.country_code,
            phone: a.phone,
        });
        let currency = e
            .lines
            .first()
            .and_then(|l| l.unit_price.as_ref())
            .map(|m| m.currency_code.clone())
            .unwrap_or_default();
        let now = self.0.clock.now();
        for (warehouse_id, lines) in per_warehouse {
            let id = Uuid::now_v7();
            let created = fulfillments::insert(
                tx,
                &NewFulfillment {
                    id,
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
            if !created {
                // Requested again under another event id: the fulfilment exists.
                continue;
            }
            let event = FulfillmentCreated {
                fulfillment_id: id.to_string(),
                order_id: e.order_id.clone(),
                order_number: e.order_number.clone(),
                warehouse_id,
                fulfillment_mode: e.fulfillment_mode,
                lines: lines
                    .iter()
                    .map(|l| ParcelLine {
                        line_id: l.line_id.clone(),
                        sku: l.sku.clone(),
                        quantity: l.quantity,
                    })
                    .collect(),
                created_at: Some(to_timestamp(now)),
            };
            self.0.outbox.append(tx, &event).await?;
        }
        Ok(())
    }
}

fn new_line(line: &contracts::orders::OrderLine, quantity: i32, bins: &[BinShare]) -> NewLine {
    NewLine {
        line_id: line.line_id.clone(),
        sku: line.sku.clone(),
        name: line.name.clone(),
        quantity,
        unit_price_minor: line.unit_price.as_ref().map_or(0, |m| m.amount_minor),
        bins: bins.to_vec(),
    }
}

struct CancelFulfillments(Ctx);

impl Handler<FulfillmentCancelRequested> for CancelFulfillments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentCancelRequested>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let order_id = Uuid::parse_str(&e.order_id).map_err(|_| {
            HandlerError::permanent(format!("order_id {:?} is not a UUID", e.order_id))
        })?;
        let now = self.0.clock.now();
        let reason = e
            .reason()
            .as_str_name()
            .trim_start_matches("CANCEL_REASON_")
            .to_lowercase();
        for f in fulfillments::of_order(tx, order_id).await? {
            let status = Status::parse(&f.status).unwrap_or(Status::Cancelled);
            if !status.cancellable() {
                continue;
            }
            fulfillments::set_status(tx, f.id, Status::Cancelled.as_str(), now).await?;
            fulfillments::set_cancel_reason(tx, f.id, &reason).await?;
            parcels::cancel_packed(tx, f.id).await?;
            let lines = fulfillments::lines(tx, f.id).await?;
            let handed: Vec<String> = parcels::of_fulfillment(tx, f.id)
                .await?
                .into_iter()
                .filter(|p| p.status == "HANDED_OVER")
                .map(|p| p.id.to_string())
                .collect();
            let event = FulfillmentCancelled {
                fulfillment_id: f.id.to_string(),
                order_id: e.order_id.clone(),
                warehouse_id: f.warehouse_id.clone(),
                cancelled_lines: lines
                    .iter()
                    .map(|l| ParcelLine {
                        line_id: l.line_id.clone(),
                        sku: l.sku.clone(),
                        quantity: l.quantity,
                    })
                    .collect(),
                handed_over_parcel_ids: handed,
                reason: reason.clone(),
                cancelled_at: Some(to_timestamp(now)),
            };
            self.0.outbox.append(tx, &event).await?;
        }
        Ok(())
    }
}

struct RecordWeight;

impl Handler<ItemUpserted> for RecordWeight {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ItemUpserted>,
    ) -> Result<(), HandlerError> {
        let Some(item) = &envelope.event.item else {
            return Err(HandlerError::permanent("item.upserted without an item"));
        };
        let at = item
            .updated_at
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(envelope.time);
        fulfillments::upsert_weight(tx, &item.sku, &item.name, item.weight_grams, at).await?;
        Ok(())
    }
}

pub async fn subscribe(
    bus: &Bus,
    host: &mut Host,
    ctx: &Ctx,
) -> Result<(), messaging::consumer::ConsumerError> {
    bus.consume::<FulfillmentRequested, _>(host, CreateFulfillments(ctx.clone()))
        .await?;
    bus.consume::<FulfillmentCancelRequested, _>(host, CancelFulfillments(ctx.clone()))
        .await?;
    bus.consume::<ItemUpserted, _>(host, RecordWeight).await
}
