use std::time::Duration;

use contracts::common::{Allocation, BinAllocation, FulfillmentMode};
use contracts::inventory::{
    GetReservationRequest, ReservationExpired, ReservationStatus, StockReserved, StockShortage,
    Warehouse,
};
use contracts::orders::{
    ReservationCommitRequested, ReservationConfirmRequested, ReservationReleaseRequested,
    ReservationRequested, RestockLine, RestockRequested,
};
use messaging::dlq::DLQ_REASON;
use tonic::Code;

use crate::helpers::{
    Client, TestApp, item, level, line, long_request, receive, request, reservation, upsert_item,
    upsert_warehouse, warehouse,
};

/// Two SKUs, a Berlin warehouse with A only, a Hamburg one with B only, a Paris one with both,
/// and a Berlin store.
async fn stocked(app: &TestApp) -> Client {
    let mut client = app.client().await;
    for sku in ["A", "B"] {
        upsert_item(&mut client, item(sku)).await;
    }
    upsert_warehouse(&mut client, warehouse("berlin", "DE", "BE", &["B1", "B2"])).await;
    upsert_warehouse(&mut client, warehouse("hamburg", "DE", "HH", &["H1"])).await;
    upsert_warehouse(&mut client, warehouse("paris", "FR", "IDF", &["P1"])).await;
    upsert_warehouse(
        &mut client,
        Warehouse {
            pickup_enabled: true,
            ..warehouse("store", "DE", "BE", &["S1"])
        },
    )
    .await;
    receive(&mut client, "A", "berlin", "B1", 2).await;
    receive(&mut client, "A", "berlin", "B2", 3).await;
    receive(&mut client, "B", "hamburg", "H1", 5).await;
    receive(&mut client, "A", "paris", "P1", 10).await;
    receive(&mut client, "B", "paris", "P1", 10).await;
    receive(&mut client, "A", "store", "S1", 1).await;
    client
}

fn warehouses(allocations: &[Allocation]) -> Vec<&str> {
    let mut ids: Vec<&str> = allocations
        .iter()
        .map(|a| a.warehouse_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[tokio::test]
async fn an_order_one_warehouse_can_serve_is_reserved_there_with_bins_in_pick_order() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;

    // Berlin is nearest but has no B; Paris has both: one shipment beats two.
    app.publish(&long_request(
        "r-both",
        vec![line("L1", "A", 4), line("L2", "B", 1)],
    ))
    .await;
    let event: StockReserved = reserved.next().await;
    assert_eq!(event.reservation_id, "r-both");
    assert_eq!(event.order_id, "order-r-both");
    assert_eq!(warehouses(&event.allocations), ["paris"]);
    assert!(event.expires_at.is_some());

    // A alone: Berlin, across its bins in pick-path order.
    app.publish(&long_request("r-a", vec![line("L1", "A", 4)]))
        .await;
    let event: StockReserved = reserved.next().await;
    assert_eq!(
        event.allocations,
        [Allocation {
            line_id: "L1".into(),
            sku: "A".into(),
            warehouse_id: "berlin".into(),
            quantity: 4,
            bins: vec![
                BinAllocation {
                    bin: "B1".into(),
                    quantity: 2,
                    pick_sequence: 1,
                },
                BinAllocation {
                    bin: "B2".into(),
                    quantity: 2,
                    pick_sequence: 2,
                },
            ],
        }]
    );
    assert_eq!(level(&mut client, "A", "berlin").await, (5, 4, 1));
    let stored = reservation(&mut client, "r-a").await.unwrap();
    assert_eq!(stored.status(), ReservationStatus::Reserved);
    assert_eq!(stored.allocations, event.allocations);
    let by_order = client
        .get_reservation(GetReservationRequest {
            id: String::new(),
            order_id: "order-r-a".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(by_order.id, "r-a");
}

#[tokio::test]
async fn an_order_no_warehouse_can_serve_alone_is_split_over_the_fewest_nearest_ones() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;
    // Paris has 10 A and 10 B; 12 A and 5 B need two warehouses: Berlin's 5 A cannot join
    // Hamburg's B alone, so Paris is in, with the nearest partner that fills the rest.
    app.publish(&long_request(
        "r-split",
        vec![line("L1", "A", 12), line("L2", "B", 5)],
    ))
    .await;
    let event: StockReserved = reserved.next().await;
    assert_eq!(warehouses(&event.allocations), ["berlin", "paris"]);
    let a_units: i32 = event
        .allocations
        .iter()
        .filter(|a| a.line_id == "L1")
        .map(|a| a.quantity)
        .sum();
    assert_eq!(a_units, 12);
    assert_eq!(
        level(&mut client, "A", "paris").await.1 + level(&mut client, "A", "berlin").await.1,
        12
    );
}

#[tokio::test]
async fn a_pickup_order_is_reserved_only_at_its_store_or_reported_short() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;
    let mut short = app.env.tap("inventory.reservation.shortage").await;
    let pickup = |id: &str, quantity: i32| ReservationRequested {
        fulfillment_mode: FulfillmentMode::StorePickup.into(),
        pickup_store_id: "store".into(),
        ship_to_country_code: String::new(),
        ship_to_region: String::new(),
        allow_split: false,
        ..long_request(id, vec![line("L1", "A", quantity)])
    };

    app.publish(&pickup("p-1", 1)).await;
    let event: StockReserved = reserved.next().await;
    assert_eq!(warehouses(&event.allocations), ["store"]);

    // The store has none left; the warehouses' stock does not count for pickup.
    app.publish(&pickup("p-2", 1)).await;
    let event: StockShortage = short.next().await;
    assert_eq!(event.reservation_id, "p-2");
    assert_eq!(event.short_lines.len(), 1);
    assert_eq!(event.short_lines[0].available_quantity, 0);
    assert_eq!(level(&mut client, "A", "berlin").await, (5, 0, 5));
}

#[tokio::test]
async fn a_shortage_names_the_short_lines_and_holds_nothing() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    upsert_item(
        &mut client,
        contracts::inventory::Item {
            active: Some(false),
            ..item("RETIRED")
        },
    )
    .await;
    let mut short = app.env.tap("inventory.reservation.shortage").await;

    app.publish(&long_request(
        "r-short",
        vec![
            line("L1", "A", 1),
            line("L2", "B", 99),
            line("L3", "RETIRED", 1),
            line("L4", "UNKNOWN", 1),
        ],
    ))
    .await;
    let event: StockShortage = short.next().await;
    let lines: Vec<(&str, i32, i32)> = event
        .short_lines
        .iter()
        .map(|l| {
            (
                l.line_id.as_str(),
                l.requested_quantity,
                l.available_quantity,
            )
        })
        .collect();
    assert_eq!(lines, [("L2", 99, 15), ("L3", 1, 0), ("L4", 1, 0)]);
    assert_eq!(app.scalar("SELECT sum(reserved) FROM bin_stock").await, 0);
    let stored = reservation(&mut client, "r-short").await.unwrap();
    assert_eq!(stored.status(), ReservationStatus::Shortage);
    assert!(stored.allocations.is_empty());
}

