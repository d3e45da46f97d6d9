//! The catalog and stock the load needs: `skus` items, one warehouse, plenty of stock — through
//! inventory's gRPC API, or (when inventory answers UNIMPLEMENTED) by playing inventory and
//! publishing `ItemUpserted` for orders' catalog read model.

use anyhow::Context as _;
use contracts::common::{Address, Money};
use contracts::inventory::inventory_service_client::InventoryServiceClient;
use contracts::inventory::{
    Bin, Item, ItemUpserted, ReceiveStockRequest, UpsertItemRequest, UpsertWarehouseRequest,
    Warehouse,
};
use tonic::Code;

pub const WAREHOUSE: &str = "wh-bench";
pub const BIN: &str = "A-01";
/// Catalog weight of every item; the warehouse worker weighs parcels by it.
pub const WEIGHT_GRAMS: i32 = 250;
/// Units received per SKU (inventory takes at most 1 000 000 per ReceiveStock).
pub const UNITS_PER_SKU: i32 = 1_000_000;

pub fn sku(n: u32) -> String {
    format!("BENCH-{n:04}")
}

/// Catalog price of SKU `n` (1-based), in EUR cents.
pub fn price_minor(n: u32) -> i64 {
    1000 + i64::from(n % 100) * 10
}

fn eur(amount_minor: i64) -> Money {
    Money {
        currency_code: "EUR".into(),
        amount_minor,
    }
}

fn item(n: u32) -> Item {
    Item {
        sku: sku(n),
        name: format!("Bench item {n}"),
        unit_price: Some(eur(price_minor(n))),
        weight_grams: WEIGHT_GRAMS,
        active: Some(true),
        ..Default::default()
    }
}

/// How the catalog was seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    Grpc,
    Nats,
}

impl Seeded {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "inventory gRPC (UpsertItem, UpsertWarehouse, ReceiveStock)",
            Self::Nats => "published ItemUpserted (inventory UNIMPLEMENTED)",
        }
    }
}

pub async fn seed(
    inventory_url: &str,
    nats: &async_nats::Client,
    subject_root: &str,
    skus: u32,
) -> anyhow::Result<Seeded> {
    let channel = tonic::transport::Endpoint::from_shared(inventory_url.to_owned())?
        .connect()
        .await
        .with_context(|| format!("connecting to inventory at {inventory_url}"))?;
    let mut inventory = InventoryServiceClient::new(channel);
    let warehouse = Warehouse {
        id: WAREHOUSE.into(),
        name: "Bench warehouse".into(),
        country_code: "DE".into(),
        region: "BE".into(),
        time_zone: "Europe/Berlin".into(),
        address: Some(Address {
            recipient: "Bench warehouse".into(),
            line1: "Lagerstrasse 1".into(),
            city: "Berlin".into(),
            postal_code: "10115".into(),
            country_code: "DE".into(),
            ..Default::default()
        }),
        bins: vec![Bin {
            code: BIN.into(),
            zone: "A".into(),
            pick_sequence: 1,
            pickable: Some(true),
        }],
        active: Some(true),
        ..Default::default()
    };
    match inventory
        .upsert_warehouse(UpsertWarehouseRequest {
            warehouse: Some(warehouse),
        })
        .await
    {
        Ok(_) => {}
        Err(status) if status.code() == Code::Unimplemented => {
            publish_catalog(nats, subject_root, skus).await?;
            return Ok(Seeded::Nats);
        }
        Err(status) => return Err(status).context("UpsertWarehouse"),
    }
    for n in 1..=skus {
        inventory
            .upsert_item(UpsertItemRequest {
                item: Some(item(n)),
            })
            .await
            .with_context(|| format!("UpsertItem {}", sku(n)))?;
        inventory
            .receive_stock(ReceiveStockRequest {
                request_id: format!("bench-receive-{}", sku(n)),
                sku: sku(n),
                warehouse_id: WAREHOUSE.into(),
                quantity: UNITS_PER_SKU,
                bin: BIN.into(),
                reference: "ordercycle-bench".into(),
                note: String::new(),
            })
            .await
            .with_context(|| format!("ReceiveStock {}", sku(n)))?;
    }
    Ok(Seeded::Grpc)
}

/// Plays inventory (as `services/orders/tests/api/helpers.rs` does): orders' catalog read model
/// learns the items from `ItemUpserted`.
async fn publish_catalog(
    nats: &async_nats::Client,
    subject_root: &str,
    skus: u32,
) -> anyhow::Result<()> {
    let jetstream = async_nats::jetstream::new(nats.clone());
    let subjects = runtime::Subjects::new(subject_root);
    for n in 1..=skus {
        let event = ItemUpserted {
            sku: sku(n),
            item: Some(item(n)),
            created: true,
            upserted_at: None,
        };
        messaging::envelope::publish_direct(&jetstream, &subjects, "ordercycle/inventory", &event)
            .await
            .map_err(|err| anyhow::anyhow!("publishing ItemUpserted {}: {err}", sku(n)))?;
    }
    Ok(())
}
