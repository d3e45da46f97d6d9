//! Order updates after confirmation: amendments that add units to a reservation, and exact
//! releases that give back the units an update takes away.

use contracts::common::{Allocation, BinAllocation};
use contracts::inventory::{
    ReservationAmendRefused, ReservationAmended, ReservationStatus, ShortLine, StockReserved,
};
use contracts::orders::{
    ReservationAmendRequested, ReservationConfirmRequested, ReservationLine,
    ReservationReleaseRequested,
};

use crate::helpers::{
    Client, TestApp, item, level, line, long_request, receive, reservation, upsert_item,
    upsert_warehouse, warehouse,
};

/// Items A and B; Berlin (nearest to the customer) with A in B1 and B2 and B in B2; Paris with
/// plenty of both.
async fn stocked(app: &TestApp) -> Client {
    let mut client = app.client().await;
    for sku in ["A", "B"] {
        upsert_item(&mut client, item(sku)).await;
    }
    upsert_warehouse(&mut client, warehouse("berlin", "DE", "BE", &["B1", "B2"])).await;
    upsert_warehouse(&mut client, warehouse("paris", "FR", "IDF", &["P1"])).await;
    receive(&mut client, "A", "berlin", "B1", 3).await;
    receive(&mut client, "A", "berlin", "B2", 3).await;
    receive(&mut client, "B", "berlin", "B2", 2).await;
    receive(&mut client, "A", "paris", "P1", 10).await;
    receive(&mut client, "B", "paris", "P1", 4).await;
    client
}

/// Reserves `lines` for order `order-<id>` (shipped to Berlin) and waits for the answer.
async fn reserve(app: &TestApp, id: &str, lines: Vec<ReservationLine>) -> StockReserved {
    let mut reserved = app.env.tap("inventory.reservation.reserved").await;
    app.publish(&long_request(id, lines)).await;
    let event: StockReserved = reserved.next().await;
    assert_eq!(event.reservation_id, id);
    event
}

/// Orders asking to add `lines` to reservation `id` for its update `update_id`.
fn amend(id: &str, update_id: &str, lines: Vec<ReservationLine>) -> ReservationAmendRequested {
    ReservationAmendRequested {
        order_id: format!("order-{id}"),
        reservation_id: id.into(),
        update_id: update_id.into(),
        lines,
        pickup_store_id: String::new(),
        ship_to_country_code: "DE".into(),
        ship_to_region: "BE".into(),
        allow_split: true,
        requested_at: None,
    }
}

/// Orders giving back exactly `allocations` of reservation `id`.
fn release(id: &str, update_id: &str, allocations: Vec<Allocation>) -> ReservationReleaseRequested {
    ReservationReleaseRequested {
        order_id: format!("order-{id}"),
        reservation_id: id.into(),
        allocations,
        update_id: update_id.into(),
        ..Default::default()
    }
}

fn units(line_id: &str, sku: &str, warehouse_id: &str, quantity: i32) -> Allocation {
    Allocation {
        line_id: line_id.into(),
        sku: sku.into(),
        warehouse_id: warehouse_id.into(),
        quantity,
        bins: vec![],
    }
}

fn bin(bin: &str, quantity: i32, pick_sequence: i32) -> BinAllocation {
    BinAllocation {
        bin: bin.into(),
        quantity,
        pick_sequence,
    }
}

fn in_bins(line_id: &str, sku: &str, warehouse_id: &str, bins: Vec<BinAllocation>) -> Allocation {
    Allocation {
        quantity: bins.iter().map(|b| b.quantity).sum(),
        bins,
        ..units(line_id, sku, warehouse_id, 0)
    }
}

async fn unfired_timers(app: &TestApp, id: &str) -> i64 {
    app.scalar(&format!(
        "SELECT count(*) FROM oc_timers WHERE key = '{id}' AND fired_at IS NULL"
    ))
    .await
}