#[tokio::test]
async fn the_same_reservation_requested_again_under_a_new_event_id_is_reserved_once() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;
    let event = long_request("r-dup", vec![line("L1", "A", 2)]);
    app.publish(&event).await;
    app.publish(&event).await;
    // A later request proves both copies were handled before it.
    app.publish(&long_request("r-later", vec![line("L1", "B", 1)]))
        .await;
    let first: StockReserved = reserved.next().await;
    let second: StockReserved = reserved.next().await;
    assert_eq!(first.reservation_id, "r-dup");
    assert_eq!(second.reservation_id, "r-later");
    assert_eq!(level(&mut client, "A", "berlin").await, (5, 2, 3));
}

#[tokio::test]
async fn an_unconfirmed_reservation_expires_at_its_ttl_and_its_stock_comes_back() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;
    let mut expired = app.env.tap("inventory.reservation.expired").await;

    app.publish(&request("r-ttl", vec![line("L1", "A", 3)], 300))
        .await;
    let held: StockReserved = reserved.next().await;
    let event: ReservationExpired = expired.next().await;
    assert_eq!(event.reservation_id, "r-ttl");
    assert_eq!(event.order_id, "order-r-ttl");
    assert_eq!(event.released, held.allocations);
    assert_eq!(level(&mut client, "A", "berlin").await, (5, 0, 5));
    let stored = reservation(&mut client, "r-ttl").await.unwrap();
    assert_eq!(stored.status(), ReservationStatus::Expired);

    // A confirmation that comes too late changes nothing.
    app.publish(&ReservationConfirmRequested {
        order_id: "order-r-ttl".into(),
        reservation_id: "r-ttl".into(),
        requested_at: None,
    })
    .await;
    app.publish(&long_request("r-after", vec![line("L1", "B", 1)]))
        .await;
    let _: StockReserved = reserved.next().await;
    assert_eq!(
        reservation(&mut client, "r-ttl").await.unwrap().status(),
        ReservationStatus::Expired
    );
    assert!(
        expired
            .next_within(Duration::from_millis(300))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_confirmed_reservation_does_not_expire_and_commits_decrement_on_hand_once() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;

    app.publish(&long_request(
        "r-firm",
        vec![line("L1", "A", 3), line("L2", "B", 1)],
    ))
    .await;
    let held: StockReserved = reserved.next().await;
    assert_eq!(warehouses(&held.allocations), ["paris"]);
    app.publish(&ReservationConfirmRequested {
        order_id: "order-r-firm".into(),
        reservation_id: "r-firm".into(),
        requested_at: None,
    })
    .await;
    testkit::eventually("the reservation to be firm", || {
        let mut client = client.clone();
        async move {
            let r = reservation(&mut client, "r-firm").await?;
            (r.status() == ReservationStatus::Firm).then_some(())
        }
    })
    .await;
    let firm = reservation(&mut client, "r-firm").await.unwrap();
    assert!(firm.expires_at.is_none());
    assert_eq!(
        app.scalar("SELECT count(*) FROM oc_timers WHERE key = 'r-firm' AND fired_at IS NULL")
            .await,
        0,
        "the expiry timer is cancelled"
    );

    // The A parcel is handed over; reported twice, committed once.
    let a_line = held
        .allocations
        .iter()
        .find(|a| a.line_id == "L1")
        .unwrap()
        .clone();
    let commit = ReservationCommitRequested {
        order_id: "order-r-firm".into(),
        reservation_id: "r-firm".into(),
        fulfillment_id: "f-1".into(),
        parcel_id: "p-1".into(),
        allocations: vec![a_line],
        requested_at: None,
    };
    app.publish(&commit).await;
    app.publish(&commit).await;
    let partial = testkit::eventually("the first commit", || {
        let mut client = client.clone();
        async move {
            let r = reservation(&mut client, "r-firm").await?;
            (r.status() == ReservationStatus::PartiallyCommitted).then_some(r)
        }
    })
    .await;
    assert_eq!(partial.committed.len(), 1);
    assert_eq!(level(&mut client, "A", "paris").await, (7, 0, 7));
    assert_eq!(level(&mut client, "B", "paris").await, (10, 1, 9));

    // The B parcel, bins left to inventory.
    app.publish(&ReservationCommitRequested {
        parcel_id: "p-2".into(),
        allocations: vec![Allocation {
            line_id: "L2".into(),
            sku: "B".into(),
            warehouse_id: "paris".into(),
            quantity: 1,
            bins: vec![],
        }],
        ..commit.clone()
    })
    .await;
    testkit::eventually("the reservation to be committed", || {
        let mut client = client.clone();
        async move {
            let r = reservation(&mut client, "r-firm").await?;
            (r.status() == ReservationStatus::Committed).then_some(())
        }
    })
    .await;
    assert_eq!(level(&mut client, "B", "paris").await, (9, 0, 9));
    assert_eq!(
        app.scalar("SELECT sum(units) FROM demand_daily").await,
        4,
        "committed units are demand"
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM stock_movements WHERE kind = 'COMMITTED'")
            .await,
        2
    );
    // Releasing a committed reservation gives nothing back.
    app.publish(&ReservationReleaseRequested {
        order_id: "order-r-firm".into(),
        reservation_id: "r-firm".into(),
        lines: vec![],
        reason: 0,
        requested_at: None,
        ..Default::default()
    })
    .await;
    app.publish(&long_request("r-after", vec![line("L1", "B", 1)]))
        .await;
    let _: StockReserved = reserved.next().await;
    assert_eq!(level(&mut client, "A", "paris").await, (7, 0, 7));
}

