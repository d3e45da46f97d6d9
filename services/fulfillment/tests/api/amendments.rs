//! Order updates after confirmation: orders' `FulfillmentAmendRequested` played by publishing
//! it, fulfillment's answer and copy read back through its events and its API.

use contracts::common::{Address, Allocation, Customer, Dimensions};
use contracts::fulfillment::{
    ConfirmPickRequest, CreatePickWaveRequest, Fulfillment, FulfillmentAmendRefused,
    FulfillmentAmended, FulfillmentCancelled, FulfillmentCreated, FulfillmentStatus,
    GetPickListRequest, ListFulfillmentsRequest, PackParcelRequest, ParcelLine, PickedLine,
};
use contracts::orders::{
    CancelReason, FulfillmentAmendRequested, FulfillmentCancelRequested, OrderLine,
};
use contracts::shipping::GetShipmentRequest;
use contracts::shipping::shipping_service_client::ShippingServiceClient;

use crate::helpers::{Warehouse, allocation, line, request};

/// Units of a line in a warehouse as orders sends them in an update: no bins.
fn units(line_id: &str, sku: &str, warehouse: &str, quantity: i32) -> Allocation {
    Allocation {
        line_id: line_id.into(),
        sku: sku.into(),
        warehouse_id: warehouse.into(),
        quantity,
        bins: vec![],
    }
}

fn hamburg() -> Address {
    Address {
        recipient: "Mei Lin".into(),
        line1: "Jungfernstieg 7".into(),
        city: "Hamburg".into(),
        region: "HH".into(),
        postal_code: "20354".into(),
        country_code: "DE".into(),
        ..Default::default()
    }
}

fn amend(
    order_id: &str,
    update_id: &str,
    lines: Vec<OrderLine>,
    allocations: Vec<Allocation>,
) -> FulfillmentAmendRequested {
    FulfillmentAmendRequested {
        order_id: order_id.into(),
        update_id: update_id.into(),
        lines,
        allocations,
        shipping_address: Some(hamburg()),
        customer: Some(Customer {
            id: "c-1".into(),
            name: "Mei Lin".into(),
            email: "mei.lin@example.com".into(),
            phone: "+49 40 7654321".into(),
        }),
        collect_cash_on_delivery: false,
        requested_at: None,
    }
}