#[tokio::test]
async fn an_amendment_holds_the_added_units_in_the_same_reservation_and_names_them() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    let held = reserve(&app, "r-1", vec![line("L1", "A", 2)]).await;
    assert_eq!(
        held.allocations,
        [in_bins("L1", "A", "berlin", vec![bin("B1", 2, 1)])]
    );
    let before = reservation(&mut client, "r-1").await.unwrap();
    let mut amended = app.env.tap("inventory.reservation.amended").await;

    // Two more A on the same line and a new B line: Berlin serves both, from its bins in pick
    // order (B1's last A first).
    app.publish(&amend(
        "r-1",
        "u-1",
        vec![line("L1", "A", 2), line("L2", "B", 1)],
    ))
    .await;
    let event: ReservationAmended = amended.next().await;
    assert_eq!(event.reservation_id, "r-1");
    assert_eq!(event.order_id, "order-r-1");
    assert_eq!(event.update_id, "u-1");
    assert!(event.amended_at.is_some());
    assert_eq!(
        event.allocations,
        [
            in_bins("L1", "A", "berlin", vec![bin("B1", 1, 1), bin("B2", 1, 2)]),
            in_bins("L2", "B", "berlin", vec![bin("B2", 1, 2)]),
        ]
    );
    assert_eq!(level(&mut client, "A", "berlin").await, (6, 4, 2));
    assert_eq!(level(&mut client, "B", "berlin").await, (2, 1, 1));
    assert_eq!(level(&mut client, "A", "paris").await, (10, 0, 10));

    let after = reservation(&mut client, "r-1").await.unwrap();
    assert_eq!(after.status(), ReservationStatus::Reserved);
    assert_eq!(after.expires_at, before.expires_at, "the expiry is kept");
    assert_eq!(
        after.allocations,
        [
            in_bins("L1", "A", "berlin", vec![bin("B1", 3, 1), bin("B2", 1, 2)]),
            in_bins("L2", "B", "berlin", vec![bin("B2", 1, 2)]),
        ]
    );
    assert_eq!(unfired_timers(&app, "r-1").await, 1, "it still expires");
}

#[tokio::test]
async fn an_amendment_of_a_confirmed_reservation_stays_firm_and_its_added_units_never_expire() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    reserve(&app, "r-firm", vec![line("L1", "A", 1)]).await;
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
    let mut amended = app.env.tap("inventory.reservation.amended").await;

    app.publish(&amend("r-firm", "u-1", vec![line("L2", "B", 2)]))
        .await;
    let event: ReservationAmended = amended.next().await;
    assert_eq!(
        event.allocations,
        [in_bins("L2", "B", "berlin", vec![bin("B2", 2, 2)])]
    );
    let after = reservation(&mut client, "r-firm").await.unwrap();
    assert_eq!(after.status(), ReservationStatus::Firm);
    assert!(after.expires_at.is_none());
    assert_eq!(
        unfired_timers(&app, "r-firm").await,
        0,
        "nothing will expire the added units"
    );
    assert_eq!(level(&mut client, "B", "berlin").await, (2, 2, 0));
}

#[tokio::test]
async fn an_amendment_short_of_stock_is_refused_and_holds_nothing() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    reserve(&app, "r-short", vec![line("L1", "A", 2)]).await;
    let before = reservation(&mut client, "r-short").await.unwrap();
    let mut refused = app.env.tap("inventory.reservation.amend_refused").await;

    // The A unit could be had; the B line cannot (6 in all), so neither is held.
    app.publish(&amend(
        "r-short",
        "u-1",
        vec![line("L1", "A", 1), line("L2", "B", 99)],
    ))
    .await;
    let event: ReservationAmendRefused = refused.next().await;
    assert_eq!(event.reservation_id, "r-short");
    assert_eq!(event.order_id, "order-r-short");
    assert_eq!(event.update_id, "u-1");
    assert!(!event.reason.is_empty());
    assert_eq!(
        event.short_lines,
        [ShortLine {
            line_id: "L2".into(),
            sku: "B".into(),
            requested_quantity: 99,
            available_quantity: 6,
        }]
    );
    assert_eq!(level(&mut client, "A", "berlin").await, (6, 2, 4));
    assert_eq!(level(&mut client, "B", "berlin").await, (2, 0, 2));
    assert_eq!(level(&mut client, "B", "paris").await, (4, 0, 4));
    let after = reservation(&mut client, "r-short").await.unwrap();
    assert_eq!(after.allocations, before.allocations);
    assert_eq!(after.status(), ReservationStatus::Reserved);
}

