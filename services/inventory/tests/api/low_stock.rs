use std::time::Duration;

use contracts::inventory::{ListLowStockRequest, StockLow, StockReserved};
use tonic::Code;

use crate::helpers::{
    TestApp, item, line, long_request, receive, upsert_item, upsert_warehouse, warehouse,
};

#[tokio::test]
async fn stock_low_is_published_once_per_crossing_of_the_reorder_point() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    upsert_item(
        &mut client,
        contracts::inventory::Item {
            reorder_point: 3,
            safety_stock: 2,
            ..item("S")
        },
    )
    .await;
    upsert_warehouse(&mut client, warehouse("wh", "DE", "BE", &["A"])).await;
    receive(&mut client, "S", "wh", "A", 5).await;
    let mut low = app.env.tap("inventory.stock.low").await;
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;

    // 5 → 3: at the reorder point, low. 3 → 2: still low, no second alert.
    for (id, units) in [("r-1", 2), ("r-2", 1)] {
        app.publish(&long_request(id, vec![line("L1", "S", units)]))
            .await;
        let _: StockReserved = reserved.next().await;
    }
    let alert: StockLow = low.next().await;
    assert_eq!(
        (alert.sku.as_str(), alert.warehouse_id.as_str()),
        ("S", "wh")
    );
    assert_eq!(
        (alert.on_hand, alert.available, alert.reorder_point),
        (5, 3, 3)
    );
    assert!(!alert.below_safety_stock);
    assert_eq!(alert.name, "Item S");
    assert!(low.next_within(Duration::from_millis(300)).await.is_none());

    let listed = client
        .list_low_stock(ListLowStockRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].available, listed[0].on_hand), (2, 5));
    assert!(listed[0].since.is_some());

    // Back above the reorder point, then down again: a new crossing, a new alert.
    receive(&mut client, "S", "wh", "A", 5).await;
    let listed = client
        .list_low_stock(ListLowStockRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(listed.is_empty());
    app.publish(&long_request("r-3", vec![line("L1", "S", 6)]))
        .await;
    let _: StockReserved = reserved.next().await;
    let again: StockLow = low.next().await;
    assert_eq!(again.available, 1);
    assert!(again.below_safety_stock);
}

#[tokio::test]
async fn low_stock_lists_the_most_urgent_first_and_follows_reorder_point_changes() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    for (sku, reorder_point) in [("MILD", 5), ("URGENT", 10), ("FINE", 1)] {
        upsert_item(
            &mut client,
            contracts::inventory::Item {
                reorder_point,
                ..item(sku)
            },
        )
        .await;
    }
    upsert_warehouse(&mut client, warehouse("w1", "DE", "BE", &["A"])).await;
    upsert_warehouse(&mut client, warehouse("w2", "DE", "BE", &["A"])).await;
    receive(&mut client, "MILD", "w1", "A", 4).await;
    receive(&mut client, "URGENT", "w1", "A", 2).await;
    receive(&mut client, "FINE", "w2", "A", 4).await;

    let entries = client
        .list_low_stock(ListLowStockRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    let skus: Vec<&str> = entries.iter().map(|e| e.sku.as_str()).collect();
    assert_eq!(skus, ["URGENT", "MILD"]);

    let page = client
        .list_low_stock(ListLowStockRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.entries[0].sku, "URGENT");
    let rest = client
        .list_low_stock(ListLowStockRequest {
            page_size: 1,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.entries[0].sku, "MILD");
    assert!(rest.next_page_token.is_empty());

    // Lowering the reorder point below the stock ends the low state.
    upsert_item(
        &mut client,
        contracts::inventory::Item {
            reorder_point: 1,
            ..item("URGENT")
        },
    )
    .await;
    let in_w2 = client
        .list_low_stock(ListLowStockRequest {
            warehouse_id: "w1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(in_w2.len(), 1);
    assert_eq!(in_w2[0].sku, "MILD");

    let bad = client
        .list_low_stock(ListLowStockRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}
