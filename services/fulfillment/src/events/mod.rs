//! What fulfillment does with orders' requests and inventory's catalog.
//!
//! - `orders.fulfillment.requested` → [`create`]: one fulfilment per warehouse in the
//!   allocations (store pickup: the pickup store), each announced with
//!   `fulfillment.fulfillment.created`.
//! - `orders.fulfillment.cancel_requested` → [`cancel`]: cancel what has not left yet.
//! - `orders.fulfillment.amend_requested` → [`amend`]: an order update after confirmation
//!   replaces the order's fulfilments (lines, warehouses, address) while nothing is picked or
//!   waved, answered with `fulfillment.order.amended` or `.amend_refused`.
//! - `inventory.item.upserted` → [`weights`]: unit weights for the packing check.

mod amend;
mod cancel;
mod create;
mod weights;

use contracts::inventory::ItemUpserted;
use contracts::orders::{
    FulfillmentAmendRequested, FulfillmentCancelRequested, FulfillmentRequested,
};
use messaging::{Bus, Outbox};
use runtime::{Clock, Host};

#[derive(Clone)]
pub struct Ctx {
    pub outbox: Outbox,
    pub clock: Clock,
}

pub async fn subscribe(
    bus: &Bus,
    host: &mut Host,
    ctx: &Ctx,
) -> Result<(), messaging::consumer::ConsumerError> {
    bus.consume::<FulfillmentRequested, _>(host, create::CreateFulfillments(ctx.clone()))
        .await?;
    bus.consume::<FulfillmentCancelRequested, _>(host, cancel::CancelFulfillments(ctx.clone()))
        .await?;
    bus.consume::<FulfillmentAmendRequested, _>(host, amend::AmendFulfillments(ctx.clone()))
        .await?;
    bus.consume::<ItemUpserted, _>(host, weights::RecordWeight)
        .await
}