#[tokio::test]
async fn an_amendment_of_a_released_or_unknown_reservation_is_refused() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    reserve(&app, "r-gone", vec![line("L1", "A", 2)]).await;
    app.publish(&ReservationReleaseRequested {
        order_id: "order-r-gone".into(),
        reservation_id: "r-gone".into(),
        ..Default::default()
    })
    .await;
    testkit::eventually("the reservation to be released", || {
        let mut client = client.clone();
        async move {
            let r = reservation(&mut client, "r-gone").await?;
            (r.status() == ReservationStatus::Released).then_some(())
        }
    })
    .await;
    let mut refused = app.env.tap("inventory.reservation.amend_refused").await;

    app.publish(&amend("r-gone", "u-1", vec![line("L1", "A", 1)]))
        .await;
    let event: ReservationAmendRefused = refused.next().await;
    assert_eq!(event.reservation_id, "r-gone");
    assert_eq!(event.update_id, "u-1");
    assert!(event.short_lines.is_empty());
    assert!(event.reason.contains("RELEASED"), "{}", event.reason);

    app.publish(&amend("r-ghost", "u-2", vec![line("L1", "A", 1)]))
        .await;
    let event: ReservationAmendRefused = refused.next().await;
    assert_eq!(event.reservation_id, "r-ghost");
    assert_eq!(event.order_id, "order-r-ghost");
    assert!(event.short_lines.is_empty());
    assert!(event.reason.contains("does not exist"), "{}", event.reason);

    assert_eq!(level(&mut client, "A", "berlin").await, (6, 0, 6));
    assert!(reservation(&mut client, "r-ghost").await.is_none());
}

#[tokio::test]
async fn the_same_update_delivered_twice_reserves_once_and_answers_the_same_twice() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    reserve(&app, "r-dup", vec![line("L1", "A", 1)]).await;
    let mut amended = app.env.tap("inventory.reservation.amended").await;
    let mut refused = app.env.tap("inventory.reservation.amend_refused").await;

    let add = amend("r-dup", "u-1", vec![line("L1", "A", 2)]);
    app.publish(&add).await;
    app.publish(&add).await;
    let first: ReservationAmended = amended.next().await;
    let second: ReservationAmended = amended.next().await;
    assert_eq!(first, second);
    assert_eq!(level(&mut client, "A", "berlin").await, (6, 3, 3));
    let held: i32 = reservation(&mut client, "r-dup")
        .await
        .unwrap()
        .allocations
        .iter()
        .map(|a| a.quantity)
        .sum();
    assert_eq!(held, 3);

    // A refusal stands too, even once the stock has come in.
    let too_many = amend("r-dup", "u-2", vec![line("L2", "B", 7)]);
    app.publish(&too_many).await;
    let first: ReservationAmendRefused = refused.next().await;
    receive(&mut client, "B", "paris", "P1", 10).await;
    app.publish(&too_many).await;
    let second: ReservationAmendRefused = refused.next().await;
    assert_eq!(first, second);
    assert_eq!(level(&mut client, "B", "paris").await, (14, 0, 14));
}

