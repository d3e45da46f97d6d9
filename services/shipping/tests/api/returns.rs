use contracts::common::{Address, Customer, LabelFormat};
use contracts::orders::{ReservationLine, ReturnShipmentRequested};
use contracts::shipping::{
    GetLabelRequest, ListShipmentsRequest, ShipmentCreated, ShipmentDirection, TrackingStatus,
};
use messaging::envelope::publish_direct;

use crate::helpers::{TestApp, create_request, warehouse};

fn requested(return_id: &str) -> ReturnShipmentRequested {
    ReturnShipmentRequested {
        return_id: return_id.into(),
        rma_number: "RMA-0001".into(),
        order_id: "order-1".into(),
        customer: Some(Customer {
            id: "cust-1".into(),
            name: "Mei Lin".into(),
            email: "mei@example.com".into(),
            phone: String::new(),
        }),
        pickup_address: Some(Address {
            recipient: "Mei Lin".into(),
            line1: "Unter den Linden 1".into(),
            line2: "[sim:hold]".into(),
            city: "Berlin".into(),
            postal_code: "10117".into(),
            country_code: "DE".into(),
            ..Default::default()
        }),
        return_warehouse_id: "wh-berlin".into(),
        lines: vec![ReservationLine {
            line_id: "L1".into(),
            sku: "TEA-001".into(),
            quantity: 1,
        }],
        requested_at: None,
    }
}

#[tokio::test]
async fn a_requested_return_gets_a_return_shipment_with_its_label_once() {
    let app = TestApp::start().await;
    let mut created = app.env.tap("shipping.shipment.created").await;
    // The outbound parcel taught shipping where the warehouse is.
    let outbound = app.create(create_request("req-1")).await;
    let first: ShipmentCreated = created.next().await;
    assert_eq!(first.shipment_id, outbound.id);

    let event = requested("ret-1");
    for _ in 0..2 {
        // The same return twice, under two event ids: one shipment.
        publish_direct(
            app.env.jetstream(),
            &app.env.subjects(),
            "ordercycle/orders",
            &event,
        )
        .await
        .unwrap();
    }
    let announced: ShipmentCreated = created.next().await;
    assert_eq!(announced.direction(), ShipmentDirection::Return);
    assert_eq!(announced.return_id, "ret-1");
    assert_eq!(announced.warehouse_id, "wh-berlin");

    let mut client = app.client().await;
    let returns = client
        .list_shipments(ListShipmentsRequest {
            order_id: "order-1".into(),
            direction: ShipmentDirection::Return.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .shipments;
    assert_eq!(returns.len(), 1);
    let ret = &returns[0];
    assert_eq!(ret.id, announced.shipment_id);
    assert_eq!(ret.status(), TrackingStatus::LabelCreated);
    assert_eq!(ret.ship_to.as_ref().unwrap().line1, warehouse().line1);
    assert_eq!(ret.ship_from.as_ref().unwrap().recipient, "Mei Lin");

    let label = client
        .get_label(GetLabelRequest {
            shipment_id: ret.id.clone(),
            format: LabelFormat::Pdf.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .label
        .unwrap();
    assert!(label.content.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&label.content).contains("RETURN RMA-0001"));

    // Both deliveries were applied (inbox), the second finding the shipment of its return.
    testkit::eventually("both return events to be applied", || async {
        (app.count("SELECT count(*) FROM oc_inbox").await == 2).then_some(())
    })
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM shipments WHERE direction = 'RETURN'")
            .await,
        1
    );
}
