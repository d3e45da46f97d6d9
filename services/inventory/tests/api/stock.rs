use contracts::inventory::{
    AdjustStockRequest, AdjustmentReason, GetAvailabilityRequest, ReceiveStockRequest, Warehouse,
};
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{
    TestApp, bin, item, level, line, long_request, receive, upsert_item, upsert_warehouse,
    warehouse,
};

fn receipt(request_id: &str, quantity: i32) -> ReceiveStockRequest {
    ReceiveStockRequest {
        request_id: request_id.into(),
        sku: "S".into(),
        warehouse_id: "wh".into(),
        quantity,
        bin: String::new(),
        reference: "PO-1".into(),
        note: String::new(),
    }
}

#[tokio::test]
async fn received_stock_goes_to_the_receiving_bin_and_a_repeated_request_id_applies_once() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    upsert_item(&mut client, item("S")).await;
    let mut wh = warehouse("wh", "DE", "BE", &[]);
    // The receiving bin is the first pickable one on the pick path.
    wh.bins = vec![bin("OVERFLOW", 1), bin("A", 2), bin("B", 3)];
    wh.bins[0].pickable = Some(false);
    upsert_warehouse(&mut client, wh).await;

    let first = client
        .receive_stock(receipt("r-1", 5))
        .await
        .unwrap()
        .into_inner();
    let level = first.level.clone().unwrap();
    assert_eq!((level.on_hand, level.reserved, level.available), (5, 0, 5));
    assert_eq!(level.bins.len(), 1);
    assert_eq!(level.bins[0].bin, "A");

    let again = client
        .receive_stock(receipt("r-1", 5))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first, "the first answer is replayed");
    let different = client.receive_stock(receipt("r-1", 6)).await.unwrap_err();
    assert_eq!(different.code(), Code::AlreadyExists);
    assert_eq!(
        app.scalar("SELECT sum(on_hand) FROM bin_stock").await,
        5,
        "applied once"
    );

    // Units in a bin that is not pickable are on hand but not available.
    let overflow = client
        .receive_stock(ReceiveStockRequest {
            bin: "OVERFLOW".into(),
            ..receipt("r-2", 4)
        })
        .await
        .unwrap()
        .into_inner()
        .level
        .unwrap();
    assert_eq!((overflow.on_hand, overflow.available), (9, 5));
    assert_eq!(
        app.scalar("SELECT count(*) FROM stock_movements WHERE kind = 'RECEIVED'")
            .await,
        2
    );
}

#[tokio::test]
async fn receiving_into_unknown_things_or_bad_quantities_is_refused_and_changes_nothing() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    upsert_item(&mut client, item("S")).await;
    upsert_warehouse(&mut client, warehouse("wh", "DE", "BE", &["A"])).await;

    let invalid = client
        .receive_stock(ReceiveStockRequest {
            request_id: String::new(),
            quantity: 0,
            ..receipt("", 0)
        })
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let fields: Vec<String> = invalid
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["request_id", "quantity"]);
    let negative = client
        .receive_stock(receipt("r-neg", -3))
        .await
        .unwrap_err();
    assert_eq!(negative.code(), Code::InvalidArgument);

    for (request, what) in [
        (
            ReceiveStockRequest {
                sku: "NOPE".into(),
                ..receipt("r-a", 1)
            },
            "item NOPE",
        ),
        (
            ReceiveStockRequest {
                warehouse_id: "nowhere".into(),
                ..receipt("r-b", 1)
            },
            "warehouse nowhere",
        ),
        (
            ReceiveStockRequest {
                bin: "Z".into(),
                ..receipt("r-c", 1)
            },
            "bin Z",
        ),
    ] {
        let status = client.receive_stock(request).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.message().contains(what), "{}", status.message());
    }
    assert_eq!(app.scalar("SELECT count(*) FROM bin_stock").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM stock_requests").await, 0);
}

