use contracts::common::{Dimensions, LabelFormat};
use contracts::shipping::{ShipmentCreated, ShipmentDirection, TrackingStatus};
use tonic::Code;

use crate::helpers::{TestApp, bad_fields, create_request, eur, recipient};

#[tokio::test]
async fn creating_a_shipment_chooses_a_carrier_and_renders_a_pdf_label() {
    let app = TestApp::start().await;
    let mut created = app.env.tap("shipping.shipment.created").await;
    let response = app
        .client()
        .await
        .create_shipment(create_request("req-1"))
        .await
        .unwrap()
        .into_inner();
    let shipment = response.shipment.unwrap();
    assert_eq!(shipment.carrier, "sim-post");
    assert_eq!(shipment.service_level, "standard");
    assert!(
        shipment.tracking_number.starts_with("SP") && shipment.tracking_number.ends_with("DE"),
        "{}",
        shipment.tracking_number
    );
    assert!(shipment.tracking_url.contains(&shipment.tracking_number));
    assert_eq!(shipment.status(), TrackingStatus::LabelCreated);
    assert_eq!(shipment.direction(), ShipmentDirection::Outbound);
    assert!(shipment.eta.is_some());
    assert_eq!(shipment.events.len(), 1);
    assert_eq!(shipment.events[0].status(), TrackingStatus::LabelCreated);

    let label = response.label.unwrap();
    assert_eq!(label.format(), LabelFormat::Pdf);
    assert_eq!(label.tracking_number, shipment.tracking_number);
    assert!(label.content.starts_with(b"%PDF-"));
    assert!(label.content.trim_ascii_end().ends_with(b"%%EOF"));
    let text = String::from_utf8_lossy(&label.content);
    assert!(text.contains(&format!("({}) Tj", shipment.tracking_number)));

    let event: ShipmentCreated = created.next().await;
    assert_eq!(event.shipment_id, shipment.id);
    assert_eq!(event.tracking_number, shipment.tracking_number);
    assert_eq!(event.parcel_id, "parcel-req-1");
    assert!(event.eta.is_some());
}

#[tokio::test]
async fn express_goes_to_the_express_carrier_with_a_zpl_label() {
    let app = TestApp::start().await;
    let mut request = create_request("req-express");
    request.service_level = "express".into();
    request.label_format = LabelFormat::Zpl.into();
    let response = app
        .client()
        .await
        .create_shipment(request)
        .await
        .unwrap()
        .into_inner();
    let shipment = response.shipment.unwrap();
    assert_eq!(shipment.carrier, "sim-express");
    assert!(shipment.tracking_number.starts_with("SX"));
    let zpl = String::from_utf8(response.label.unwrap().content).unwrap();
    assert!(zpl.starts_with("^XA"), "{zpl}");
    assert!(zpl.trim_end().ends_with("^XZ"));
    assert!(zpl.contains(&format!("^BCN,220,Y,N,N^FD{}^FS", shipment.tracking_number)));
}

#[tokio::test]
async fn a_heavy_parcel_goes_to_the_freight_carrier() {
    let app = TestApp::start().await;
    let mut request = create_request("req-heavy");
    request.weight_grams = 80_000;
    request.dimensions = Some(Dimensions {
        length_mm: 1800,
        width_mm: 800,
        height_mm: 600,
    });
    assert_eq!(app.create(request).await.carrier, "sim-freight");
}

#[tokio::test]
async fn a_repeated_request_id_returns_the_first_shipment_and_a_different_request_is_refused() {
    let app = TestApp::start().await;
    let first = app.create(create_request("req-dup")).await;
    let again = app.create(create_request("req-dup")).await;
    assert_eq!(first.id, again.id);
    assert_eq!(first.tracking_number, again.tracking_number);
    assert_eq!(app.count("SELECT count(*) FROM shipments").await, 1);
    assert_eq!(app.outbox_count("shipping.shipment.created").await, 1);

    let mut different = create_request("req-dup");
    different.weight_grams = 5000;
    let err = app
        .client()
        .await
        .create_shipment(different)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains("req-dup"));
}

#[tokio::test]
async fn an_invalid_request_names_every_bad_field() {
    let app = TestApp::start().await;
    let mut request = create_request("");
    let mut to = recipient("");
    to.country_code = "Germany".into();
    to.city = String::new();
    request.ship_to = Some(to);
    request.weight_grams = 0;
    request.dimensions = Some(Dimensions {
        length_mm: -1,
        width_mm: 10,
        height_mm: 10,
    });
    request.cash_on_delivery_amount = Some(contracts::common::Money {
        currency_code: "eur".into(),
        amount_minor: -5,
    });
    request.label_format = LabelFormat::Png.into();
    let err = app
        .client()
        .await
        .create_shipment(request)
        .await
        .unwrap_err();
    let fields = bad_fields(&err);
    for field in [
        "request_id",
        "ship_to.country_code",
        "ship_to.city",
        "weight_grams",
        "dimensions.length_mm",
        "cash_on_delivery_amount.currency_code",
        "cash_on_delivery_amount.amount_minor",
        "label_format",
    ] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} missing in {fields:?}"
        );
    }

    let mut no_recipient = create_request("req-x");
    no_recipient.ship_to = None;
    let err = app
        .client()
        .await
        .create_shipment(no_recipient)
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["ship_to"]);
    assert_eq!(app.count("SELECT count(*) FROM shipments").await, 0);
}

#[tokio::test]
async fn a_parcel_no_carrier_takes_is_refused_and_an_unknown_carrier_is_invalid() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let mut too_heavy = create_request("req-heavy");
    too_heavy.weight_grams = 2_000_000;
    let err = client.create_shipment(too_heavy).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("2000000 g"), "{}", err.message());

    let mut unknown = create_request("req-unknown");
    unknown.preferred_carrier = "pigeon-post".into();
    let err = client.create_shipment(unknown).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["preferred_carrier"]);
}

#[tokio::test]
async fn the_sender_defaults_to_the_warehouse_address_once_known() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let mut unknown = create_request("req-no-from");
    unknown.ship_from = None;
    let err = client.create_shipment(unknown.clone()).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["ship_from"]);

    app.create(create_request("req-with-from")).await;
    let shipment = app.create(unknown).await;
    assert_eq!(
        shipment.ship_from.unwrap().line1,
        crate::helpers::warehouse().line1
    );
}

#[tokio::test]
async fn cash_on_delivery_is_printed_on_the_label_and_announced() {
    let app = TestApp::start().await;
    let mut created = app.env.tap("shipping.shipment.created").await;
    let mut request = create_request("req-cod");
    request.cash_on_delivery_amount = Some(eur(4599));
    let response = app
        .client()
        .await
        .create_shipment(request)
        .await
        .unwrap()
        .into_inner();
    let text = String::from_utf8_lossy(&response.label.unwrap().content).to_string();
    assert!(text.contains("COLLECT ON DELIVERY: EUR 45.99"));
    let event: ShipmentCreated = created.next().await;
    assert_eq!(event.cash_on_delivery_amount, Some(eur(4599)));
}
