use contracts::common::Dimensions;
use contracts::fulfillment::{
    ConfirmPickRequest, CreatePickWaveRequest, FulfillmentCancelled, FulfillmentCreated,
    FulfillmentShortPicked, FulfillmentStatus, GetPickListRequest, HandOverRequest,
    PackParcelRequest, ParcelHandedOver, ParcelLine, ParcelPacked, PickedLine, PrintLabelRequest,
};
use contracts::orders::FulfillmentCancelRequested;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{Warehouse, allocation, line, request};

fn dims() -> Option<Dimensions> {
    Some(Dimensions {
        length_mm: 300,
        width_mm: 200,
        height_mm: 100,
    })
}

#[tokio::test]
async fn a_split_order_is_picked_packed_labelled_and_handed_over_per_warehouse() {
    let w = Warehouse::start().await;
    let mut created = w.env.tap("fulfillment.fulfillment.created").await;
    let mut handed = w.env.tap("fulfillment.fulfillment.handed_over").await;
    let mut packed_events = w.env.tap("fulfillment.fulfillment.packed").await;
    let order_id = uuid::Uuid::new_v4().to_string();
    let event = request(
        &order_id,
        vec![line("L1", "TEA-001", 3), line("L2", "CUP-002", 2)],
        vec![
            allocation("L1", "TEA-001", "WH-BER", 3, "B-07", 70),
            allocation("L2", "CUP-002", "WH-BER", 1, "A-02", 20),
            allocation("L2", "CUP-002", "WH-HAM", 1, "C-01", 10),
        ],
    );
    // Requested twice (a replay under a new event id): still one fulfilment per warehouse.
    w.publish(&event).await;
    w.publish(&event).await;
    let first: FulfillmentCreated = created.next().await;
    let second: FulfillmentCreated = created.next().await;
    let mut warehouses = [first.warehouse_id.clone(), second.warehouse_id.clone()];
    warehouses.sort();
    assert_eq!(warehouses, ["WH-BER", "WH-HAM"]);
    assert!(
        created
            .next_within(std::time::Duration::from_millis(500))
            .await
            .is_none()
    );
    let berlin = if first.warehouse_id == "WH-BER" {
        first
    } else {
        second
    };

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
    assert_eq!(
        wave.fulfillment_ids,
        std::slice::from_ref(&berlin.fulfillment_id)
    );
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
        [("A-02", "CUP-002", 1), ("B-07", "TEA-001", 3)],
        "sorted along the pick path"
    );

    let picked = client
        .confirm_pick(ConfirmPickRequest {
            fulfillment_id: berlin.fulfillment_id.clone(),
            lines: vec![
                PickedLine {
                    line_id: "L1".into(),
                    bin: "B-07".into(),
                    quantity: 3,
                },
                PickedLine {
                    line_id: "L2".into(),
                    bin: "A-02".into(),
                    quantity: 1,
                },
            ],
            picker_id: "picker-7".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .fulfillment
        .unwrap();
    assert_eq!(picked.status(), FulfillmentStatus::Picked);

    // Packing more than was picked names the line.
    let too_many = client
        .pack_parcel(PackParcelRequest {
            request_id: "pack-x".into(),
            fulfillment_id: berlin.fulfillment_id.clone(),
            lines: vec![ParcelLine {
                line_id: "L1".into(),
                sku: String::new(),
                quantity: 4,
            }],
            weight_grams: 1000,
            dimensions: dims(),
            packed_by: "packer-1".into(),
            preferred_carrier: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), Code::InvalidArgument);
    assert_eq!(
        too_many
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "lines[0].quantity"
    );

    let pack = PackParcelRequest {
        request_id: "pack-1".into(),
        fulfillment_id: berlin.fulfillment_id.clone(),
        lines: vec![
            ParcelLine {
                line_id: "L1".into(),
                sku: String::new(),
                quantity: 3,
            },
            ParcelLine {
                line_id: "L2".into(),
                sku: String::new(),
                quantity: 1,
            },
        ],
        // 3 × 260 g + 180 g = 960 g of goods, plus packaging.
        weight_grams: 1040,
        dimensions: dims(),
        packed_by: "packer-1".into(),
        preferred_carrier: String::new(),
    };
    let packed = client.pack_parcel(pack.clone()).await.unwrap().into_inner();
    let parcel = packed.parcel.unwrap();
    assert!(!parcel.weight_flagged);
    assert_eq!(parcel.expected_weight_grams, 960);
    assert!(!parcel.tracking_number.is_empty() && !parcel.carrier.is_empty());
    // A retried pack returns the same parcel and creates no second shipment.
    let again = client
        .pack_parcel(pack)
        .await
        .unwrap()
        .into_inner()
        .parcel
        .unwrap();
    assert_eq!(again.id, parcel.id);
    assert_eq!(again.shipment_id, parcel.shipment_id);
    let event: ParcelPacked = packed_events.next().await;
    assert_eq!(event.parcel_id, parcel.id);
    assert_eq!(event.tracking_number, parcel.tracking_number);

    let label = client
        .print_label(PrintLabelRequest {
            parcel_id: parcel.id.clone(),
            format: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .label
        .unwrap();
    let is_pdf = label.content.starts_with(b"%PDF-");
    let is_zpl = label.content.starts_with(b"^XA");
    assert!(is_pdf || is_zpl, "a real label document");
    // The printed text carries the order number and the tracking number.
    let text = String::from_utf8_lossy(&label.content);
    assert!(
        text.contains("OC-261128-000001"),
        "order number on the label"
    );
    assert!(
        text.contains(&parcel.tracking_number),
        "tracking number on the label"
    );
    assert_eq!(label.tracking_number, parcel.tracking_number);

    let done = client
        .hand_over(HandOverRequest {
            request_id: "handover-1".into(),
            fulfillment_id: berlin.fulfillment_id.clone(),
            parcel_ids: vec![],
            handed_over_by: "dock-2".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .fulfillment
        .unwrap();
    assert_eq!(done.status(), FulfillmentStatus::HandedOver);
    let left: ParcelHandedOver = handed.next().await;
    assert_eq!(left.parcel_id, parcel.id);
    assert_eq!(left.shipment_id, parcel.shipment_id);
    assert!(left.fulfillment_complete);
    assert_eq!(left.lines.len(), 2);
}

#[tokio::test]
async fn a_short_pick_raises_an_exception_and_a_wrong_weight_is_flagged() {
    let w = Warehouse::start().await;
    let mut created = w.env.tap("fulfillment.fulfillment.created").await;
    let mut short = w.env.tap("fulfillment.fulfillment.short_picked").await;
    let order_id = uuid::Uuid::new_v4().to_string();
    w.publish(&request(
        &order_id,
        vec![line("L1", "TEA-001", 4)],
        vec![allocation("L1", "TEA-001", "WH-BER", 4, "B-07", 70)],
    ))
    .await;
    let f: FulfillmentCreated = created.next().await;
    let mut client = w.client().await;
    client
        .confirm_pick(ConfirmPickRequest {
            fulfillment_id: f.fulfillment_id.clone(),
            lines: vec![PickedLine {
                line_id: "L1".into(),
                bin: "B-07".into(),
                quantity: 3,
            }],
            picker_id: "picker-7".into(),
        })
        .await
        .unwrap();
    let exception: FulfillmentShortPicked = short.next().await;
    assert_eq!(exception.lines[0].expected_quantity, 4);
    assert_eq!(exception.lines[0].picked_quantity, 3);

    // Three teas weigh 780 g; the scale says 300 g: something is missing.
    let parcel = client
        .pack_parcel(PackParcelRequest {
            request_id: "pack-light".into(),
            fulfillment_id: f.fulfillment_id.clone(),
            lines: vec![ParcelLine {
                line_id: "L1".into(),
                sku: String::new(),
                quantity: 3,
            }],
            weight_grams: 300,
            dimensions: dims(),
            packed_by: "packer-1".into(),
            preferred_carrier: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .parcel
        .unwrap();
    assert!(parcel.weight_flagged);
    assert_eq!(parcel.expected_weight_grams, 780);
}

#[tokio::test]
async fn a_cancel_request_cancels_what_has_not_left() {
    let w = Warehouse::start().await;
    let mut created = w.env.tap("fulfillment.fulfillment.created").await;
    let mut cancelled = w.env.tap("fulfillment.fulfillment.cancelled").await;
    let order_id = uuid::Uuid::new_v4().to_string();
    w.publish(&request(
        &order_id,
        vec![line("L1", "TEA-001", 1)],
        vec![allocation("L1", "TEA-001", "WH-BER", 1, "B-07", 70)],
    ))
    .await;
    let f: FulfillmentCreated = created.next().await;
    w.publish(&FulfillmentCancelRequested {
        order_id: order_id.clone(),
        fulfillment_ids: vec![f.fulfillment_id.clone()],
        reason: contracts::orders::CancelReason::CustomerRequest.into(),
        requested_at: None,
    })
    .await;
    let event: FulfillmentCancelled = cancelled.next().await;
    assert_eq!(event.fulfillment_id, f.fulfillment_id);
    let mut client = w.client().await;
    let refused = client
        .confirm_pick(ConfirmPickRequest {
            fulfillment_id: f.fulfillment_id.clone(),
            lines: vec![],
            picker_id: "picker-7".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn requests_name_every_bad_field() {
    let w = Warehouse::start().await;
    let mut client = w.client().await;
    let wave = client
        .create_pick_wave(CreatePickWaveRequest {
            request_id: String::new(),
            warehouse_id: String::new(),
            fulfillment_ids: vec!["nope".into()],
            max_fulfillments: 500,
        })
        .await
        .unwrap_err();
    assert_eq!(wave.code(), Code::InvalidArgument);
    let fields: Vec<String> = wave
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(
        fields,
        [
            "request_id",
            "warehouse_id",
            "max_fulfillments",
            "fulfillment_ids[0]"
        ]
    );

    let pack = client
        .pack_parcel(PackParcelRequest {
            request_id: "p".into(),
            fulfillment_id: uuid::Uuid::new_v4().to_string(),
            lines: vec![],
            weight_grams: 0,
            dimensions: None,
            packed_by: String::new(),
            preferred_carrier: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(pack.code(), Code::InvalidArgument);
    let empty_wave = client
        .create_pick_wave(CreatePickWaveRequest {
            request_id: "w-empty".into(),
            warehouse_id: "WH-NONE".into(),
            fulfillment_ids: vec![],
            max_fulfillments: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(empty_wave.code(), Code::FailedPrecondition);
}
