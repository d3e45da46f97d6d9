//! The demo's catalog, warehouses (one of them a pickup store) and stock, through inventory's
//! gRPC. Idempotent by natural key; stock is received once per run (unique request ids).

use contracts::common::Address;
use contracts::inventory::{
    Bin, GetAvailabilityRequest, Item, ReceiveStockRequest, UpsertItemRequest,
    UpsertWarehouseRequest, Warehouse,
};

use super::flow::eur;
use crate::clients::{Clients, Rpc as _};

pub const BERLIN: &str = "WH-BER";
pub const HAMBURG: &str = "WH-HAM";
pub const STORE: &str = "STORE-MUC";

pub const TEA: &str = "TEA-001";
pub const CUP: &str = "CUP-002";
pub const BOOK: &str = "BOOK-003";
pub const KETTLE: &str = "KETTLE-004";
pub const CEREMONY: &str = "SET-900";
pub const RARE: &str = "PUERH-1999";

/// sku, name, category, price (EUR minor), weight (g), warehouse, units received per run.
const CATALOG: [(&str, &str, &str, i64, i32, &str, i32); 6] = [
    (
        TEA,
        "Longjing green tea 250 g",
        "tea",
        1250,
        260,
        BERLIN,
        200,
    ),
    (CUP, "Celadon tea cup", "homeware", 1800, 300, BERLIN, 100),
    (
        BOOK,
        "The Classic of Tea (hardcover)",
        "books",
        2400,
        500,
        HAMBURG,
        100,
    ),
    (
        KETTLE,
        "Cast-iron kettle 1 l",
        "homeware",
        4900,
        1400,
        STORE,
        20,
    ),
    (
        CEREMONY,
        "Tea ceremony set, master edition",
        "homeware",
        650_000,
        5000,
        BERLIN,
        10,
    ),
    (RARE, "Aged pu-erh cake, 1999", "tea", 9900, 400, BERLIN, 1),
];

pub fn price(sku: &str) -> i64 {
    CATALOG.iter().find(|c| c.0 == sku).map_or(0, |c| c.3)
}

pub fn weight(sku: &str) -> i32 {
    CATALOG.iter().find(|c| c.0 == sku).map_or(0, |c| c.4)
}

fn warehouse(
    id: &str,
    name: &str,
    city: &str,
    region: &str,
    postal: &str,
    pickup: bool,
) -> Warehouse {
    Warehouse {
        id: id.into(),
        name: name.into(),
        country_code: "DE".into(),
        region: region.into(),
        pickup_enabled: pickup,
        address: Some(Address {
            recipient: format!("ordercycle {name}"),
            line1: "Lagerstraße 1".into(),
            city: city.into(),
            region: region.into(),
            postal_code: postal.into(),
            country_code: "DE".into(),
            ..Default::default()
        }),
        bins: vec![
            Bin {
                code: "A-01".into(),
                zone: "A".into(),
                pick_sequence: 10,
                pickable: Some(true),
            },
            Bin {
                code: "A-02".into(),
                zone: "A".into(),
                pick_sequence: 20,
                pickable: Some(true),
            },
        ],
        time_zone: "Europe/Berlin".into(),
        ..Default::default()
    }
}

/// Seeds everything; returns a line per step for the person watching.
pub async fn seed(c: &Clients, run: &str) -> anyhow::Result<Vec<String>> {
    let mut inv = c.inventory.clone();
    let mut done = Vec::new();
    for w in [
        warehouse(BERLIN, "Berlin DC", "Berlin", "BE", "10115", false),
        warehouse(HAMBURG, "Hamburg DC", "Hamburg", "HH", "20095", false),
        warehouse(STORE, "Munich store", "München", "BY", "80331", true),
    ] {
        let label = format!(
            "warehouse {} ({}{})",
            w.id,
            w.name,
            if w.pickup_enabled {
                ", pickup store"
            } else {
                ""
            }
        );
        inv.upsert_warehouse(UpsertWarehouseRequest { warehouse: Some(w) })
            .await
            .rpc("inventory UpsertWarehouse")?;
        done.push(label);
    }
    for (sku, name, category, price, grams, _, _) in CATALOG {
        inv.upsert_item(UpsertItemRequest {
            item: Some(Item {
                sku: sku.into(),
                name: name.into(),
                category: category.into(),
                unit_price: Some(eur(price)),
                weight_grams: grams,
                reorder_point: 2,
                safety_stock: 0,
                lead_time_days: 3,
                returnable: Some(true),
                active: Some(true),
                ..Default::default()
            }),
        })
        .await
        .rpc("inventory UpsertItem")?;
    }
    done.push(format!("catalog: {} items", CATALOG.len()));
    for (sku, _, _, _, _, wh, units) in CATALOG {
        // The rare cake stays scarce: top it up to one unit only.
        let have = available(c, sku, wh).await?;
        let units = if sku == RARE {
            (1 - have).max(0)
        } else {
            units
        };
        if units > 0 {
            inv.receive_stock(ReceiveStockRequest {
                request_id: format!("demo-{run}-receive-{sku}"),
                sku: sku.into(),
                warehouse_id: wh.into(),
                quantity: units,
                bin: "A-01".into(),
                reference: format!("demo {run}"),
                note: "demo seed".into(),
            })
            .await
            .rpc("inventory ReceiveStock")?;
        }
        done.push(format!("stock {sku} @ {wh}: +{units}"));
    }
    Ok(done)
}

/// Units of `sku` available in `warehouse` now.
pub async fn available(c: &Clients, sku: &str, warehouse: &str) -> anyhow::Result<i32> {
    let levels = c
        .inventory
        .clone()
        .get_availability(GetAvailabilityRequest {
            sku: sku.into(),
            ..Default::default()
        })
        .await
        .rpc("inventory GetAvailability")?
        .levels;
    Ok(levels
        .iter()
        .filter(|l| l.warehouse_id == warehouse)
        .map(|l| l.available)
        .sum())
}
