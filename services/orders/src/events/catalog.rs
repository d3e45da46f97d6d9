//! `inventory.item.upserted` → the catalog read model that validates new orders.

use contracts::inventory::ItemUpserted;
use contracts::time::from_timestamp;
use messaging::{Bus, Envelope, Handler, HandlerError};
use runtime::Host;
use sqlx::PgConnection;

use crate::store::catalog::{self, ItemUpdate};

struct UpsertCatalogItem;

impl Handler<ItemUpserted> for UpsertCatalogItem {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ItemUpserted>,
    ) -> Result<(), HandlerError> {
        let Some(item) = &envelope.event.item else {
            return Err(HandlerError::permanent("item.upserted without an item"));
        };
        let price = item.unit_price.clone().unwrap_or_default();
        let updated_at = item
            .updated_at
            .as_ref()
            .and_then(from_timestamp)
            .or_else(|| envelope.event.upserted_at.as_ref().and_then(from_timestamp))
            .unwrap_or(envelope.time);
        catalog::upsert(
            tx,
            &ItemUpdate {
                sku: &item.sku,
                name: &item.name,
                currency: &price.currency_code,
                unit_price_minor: price.amount_minor,
                category: &item.category,
                returnable: item.returnable.unwrap_or(true),
                active: item.active.unwrap_or(true),
                weight_grams: item.weight_grams.max(0),
                updated_at,
            },
        )
        .await?;
        Ok(())
    }
}

pub async fn subscribe(
    bus: &Bus,
    host: &mut Host,
) -> Result<(), messaging::consumer::ConsumerError> {
    bus.consume::<ItemUpserted, _>(host, UpsertCatalogItem)
        .await
}
