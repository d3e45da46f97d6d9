//! `inventory.item.upserted` → what a unit weighs, for the packing check.

use contracts::inventory::ItemUpserted;
use contracts::time::from_timestamp;
use messaging::{Envelope, Handler, HandlerError};
use sqlx::PgConnection;

use crate::store::fulfillments;

pub(super) struct RecordWeight;

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