#[tokio::test]
async fn an_exact_release_gives_back_those_units_in_that_warehouse_and_leaves_the_others_held() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    // Berlin: L1 = 3 in B1 + 1 in B2, L2 = 1 in B2.
    reserve(
        &app,
        "r-exact",
        vec![line("L1", "A", 4), line("L2", "B", 1)],
    )
    .await;
    assert_eq!(level(&mut client, "A", "berlin").await, (6, 4, 2));

    // Two of L1 in Berlin, bins left to inventory: the last-picked first (B2, then B1).
    let id = app
        .publish(&release(
            "r-exact",
            "u-1",
            vec![units("L1", "A", "berlin", 2)],
        ))
        .await;
    app.handled(id).await;
    let r = reservation(&mut client, "r-exact").await.unwrap();
    assert_eq!(
        r.allocations,
        [
            in_bins("L1", "A", "berlin", vec![bin("B1", 2, 1)]),
            in_bins("L2", "B", "berlin", vec![bin("B2", 1, 2)]),
        ]
    );
    assert_eq!(r.status(), ReservationStatus::Reserved);
    assert!(r.expires_at.is_some());
    assert_eq!(unfired_timers(&app, "r-exact").await, 1, "still expires");
    assert_eq!(level(&mut client, "A", "berlin").await, (6, 2, 4));
    assert_eq!(level(&mut client, "B", "berlin").await, (2, 1, 1));

    // A named bin, and more than is held (given back: what is held).
    let id = app
        .publish(&release(
            "r-exact",
            "u-2",
            vec![Allocation {
                quantity: 1,
                bins: vec![bin("B1", 1, 1)],
                ..units("L1", "A", "berlin", 0)
            }],
        ))
        .await;
    app.handled(id).await;
    assert_eq!(level(&mut client, "A", "berlin").await, (6, 1, 5));
    let id = app
        .publish(&release(
            "r-exact",
            "u-3",
            vec![units("L1", "A", "berlin", 5)],
        ))
        .await;
    app.handled(id).await;
    assert_eq!(level(&mut client, "A", "berlin").await, (6, 0, 6));
    assert_eq!(level(&mut client, "B", "berlin").await, (2, 1, 1));
    assert_eq!(
        reservation(&mut client, "r-exact").await.unwrap().status(),
        ReservationStatus::Reserved
    );

    // The last units: the reservation is released.
    let id = app
        .publish(&release(
            "r-exact",
            "u-4",
            vec![units("L2", "B", "berlin", 1)],
        ))
        .await;
    app.handled(id).await;
    assert_eq!(
        reservation(&mut client, "r-exact").await.unwrap().status(),
        ReservationStatus::Released
    );
    assert_eq!(level(&mut client, "B", "berlin").await, (2, 0, 2));
}

#[tokio::test]
async fn the_same_release_delivered_twice_under_one_update_releases_once() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    reserve(&app, "r-twice", vec![line("L1", "A", 4)]).await;

    let give_back = release("r-twice", "u-1", vec![units("L1", "A", "berlin", 1)]);
    let first = app.publish(&give_back).await;
    let second = app.publish(&give_back).await;
    app.handled(first).await;
    app.handled(second).await;
    assert_eq!(level(&mut client, "A", "berlin").await, (6, 3, 3));

    // Another update's release of the same units is its own.
    let id = app
        .publish(&release(
            "r-twice",
            "u-2",
            vec![units("L1", "A", "berlin", 1)],
        ))
        .await;
    app.handled(id).await;
    assert_eq!(level(&mut client, "A", "berlin").await, (6, 2, 4));
}

#[tokio::test]
async fn an_exact_release_of_an_unknown_reservation_releases_nothing_and_blocks_nothing() {
    let app = TestApp::start().await;
    let mut client = stocked(&app).await;
    let id = app
        .publish(&release(
            "r-later",
            "u-1",
            vec![units("L1", "A", "berlin", 1)],
        ))
        .await;
    app.handled(id).await;
    assert!(reservation(&mut client, "r-later").await.is_none());

    // Unlike a full release, it leaves no tombstone: the reservation can still be made.
    reserve(&app, "r-later", vec![line("L1", "A", 1)]).await;
    assert_eq!(level(&mut client, "A", "berlin").await, (6, 1, 5));
}
