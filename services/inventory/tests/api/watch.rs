use std::time::Duration;

use contracts::inventory::{StockReserved, WatchAvailabilityRequest, WatchAvailabilityResponse};
use futures::StreamExt as _;
use tonic::Code;
use tonic::codec::Streaming;

use crate::helpers::{
    TestApp, item, line, long_request, receive, upsert_item, upsert_warehouse, warehouse,
};

async fn next(stream: &mut Streaming<WatchAvailabilityResponse>) -> WatchAvailabilityResponse {
    tokio::time::timeout(testkit::PATIENCE, stream.next())
        .await
        .expect("a watch message")
        .expect("the stream is open")
        .expect("a level")
}

#[tokio::test]
async fn a_watch_gets_the_current_levels_then_every_committed_change_of_its_skus() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    for sku in ["W", "OTHER"] {
        upsert_item(&mut client, item(sku)).await;
    }
    upsert_warehouse(&mut client, warehouse("w1", "DE", "BE", &["A"])).await;
    upsert_warehouse(&mut client, warehouse("w2", "DE", "HH", &["A"])).await;
    receive(&mut client, "W", "w1", "A", 5).await;
    receive(&mut client, "W", "w2", "A", 1).await;

    let mut stream = client
        .watch_availability(WatchAvailabilityRequest {
            skus: vec!["W".into()],
            warehouse_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = next(&mut stream).await;
    let second = next(&mut stream).await;
    assert!(first.initial && second.initial);
    let snapshot: Vec<(String, i32)> = [first, second]
        .into_iter()
        .map(|m| {
            let l = m.level.unwrap();
            (l.warehouse_id, l.available)
        })
        .collect();
    assert_eq!(snapshot, [("w1".into(), 5), ("w2".into(), 1)]);

    // A change of another SKU is not sent; a receipt and a reservation of W are.
    receive(&mut client, "OTHER", "w1", "A", 9).await;
    receive(&mut client, "W", "w1", "A", 2).await;
    let received = next(&mut stream).await;
    assert!(!received.initial);
    let level = received.level.unwrap();
    assert_eq!(
        (level.sku.as_str(), level.warehouse_id.as_str()),
        ("W", "w1")
    );
    assert_eq!((level.on_hand, level.available), (7, 7));

    let mut reserved = app.env.tap("inventory.reservation.reserved").await;
    app.publish(&long_request("r-w", vec![line("L1", "W", 3)]))
        .await;
    let _: StockReserved = reserved.next().await;
    let level = next(&mut stream).await.level.unwrap();
    assert_eq!((level.on_hand, level.reserved, level.available), (7, 3, 4));
}

#[tokio::test]
async fn a_watch_of_one_warehouse_starts_from_zero_and_bad_watches_are_refused() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    upsert_item(&mut client, item("W")).await;
    upsert_warehouse(&mut client, warehouse("w1", "DE", "BE", &["A"])).await;
    upsert_warehouse(&mut client, warehouse("w2", "DE", "BE", &["A"])).await;
    let mut stream = client
        .watch_availability(WatchAvailabilityRequest {
            skus: vec!["W".into()],
            warehouse_id: "w1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let initial = next(&mut stream).await;
    assert!(initial.initial);
    assert_eq!(initial.level.unwrap().available, 0);
    receive(&mut client, "W", "w2", "A", 4).await;
    receive(&mut client, "W", "w1", "A", 1).await;
    let level = next(&mut stream).await.level.unwrap();
    assert_eq!((level.warehouse_id.as_str(), level.available), ("w1", 1));
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.next())
            .await
            .is_err(),
        "w2's change is not sent"
    );

    for (skus, warehouse_id, code) in [
        (vec![], "", Code::InvalidArgument),
        (vec!["bad sku".to_owned()], "", Code::InvalidArgument),
        (vec!["NOPE".to_owned()], "", Code::NotFound),
        (vec!["W".to_owned()], "nowhere", Code::NotFound),
    ] {
        let status = client
            .watch_availability(WatchAvailabilityRequest {
                skus,
                warehouse_id: warehouse_id.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), code);
    }
}
