//! `orders.fulfillment.cancel_requested` → cancel the order's fulfilments that have not left
//! yet. [`cancel`] is also how an order update drops a warehouse ([`super::amend`]).

use chrono::{DateTime, Utc};
use contracts::fulfillment::{FulfillmentCancelled, ParcelLine};
use contracts::orders::FulfillmentCancelRequested;
use contracts::time::to_timestamp;
use messaging::{Envelope, Handler, HandlerError, Outbox};
use sqlx::PgConnection;

use super::Ctx;
use super::create::parse_order_id;
use crate::domain::Status;
use crate::store::fulfillments::{self, FulfillmentRow};
use crate::store::parcels;

pub(super) struct CancelFulfillments(pub(super) Ctx);

impl Handler<FulfillmentCancelRequested> for CancelFulfillments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentCancelRequested>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let order_id = parse_order_id(&e.order_id)?;
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
            cancel(tx, &self.0.outbox, &f, &reason, now).await?;
        }
        Ok(())
    }
}

/// Cancels one fulfilment (locked by the caller, still cancellable): its packed parcels stay
/// in the building, and `fulfillment.fulfillment.cancelled` names every line it gave up.
pub(super) async fn cancel(
    tx: &mut PgConnection,
    outbox: &Outbox,
    f: &FulfillmentRow,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    fulfillments::set_status(tx, f.id, Status::Cancelled.as_str(), now).await?;
    fulfillments::set_cancel_reason(tx, f.id, reason).await?;
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
        order_id: f.order_id.to_string(),
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
        reason: reason.to_owned(),
        cancelled_at: Some(to_timestamp(now)),
    };
    outbox.append(tx, &event).await?;
    Ok(())
}