#[tokio::test]
async fn a_release_gives_back_what_is_still_held_and_a_line_release_only_that_line() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;
    app.publish(&long_request(
        "r-rel",
        vec![line("L1", "A", 4), line("L2", "B", 2)],
    ))
    .await;
    let _: StockReserved = reserved.next().await;
    let release = |lines| ReservationReleaseRequested {
        order_id: "order-r-rel".into(),
        reservation_id: "r-rel".into(),
        lines,
        reason: 0,
        requested_at: None,
        ..Default::default()
    };
    app.publish(&release(vec![line("L1", "A", 1)])).await;
    testkit::eventually("one A unit back", || {
        let mut client = client.clone();
        async move { (level(&mut client, "A", "paris").await == (10, 3, 7)).then_some(()) }
    })
    .await;
    assert_eq!(
        reservation(&mut client, "r-rel").await.unwrap().status(),
        ReservationStatus::Reserved
    );
    app.publish(&release(vec![])).await;
    testkit::eventually("everything back", || {
        let mut client = client.clone();
        async move {
            let r = reservation(&mut client, "r-rel").await?;
            (r.status() == ReservationStatus::Released).then_some(())
        }
    })
    .await;
    assert_eq!(level(&mut client, "A", "paris").await, (10, 0, 10));
    assert_eq!(level(&mut client, "B", "paris").await, (10, 0, 10));
}