#[tokio::test]
async fn adjustments_need_a_reason_and_cannot_take_reserved_units() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    upsert_item(&mut client, item("S")).await;
    upsert_warehouse(&mut client, warehouse("wh", "DE", "BE", &["A"])).await;
    receive(&mut client, "S", "wh", "A", 5).await;
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;
    app.publish(&long_request("res-1", vec![line("L1", "S", 3)]))
        .await;
    let _: contracts::inventory::StockReserved = reserved.next().await;

    let adjust = |request_id: &str, delta: i32, reason: AdjustmentReason| AdjustStockRequest {
        request_id: request_id.into(),
        sku: "S".into(),
        warehouse_id: "wh".into(),
        bin: "A".into(),
        delta,
        reason: reason.into(),
        note: "cycle count".into(),
    };
    let no_reason = client
        .adjust_stock(adjust("a-0", -1, AdjustmentReason::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(no_reason.code(), Code::InvalidArgument);
    let zero = client
        .adjust_stock(adjust("a-z", 0, AdjustmentReason::Lost))
        .await
        .unwrap_err();
    assert_eq!(zero.code(), Code::InvalidArgument);

    // 5 on hand, 3 reserved: 2 may go, 3 may not.
    let too_many = client
        .adjust_stock(adjust("a-1", -3, AdjustmentReason::Damaged))
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), Code::FailedPrecondition);
    let ok = client
        .adjust_stock(adjust("a-2", -2, AdjustmentReason::Damaged))
        .await
        .unwrap()
        .into_inner()
        .level
        .unwrap();
    assert_eq!((ok.on_hand, ok.reserved, ok.available), (3, 3, 0));
    // Replayed, not applied again.
    let replay = client
        .adjust_stock(adjust("a-2", -2, AdjustmentReason::Damaged))
        .await
        .unwrap()
        .into_inner()
        .level
        .unwrap();
    assert_eq!(replay, ok);
    let found = client
        .adjust_stock(adjust("a-3", 4, AdjustmentReason::Found))
        .await
        .unwrap()
        .into_inner()
        .level
        .unwrap();
    assert_eq!((found.on_hand, found.available), (7, 4));
    assert_eq!(
        app.scalar(
            "SELECT count(*) FROM stock_movements WHERE kind = 'ADJUSTED' AND reason IS NOT NULL"
        )
        .await,
        2
    );
    // A bin without stock of the SKU cannot lose any.
    upsert_warehouse(&mut client, warehouse("wh", "DE", "BE", &["A", "B"])).await;
    let empty = client
        .adjust_stock(AdjustStockRequest {
            bin: "B".into(),
            ..adjust("a-4", -1, AdjustmentReason::Lost)
        })
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn availability_is_per_warehouse_with_a_total() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    upsert_item(&mut client, item("S")).await;
    upsert_item(&mut client, item("NEVER")).await;
    upsert_warehouse(&mut client, warehouse("w1", "DE", "BE", &["A", "B"])).await;
    upsert_warehouse(
        &mut client,
        Warehouse {
            ..warehouse("w2", "FR", "", &["A"])
        },
    )
    .await;
    receive(&mut client, "S", "w1", "A", 2).await;
    receive(&mut client, "S", "w1", "B", 3).await;
    receive(&mut client, "S", "w2", "A", 4).await;

    let all = client
        .get_availability(GetAvailabilityRequest {
            sku: "S".into(),
            warehouse_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total_available, 9);
    let per: Vec<(&str, i32)> = all
        .levels
        .iter()
        .map(|l| (l.warehouse_id.as_str(), l.available))
        .collect();
    assert_eq!(per, [("w1", 5), ("w2", 4)]);
    assert_eq!(all.levels[0].bins.len(), 2);
    assert_eq!(level(&mut client, "S", "w2").await, (4, 0, 4));

    // Known SKU never stocked: no levels; in a named warehouse, zeros.
    let never = client
        .get_availability(GetAvailabilityRequest {
            sku: "NEVER".into(),
            warehouse_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(never.levels.is_empty());
    assert_eq!(level(&mut client, "NEVER", "w1").await, (0, 0, 0));
    for (sku, wh, code) in [
        ("NOPE", "", Code::NotFound),
        ("S", "nowhere", Code::NotFound),
        ("", "", Code::InvalidArgument),
    ] {
        let status = client
            .get_availability(GetAvailabilityRequest {
                sku: sku.into(),
                warehouse_id: wh.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{sku}/{wh}");
    }
}
