use contracts::inventory::{
    GetWarehouseRequest, ListWarehousesRequest, UpsertWarehouseRequest, Warehouse,
};
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, bin, item, receive, upsert_item, upsert_warehouse, warehouse};

#[tokio::test]
async fn a_warehouse_keeps_its_bins_in_pick_path_order_and_a_new_one_gets_a_default_bin() {
    let app = TestApp::start().await;
    let mut client = app.client().await;

    let plain = upsert_warehouse(&mut client, warehouse("wh-plain", "DE", "BE", &[])).await;
    assert_eq!(plain.bins.len(), 1);
    assert_eq!(plain.bins[0].code, "DEFAULT");
    assert_eq!(plain.bins[0].pickable, Some(true));
    assert_eq!(plain.active, Some(true));

    let mut laid_out = warehouse("wh-1", "DE", "BE", &[]);
    laid_out.bins = vec![bin("C-1", 30), bin("A-1", 10), bin("B-1", 20)];
    laid_out.bins[2].pickable = Some(false);
    laid_out.pickup_enabled = true;
    let stored = upsert_warehouse(&mut client, laid_out).await;
    let codes: Vec<&str> = stored.bins.iter().map(|b| b.code.as_str()).collect();
    assert_eq!(codes, ["A-1", "B-1", "C-1"]);
    assert_eq!(stored.bins[1].pickable, Some(false));

    let got = client
        .get_warehouse(GetWarehouseRequest { id: "wh-1".into() })
        .await
        .unwrap()
        .into_inner()
        .warehouse
        .unwrap();
    assert_eq!(got, stored);

    // An update without bins keeps the layout.
    let renamed = upsert_warehouse(
        &mut client,
        Warehouse {
            name: "Renamed".into(),
            pickup_enabled: true,
            ..warehouse("wh-1", "DE", "BE", &[])
        },
    )
    .await;
    assert_eq!(renamed.bins, stored.bins);
    assert_eq!(renamed.name, "Renamed");

    let all = client
        .list_warehouses(ListWarehousesRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.warehouses.len(), 1);
    assert_eq!(all.warehouses[0].id, "wh-1");
    let rest = client
        .list_warehouses(ListWarehousesRequest {
            page_size: 1,
            page_token: all.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.warehouses[0].id, "wh-plain");
    assert!(rest.next_page_token.is_empty());
    let stores = client
        .list_warehouses(ListWarehousesRequest {
            pickup_enabled_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stores.warehouses.len(), 1);
    assert_eq!(stores.warehouses[0].id, "wh-1");
}

#[tokio::test]
async fn a_bin_holding_stock_cannot_be_removed_and_an_empty_one_can() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    upsert_item(&mut client, item("S")).await;
    upsert_warehouse(&mut client, warehouse("wh", "DE", "BE", &["A", "B"])).await;
    receive(&mut client, "S", "wh", "A", 3).await;

    let status = client
        .upsert_warehouse(UpsertWarehouseRequest {
            warehouse: Some(warehouse("wh", "DE", "BE", &["B"])),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("bin A"), "{}", status.message());

    let kept = upsert_warehouse(&mut client, warehouse("wh", "DE", "BE", &["A", "C"])).await;
    let codes: Vec<&str> = kept.bins.iter().map(|b| b.code.as_str()).collect();
    assert_eq!(codes, ["A", "C"]);
}

#[tokio::test]
async fn invalid_warehouses_are_refused_with_every_bad_field() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let mut bad = warehouse("", "germany", "", &["A", "A"]);
    bad.name = String::new();
    bad.bins.push(bin("no spaces", -1));
    let status = client
        .upsert_warehouse(UpsertWarehouseRequest {
            warehouse: Some(bad),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    for field in [
        "warehouse.id",
        "warehouse.name",
        "warehouse.country_code",
        "warehouse.bins[1].code",
        "warehouse.bins[2].code",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    let unknown = client
        .get_warehouse(GetWarehouseRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}