#[tokio::test]
async fn a_release_that_overtakes_its_request_leaves_the_late_request_unreserved() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;
    app.publish(&ReservationReleaseRequested {
        order_id: "order-r-late".into(),
        reservation_id: "r-late".into(),
        lines: vec![],
        reason: 0,
        requested_at: None,
        ..Default::default()
    })
    .await;
    testkit::eventually("the tombstone", || {
        let mut client = client.clone();
        async move {
            let r = reservation(&mut client, "r-late").await?;
            (r.status() == ReservationStatus::Released).then_some(())
        }
    })
    .await;
    app.publish(&long_request("r-late", vec![line("L1", "A", 1)]))
        .await;
    app.publish(&long_request("r-next", vec![line("L1", "B", 1)]))
        .await;
    let event: StockReserved = reserved.next().await;
    assert_eq!(
        event.reservation_id, "r-next",
        "the late request reserved nothing"
    );
    assert_eq!(level(&mut client, "A", "berlin").await, (5, 0, 5));
}

#[tokio::test]
async fn a_confirm_or_commit_for_an_unknown_reservation_is_dead_lettered() {
    let app = TestApp::start().await;
    let _client = stocked(&app).await;
    let mut dead = app.env.tap("dlq.>").await;
    app.publish(&ReservationConfirmRequested {
        order_id: "o".into(),
        reservation_id: "ghost".into(),
        requested_at: None,
    })
    .await;
    let message = dead.next_message().await;
    let reason = message
        .headers
        .as_ref()
        .and_then(|h| h.get(DLQ_REASON))
        .map(|v| v.as_str().to_owned())
        .unwrap();
    assert!(reason.contains("unknown reservation ghost"), "{reason}");

    app.publish(&ReservationCommitRequested {
        order_id: "o".into(),
        reservation_id: "ghost".into(),
        fulfillment_id: "f".into(),
        parcel_id: "p".into(),
        allocations: vec![Allocation {
            line_id: "L1".into(),
            sku: "A".into(),
            warehouse_id: "berlin".into(),
            quantity: 1,
            bins: vec![],
        }],
        requested_at: None,
    })
    .await;
    let message = dead.next_message().await;
    assert!(
        message.subject.contains("commit_requested"),
        "{}",
        message.subject
    );
    assert_eq!(app.scalar("SELECT count(*) FROM reservations").await, 0);
}

#[tokio::test]
async fn inspected_returns_are_restocked_once() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    let restock = RestockRequested {
        return_id: "ret-1".into(),
        order_id: "o-1".into(),
        warehouse_id: "berlin".into(),
        lines: vec![
            RestockLine {
                sku: "A".into(),
                quantity: 2,
                bin: "B2".into(),
            },
            RestockLine {
                sku: "B".into(),
                quantity: 1,
                bin: String::new(),
            },
        ],
        requested_at: None,
    };
    app.publish(&restock).await;
    app.publish(&restock).await;
    testkit::eventually("the restock", || {
        let mut client = client.clone();
        async move { (level(&mut client, "B", "berlin").await == (1, 0, 1)).then_some(()) }
    })
    .await;
    // A later event proves the copy was handled.
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;
    app.publish(&long_request("r-x", vec![line("L1", "B", 1)]))
        .await;
    let _: StockReserved = reserved.next().await;
    assert_eq!(level(&mut client, "A", "berlin").await, (7, 0, 7));
    assert_eq!(
        app.scalar("SELECT count(*) FROM stock_movements WHERE kind = 'RESTOCKED'")
            .await,
        2
    );
}

#[tokio::test]
async fn get_reservation_needs_exactly_one_key() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    for (id, order_id, code) in [
        ("", "", Code::InvalidArgument),
        ("a", "b", Code::InvalidArgument),
        ("nope", "", Code::NotFound),
        ("", "nope", Code::NotFound),
    ] {
        let status = client
            .get_reservation(GetReservationRequest {
                id: id.into(),
                order_id: order_id.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{id}/{order_id}");
    }
}

#[tokio::test]
async fn a_request_without_a_ttl_holds_for_the_configured_default() {
    let env = testkit::TestEnv::with(|s| {
        s.overrides
            .insert("OC_INVENTORY_DEFAULT_TTL_SECS".into(), "1".into());
    })
    .await;
    let inventory = env.start(&inventory::SERVICE).await;
    let app = TestApp { env, inventory };
    let mut client = stocked(&app).await;
    let mut expired = app.env.tap("inventory.reservation.expired").await;
    app.publish(&ReservationRequested {
        ttl: None,
        expires_at: None,
        requested_at: None,
        ..long_request("r-default", vec![line("L1", "A", 1)])
    })
    .await;
    let event: ReservationExpired = expired.next().await;
    assert_eq!(event.reservation_id, "r-default");
    assert_eq!(level(&mut client, "A", "berlin").await, (5, 0, 5));
}