async fn of_order(w: &Warehouse, order_id: &str) -> Vec<Fulfillment> {
    w.client()
        .await
        .list_fulfillments(ListFulfillmentsRequest {
            order_id: order_id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .fulfillments
}

fn lines_of(f: &Fulfillment) -> Vec<(String, String, i32)> {
    f.lines
        .iter()
        .map(|l| (l.line_id.clone(), l.sku.clone(), l.quantity))
        .collect()
}

fn owned(lines: &[(&str, &str, i32)]) -> Vec<(String, String, i32)> {
    lines
        .iter()
        .map(|(l, s, q)| ((*l).to_owned(), (*s).to_owned(), *q))
        .collect()
}

#[tokio::test]
async fn an_amendment_replaces_the_lines_and_address_and_what_is_packed_follows_it() {
    let w = Warehouse::start().await;
    let mut created = w.env.tap("fulfillment.fulfillment.created").await;
    let mut amended = w.env.tap("fulfillment.order.amended").await;
    let order_id = uuid::Uuid::new_v4().to_string();
    let mut placed = request(
        &order_id,
        vec![line("L1", "TEA-001", 3), line("L2", "CUP-002", 2)],
        vec![
            allocation("L1", "TEA-001", "WH-BER", 3, "B-07", 70),
            allocation("L2", "CUP-002", "WH-BER", 2, "A-02", 20),
        ],
    );
    placed.collect_cash_on_delivery = true;
    w.publish(&placed).await;
    let f: FulfillmentCreated = created.next().await;

    // One tea fewer, a cup more on a new line, and a new address.
    let mut update = amend(
        &order_id,
        "update-1",
        vec![
            line("L1", "TEA-001", 1),
            line("L2", "CUP-002", 2),
            line("L3", "CUP-002", 1),
        ],
        vec![
            units("L1", "TEA-001", "WH-BER", 1),
            units("L2", "CUP-002", "WH-BER", 2),
            units("L3", "CUP-002", "WH-BER", 1),
        ],
    );
    update.collect_cash_on_delivery = true;
    w.publish(&update).await;
    let answer: FulfillmentAmended = amended.next().await;
    assert_eq!(answer.order_id, order_id);
    assert_eq!(answer.update_id, "update-1");
    assert_eq!(
        answer.fulfillment_ids,
        std::slice::from_ref(&f.fulfillment_id)
    );

    let listed = of_order(&w, &order_id).await;
    assert_eq!(listed.len(), 1);
    let copy = &listed[0];
    assert_eq!(copy.status(), FulfillmentStatus::Pending);
    assert_eq!(
        lines_of(copy),
        owned(&[
            ("L1", "TEA-001", 1),
            ("L2", "CUP-002", 2),
            ("L3", "CUP-002", 1)
        ])
    );
    let ship_to = copy.ship_to.clone().unwrap();
    assert_eq!(
        (ship_to.city.as_str(), ship_to.line1.as_str()),
        ("Hamburg", "Jungfernstieg 7")
    );
    assert_eq!(copy.customer.clone().unwrap().email, "mei.lin@example.com");

    // The pick list walks the amended lines: kept units in their bins, the new one last.
    let mut client = w.client().await;
    let wave = client
        .create_pick_wave(CreatePickWaveRequest {
            request_id: "wave-1".into(),
            warehouse_id: "WH-BER".into(),
            fulfillment_ids: vec![],
            max_fulfillments: 10,
        })
        .await
        .unwrap()
        .into_inner()
        .wave
        .unwrap();
    let list = client
        .get_pick_list(GetPickListRequest {
            wave_id: wave.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .pick_list
        .unwrap();
    let stops: Vec<_> = list
        .lines
        .iter()
        .map(|l| (l.bin.as_str(), l.sku.as_str(), l.quantity))
        .collect();
    assert_eq!(
        stops,
        [
            ("A-02", "CUP-002", 2),
            ("B-07", "TEA-001", 1),
            ("", "CUP-002", 1)
        ]
    );

    // Packed, the shipment goes to the new address and collects the new lines' value.
    let picked = |line_id: &str, quantity| PickedLine {
        line_id: line_id.into(),
        bin: String::new(),
        quantity,
    };
    client
        .confirm_pick(ConfirmPickRequest {
            fulfillment_id: f.fulfillment_id.clone(),
            lines: vec![picked("L1", 1), picked("L2", 2), picked("L3", 1)],
            picker_id: "picker-7".into(),
        })
        .await
        .unwrap();
    let parcel_line = |line_id: &str, quantity| ParcelLine {
        line_id: line_id.into(),
        sku: String::new(),
        quantity,
    };
    let parcel = client
        .pack_parcel(PackParcelRequest {
            request_id: "pack-1".into(),
            fulfillment_id: f.fulfillment_id.clone(),
            lines: vec![
                parcel_line("L1", 1),
                parcel_line("L2", 2),
                parcel_line("L3", 1),
            ],
            // 260 g + 3 × 180 g of goods, plus packaging.
            weight_grams: 850,
            dimensions: Some(Dimensions {
                length_mm: 300,
                width_mm: 200,
                height_mm: 100,
            }),
            packed_by: "packer-1".into(),
            preferred_carrier: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .parcel
        .unwrap();
    // 1 × 12.50 + 3 × 8.99
    assert_eq!(
        parcel.cash_on_delivery_amount.unwrap().amount_minor,
        1250 + 3 * 899
    );
    let shipment = ShippingServiceClient::new(w._shipping.channel().await)
        .get_shipment(GetShipmentRequest {
            id: parcel.shipment_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(shipment.ship_to.unwrap().city, "Hamburg");
}

#[tokio::test]
async fn an_amendment_opens_a_fulfillment_in_a_new_warehouse_and_cancels_one_no_longer_named() {
    let w = Warehouse::start().await;
    let mut created = w.env.tap("fulfillment.fulfillment.created").await;
    let mut cancelled = w.env.tap("fulfillment.fulfillment.cancelled").await;
    let mut amended = w.env.tap("fulfillment.order.amended").await;
    let order_id = uuid::Uuid::new_v4().to_string();
    w.publish(&request(
        &order_id,
        vec![line("L1", "TEA-001", 1), line("L2", "CUP-002", 1)],
        vec![
            allocation("L1", "TEA-001", "WH-BER", 1, "B-07", 70),
            allocation("L2", "CUP-002", "WH-HAM", 1, "C-01", 10),
        ],
    ))
    .await;
    let first: FulfillmentCreated = created.next().await;
    let second: FulfillmentCreated = created.next().await;
    let (berlin, hamburg_id) = if first.warehouse_id == "WH-BER" {
        (first.fulfillment_id, second.fulfillment_id)
    } else {
        (second.fulfillment_id, first.fulfillment_id)
    };

    // The cup is dropped; two teas come from Munich on a new line.
    w.publish(&amend(
        &order_id,
        "update-1",
        vec![line("L1", "TEA-001", 1), line("L3", "TEA-001", 2)],
        vec![
            units("L1", "TEA-001", "WH-BER", 1),
            units("L3", "TEA-001", "WH-MUC", 2),
        ],
    ))
    .await;
    let answer: FulfillmentAmended = amended.next().await;
    let opened: FulfillmentCreated = created.next().await;
    assert_eq!(opened.warehouse_id, "WH-MUC");
    assert_eq!(opened.order_id, order_id);
    assert_eq!(opened.lines.len(), 1);
    assert_eq!(
        (opened.lines[0].line_id.as_str(), opened.lines[0].quantity),
        ("L3", 2)
    );
    let dropped: FulfillmentCancelled = cancelled.next().await;
    assert_eq!(dropped.fulfillment_id, hamburg_id);
    assert_eq!(dropped.reason, "order updated");
    assert_eq!(dropped.cancelled_lines[0].line_id, "L2");
    assert_eq!(
        answer.fulfillment_ids,
        [berlin.clone(), opened.fulfillment_id.clone()]
    );

    let listed = of_order(&w, &order_id).await;
    let find = |id: &str| listed.iter().find(|f| f.id == id).unwrap();
    assert_eq!(find(&hamburg_id).status(), FulfillmentStatus::Cancelled);
    assert_eq!(find(&hamburg_id).cancel_reason, "order updated");
    let munich = find(&opened.fulfillment_id);
    assert_eq!(munich.status(), FulfillmentStatus::Pending);
    assert_eq!(munich.order_number, "OC-261128-000001");
    assert_eq!(munich.ship_to.clone().unwrap().city, "Hamburg");
    assert_eq!(lines_of(munich), owned(&[("L3", "TEA-001", 2)]));

    // A later update that names Hamburg again gets a new fulfillment there.
    w.publish(&amend(
        &order_id,
        "update-2",
        vec![
            line("L1", "TEA-001", 1),
            line("L3", "TEA-001", 2),
            line("L4", "CUP-002", 1),
        ],
        vec![
            units("L1", "TEA-001", "WH-BER", 1),
            units("L3", "TEA-001", "WH-MUC", 2),
            units("L4", "CUP-002", "WH-HAM", 1),
        ],
    ))
    .await;
    let answer: FulfillmentAmended = amended.next().await;
    let reopened: FulfillmentCreated = created.next().await;
    assert_eq!(reopened.warehouse_id, "WH-HAM");
    assert_ne!(reopened.fulfillment_id, hamburg_id);
    assert_eq!(answer.update_id, "update-2");
    assert_eq!(answer.fulfillment_ids.len(), 3);
    assert!(answer.fulfillment_ids.contains(&reopened.fulfillment_id));
}

/// Places a one-line order in Berlin and returns its fulfillment id.
async fn placed(w: &Warehouse, order_id: &str) -> String {
    let mut created = w.env.tap("fulfillment.fulfillment.created").await;
    w.publish(&request(
        order_id,
        vec![line("L1", "TEA-001", 2)],
        vec![allocation("L1", "TEA-001", "WH-BER", 2, "B-07", 70)],
    ))
    .await;
    let f: FulfillmentCreated = created.next().await;
    f.fulfillment_id
}

fn fewer_teas(order_id: &str, update_id: &str) -> FulfillmentAmendRequested {
    amend(
        order_id,
        update_id,
        vec![line("L1", "TEA-001", 1)],
        vec![units("L1", "TEA-001", "WH-BER", 1)],
    )
}

/// Asserts the update was refused with a reason mentioning `why` and changed nothing.
async fn assert_refused(w: &Warehouse, order_id: &str, update_id: &str, why: &str) {
    let mut refused = w.env.tap("fulfillment.order.amend_refused").await;
    w.publish(&fewer_teas(order_id, update_id)).await;
    let answer: FulfillmentAmendRefused = refused.next().await;
    assert_eq!(answer.order_id, order_id);
    assert_eq!(answer.update_id, update_id);
    assert!(
        answer.reason.contains(why),
        "reason {:?} should mention {why:?}",
        answer.reason
    );
    let listed = of_order(w, order_id).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(lines_of(&listed[0]), owned(&[("L1", "TEA-001", 2)]));
    assert_eq!(listed[0].ship_to.clone().unwrap().city, "Berlin");
}

#[tokio::test]
async fn an_amendment_is_refused_once_the_fulfillment_is_in_a_pick_wave() {
    let w = Warehouse::start().await;
    let order_id = uuid::Uuid::new_v4().to_string();
    placed(&w, &order_id).await;
    w.client()
        .await
        .create_pick_wave(CreatePickWaveRequest {
            request_id: "wave-1".into(),
            warehouse_id: "WH-BER".into(),
            fulfillment_ids: vec![],
            max_fulfillments: 10,
        })
        .await
        .unwrap();
    assert_refused(&w, &order_id, "update-1", "pick wave").await;
}

#[tokio::test]
async fn an_amendment_is_refused_once_a_unit_is_picked() {
    let w = Warehouse::start().await;
    let order_id = uuid::Uuid::new_v4().to_string();
    let f = placed(&w, &order_id).await;
    w.client()
        .await
        .confirm_pick(ConfirmPickRequest {
            fulfillment_id: f,
            lines: vec![PickedLine {
                line_id: "L1".into(),
                bin: "B-07".into(),
                quantity: 1,
            }],
            picker_id: "picker-7".into(),
        })
        .await
        .unwrap();
    assert_refused(&w, &order_id, "update-1", "picked").await;
}

#[tokio::test]
async fn an_amendment_of_a_cancelled_order_is_refused() {
    let w = Warehouse::start().await;
    let mut cancelled = w.env.tap("fulfillment.fulfillment.cancelled").await;
    let order_id = uuid::Uuid::new_v4().to_string();
    placed(&w, &order_id).await;
    w.publish(&FulfillmentCancelRequested {
        order_id: order_id.clone(),
        fulfillment_ids: vec![],
        reason: CancelReason::CustomerRequest.into(),
        requested_at: None,
    })
    .await;
    let _: FulfillmentCancelled = cancelled.next().await;
    assert_refused(&w, &order_id, "update-1", "cancelled").await;
}

#[tokio::test]
async fn an_amendment_for_an_order_unknown_here_is_refused_and_stays_refused() {
    let w = Warehouse::start().await;
    let mut refused = w.env.tap("fulfillment.order.amend_refused").await;
    let order_id = uuid::Uuid::new_v4().to_string();
    w.publish(&fewer_teas(&order_id, "update-1")).await;
    let first: FulfillmentAmendRefused = refused.next().await;
    assert_eq!(first.order_id, order_id);
    assert!(first.reason.contains("no fulfillment of order"));
    assert!(of_order(&w, &order_id).await.is_empty());

    // The fulfillment request overtaken by the update arrives; the update, delivered again,
    // keeps its answer and changes nothing.
    placed(&w, &order_id).await;
    w.publish(&fewer_teas(&order_id, "update-1")).await;
    let again: FulfillmentAmendRefused = refused.next().await;
    assert_eq!(again, first);
    let listed = of_order(&w, &order_id).await;
    assert_eq!(lines_of(&listed[0]), owned(&[("L1", "TEA-001", 2)]));
}

#[tokio::test]
async fn the_same_update_twice_applies_once_and_is_answered_the_same() {
    let w = Warehouse::start().await;
    let mut amended = w.env.tap("fulfillment.order.amended").await;
    let order_id = uuid::Uuid::new_v4().to_string();
    placed(&w, &order_id).await;
    let update = amend(
        &order_id,
        "update-1",
        vec![line("L1", "TEA-001", 1), line("L2", "CUP-002", 1)],
        vec![
            units("L1", "TEA-001", "WH-BER", 1),
            units("L2", "CUP-002", "WH-HAM", 1),
        ],
    );
    // Delivered twice under two event ids (orders' outbox retried, or a redelivery).
    w.publish(&update).await;
    w.publish(&update).await;
    let first: FulfillmentAmended = amended.next().await;
    let second: FulfillmentAmended = amended.next().await;
    assert_eq!(first, second);
    assert_eq!(first.fulfillment_ids.len(), 2);

    let listed = of_order(&w, &order_id).await;
    assert_eq!(listed.len(), 2, "one new fulfillment, not two");
    let opened: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM oc_outbox WHERE subject = 'fulfillment.fulfillment.created'",
    )
    .fetch_one(&w.fulfillment.pool)
    .await
    .unwrap();
    assert_eq!(opened, 2, "Berlin at the order, Hamburg at the update");
    let answers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM fulfillment_amendments WHERE order_id = $1")
            .bind(&order_id)
            .fetch_one(&w.fulfillment.pool)
            .await
            .unwrap();
    assert_eq!(answers, 1);
}
