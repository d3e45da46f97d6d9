//! The simulated carrier on a fast clock: an hour of clock time (one scan) every 0.1 s.

use contracts::shipping::{
    DeliveryFailureReason, GetShipmentRequest, ShipmentDelivered, ShipmentDeliveryFailed,
    TrackingStatus,
};

use crate::helpers::{TestApp, create_request, eur, recipient};

const FAST: f64 = 36_000.0;

async fn wait_for(
    app: &TestApp,
    id: &str,
    status: TrackingStatus,
) -> contracts::shipping::Shipment {
    let client = app.client().await;
    testkit::eventually(&format!("shipment {id} to be {status:?}"), || {
        let mut client = client.clone();
        let id = id.to_owned();
        async move {
            let shipment = client
                .get_shipment(GetShipmentRequest { id })
                .await
                .ok()?
                .into_inner()
                .shipment?;
            (shipment.status() == status).then_some(shipment)
        }
    })
    .await
}

#[tokio::test]
async fn the_simulated_carrier_delivers_and_collects_the_cash() {
    let app = TestApp::with_clock(FAST).await;
    let mut delivered = app.env.tap("shipping.shipment.delivered").await;
    let mut request = create_request("req-sim");
    request.ship_to = Some(recipient(""));
    request.cash_on_delivery_amount = Some(eur(1999));
    let shipment = app.create(request).await;

    let event: ShipmentDelivered = delivered.next().await;
    assert_eq!(event.shipment_id, shipment.id);
    assert_eq!(event.cash_collected, Some(eur(1999)));
    assert_eq!(event.received_by, "Mei Lin");

    let done = wait_for(&app, &shipment.id, TrackingStatus::Delivered).await;
    let journey: Vec<_> = done.events.iter().map(|e| e.status()).collect();
    assert_eq!(
        journey,
        [
            TrackingStatus::LabelCreated,
            TrackingStatus::Accepted,
            TrackingStatus::InTransit,
            TrackingStatus::OutForDelivery,
            TrackingStatus::Delivered
        ]
    );
    // The carrier's own codes were reported and mapped.
    assert_eq!(done.events[4].carrier_status_code, "ZU");
    assert!(done.courier.is_some());
}

#[tokio::test]
async fn the_simulated_carrier_fails_once_then_delivers() {
    let app = TestApp::with_clock(FAST).await;
    let mut failed = app.env.tap("shipping.shipment.delivery_failed").await;
    let mut request = create_request("req-sim-fail");
    request.ship_to = Some(recipient("[sim:fail-once]"));
    let shipment = app.create(request).await;

    let attempt: ShipmentDeliveryFailed = failed.next().await;
    assert_eq!(attempt.shipment_id, shipment.id);
    assert_eq!(attempt.attempt, 1);
    assert_eq!(attempt.reason(), DeliveryFailureReason::RecipientAbsent);
    assert!(attempt.next_attempt_at.is_some());

    let done = wait_for(&app, &shipment.id, TrackingStatus::Delivered).await;
    assert_eq!(done.delivery_attempts, 1);
}

#[tokio::test]
async fn the_simulated_carrier_returns_a_parcel_it_cannot_deliver() {
    let app = TestApp::with_clock(FAST).await;
    let mut request = create_request("req-sim-rts");
    request.ship_to = Some(recipient("[sim:fail-always]"));
    let shipment = app.create(request).await;
    let done = wait_for(&app, &shipment.id, TrackingStatus::ReturnedToSender).await;
    assert_eq!(done.delivery_attempts, 3);
    assert!(done.eta.is_none());
}
