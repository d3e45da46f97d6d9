use contracts::common::LabelFormat;
use contracts::shipping::{
    GetLabelRequest, GetShipmentRequest, ListShipmentsRequest, ShipmentDirection,
    TrackShipmentRequest, TrackingStatus,
};
use tonic::Code;

use crate::helpers::{TestApp, bad_fields, create_request, event};

#[tokio::test]
async fn a_shipment_is_found_by_id_or_tracking_number() {
    let app = TestApp::start().await;
    let created = app.create(create_request("req-1")).await;
    let mut client = app.client().await;
    for key in [created.id.clone(), created.tracking_number.clone()] {
        let found = client
            .get_shipment(GetShipmentRequest { id: key })
            .await
            .unwrap()
            .into_inner()
            .shipment
            .unwrap();
        assert_eq!(found.id, created.id);
        assert_eq!(found.events.len(), 1);
    }
    let err = client
        .get_shipment(GetShipmentRequest {
            id: "SP999999999DE".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .get_shipment(GetShipmentRequest { id: " ".into() })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["id"]);
}

#[tokio::test]
async fn shipments_are_listed_newest_first_in_pages_with_filters() {
    let app = TestApp::start().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut request = create_request(&format!("req-{i}"));
        request.order_id = if i < 2 { "order-a" } else { "order-b" }.into();
        ids.push(app.create(request).await.id);
    }
    let mut client = app.client().await;

    let first = client
        .list_shipments(ListShipmentsRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first
            .shipments
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>(),
        [ids[2].clone(), ids[1].clone()]
    );
    assert!(!first.next_page_token.is_empty());
    let second = client
        .list_shipments(ListShipmentsRequest {
            page_size: 2,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.shipments.len(), 1);
    assert_eq!(second.shipments[0].id, ids[0]);
    assert!(second.next_page_token.is_empty());

    let by_order = client
        .list_shipments(ListShipmentsRequest {
            order_id: "order-a".into(),
            direction: ShipmentDirection::Outbound.into(),
            carrier: "sim-post".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_order.shipments.len(), 2);

    let shipment = app
        .client()
        .await
        .get_shipment(GetShipmentRequest { id: ids[0].clone() })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    client
        .record_tracking_event(event(
            &shipment,
            "e-1",
            TrackingStatus::Accepted,
            chrono::Utc::now(),
        ))
        .await
        .unwrap();
    let accepted = client
        .list_shipments(ListShipmentsRequest {
            statuses: vec![TrackingStatus::Accepted.into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.shipments.len(), 1);
    assert_eq!(accepted.shipments[0].id, ids[0]);
    let returns = client
        .list_shipments(ListShipmentsRequest {
            direction: ShipmentDirection::Return.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(returns.shipments.is_empty());
}

#[tokio::test]
async fn a_bad_list_request_names_its_fields() {
    let app = TestApp::start().await;
    let err = app
        .client()
        .await
        .list_shipments(ListShipmentsRequest {
            page_size: -1,
            page_token: "not-a-token".into(),
            statuses: vec![0, 99],
            direction: 7,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        [
            "page_size",
            "page_token",
            "statuses[0]",
            "statuses[1]",
            "direction"
        ]
    );
}

#[tokio::test]
async fn tracking_shows_status_history_eta_and_courier() {
    let app = TestApp::start().await;
    let shipment = app.create(create_request("req-1")).await;
    let mut client = app.client().await;
    let now = chrono::Utc::now();
    let mut out = event(&shipment, "e-2", TrackingStatus::OutForDelivery, now);
    out.courier = Some(contracts::shipping::Courier {
        name: "Ana Driver".into(),
        phone: "+4915112345678".into(),
    });
    client.record_tracking_event(out).await.unwrap();
    let tracking = client
        .track_shipment(TrackShipmentRequest {
            id: shipment.tracking_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tracking
        .unwrap();
    assert_eq!(tracking.status(), TrackingStatus::OutForDelivery);
    assert_eq!(tracking.courier.unwrap().phone, "+4915112345678");
    assert_eq!(tracking.events.len(), 2);
    assert_eq!(tracking.last_location, "OutForDelivery scan");
    // Out for delivery: delivered within the window (8 hours by default).
    let eta = tracking.eta.unwrap();
    assert_eq!(eta.seconds, (now + chrono::Duration::hours(8)).timestamp());

    let err = client
        .track_shipment(TrackShipmentRequest { id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["id"]);
}

#[tokio::test]
async fn a_label_is_reprinted_in_either_format() {
    let app = TestApp::start().await;
    let shipment = app.create(create_request("req-1")).await;
    let mut client = app.client().await;
    let pdf = client
        .get_label(GetLabelRequest {
            shipment_id: shipment.id.clone(),
            format: LabelFormat::Unspecified.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .label
        .unwrap();
    assert!(pdf.content.starts_with(b"%PDF-"));
    let zpl = client
        .get_label(GetLabelRequest {
            shipment_id: shipment.id.clone(),
            format: LabelFormat::Zpl.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .label
        .unwrap();
    assert!(zpl.content.starts_with(b"^XA"));
    let err = client
        .get_label(GetLabelRequest {
            shipment_id: "nope".into(),
            format: LabelFormat::Png.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["shipment_id", "format"]);
}
