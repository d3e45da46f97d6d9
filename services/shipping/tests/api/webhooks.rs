use contracts::shipping::{GetShipmentRequest, TrackingStatus};
use shipping::webhooks::sign;

use crate::helpers::{TestApp, create_request};

/// The development secret of a carrier (no `OC_SHIPPING_WEBHOOK_SECRET_…` in tests).
fn secret(carrier: &str) -> Vec<u8> {
    format!("dev-webhook-secret-{carrier}").into_bytes()
}

fn body(tracking_number: &str, event_id: &str, code: &str) -> Vec<u8> {
    serde_json::json!({
        "event_id": event_id,
        "tracking_number": tracking_number,
        "status_code": code,
        "occurred_at": chrono::Utc::now().to_rfc3339(),
        "location": "Hamburg hub",
        "courier": { "name": "Ana Driver", "phone": "+4915112345678" },
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn a_signed_webhook_is_recorded_and_a_repeat_is_a_duplicate() {
    let app = TestApp::start().await;
    let shipment = app.create(create_request("req-1")).await;
    let path = format!("/webhooks/carriers/{}", shipment.carrier);
    let payload = body(&shipment.tracking_number, "wh-1", "TR");
    let signature = sign(&secret(&shipment.carrier), &payload);

    let (status, answer) = app.post(&path, &payload, Some(&signature)).await;
    assert_eq!(status, 200, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["status"], "IN_TRANSIT");
    assert_eq!(answer["duplicate"], false);
    assert_eq!(answer["shipment_id"], shipment.id.as_str());

    let (status, answer) = app.post(&path, &payload, Some(&signature)).await;
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["duplicate"], true);

    let stored = app
        .client()
        .await
        .get_shipment(GetShipmentRequest {
            id: shipment.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(stored.status(), TrackingStatus::InTransit);
    assert_eq!(stored.events.len(), 2);
    assert_eq!(stored.events[1].carrier_status_code, "TR");
    assert_eq!(stored.events[1].carrier_event_id, "wh-1");
    assert_eq!(stored.courier.unwrap().name, "Ana Driver");
}

#[tokio::test]
async fn a_webhook_with_a_bad_signature_gets_401_and_changes_nothing() {
    let app = TestApp::start().await;
    let shipment = app.create(create_request("req-1")).await;
    let path = format!("/webhooks/carriers/{}", shipment.carrier);
    let payload = body(&shipment.tracking_number, "wh-1", "ZU");

    let wrong_key = sign(b"not-the-secret", &payload);
    let (status, _) = app.post(&path, &payload, Some(&wrong_key)).await;
    assert_eq!(status, 401);
    // Signed for another body.
    let other = sign(&secret(&shipment.carrier), b"{}");
    let (status, _) = app.post(&path, &payload, Some(&other)).await;
    assert_eq!(status, 401);
    let (status, _) = app.post(&path, &payload, None).await;
    assert_eq!(status, 401);
    // Another carrier's secret does not sign for this one.
    let express = sign(&secret("sim-express"), &payload);
    let (status, _) = app.post(&path, &payload, Some(&express)).await;
    assert_eq!(status, 401);

    assert_eq!(app.count("SELECT count(*) FROM tracking_events").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM shipments WHERE status = 'LABEL_CREATED'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_webhook_for_an_unknown_carrier_code_or_parcel_is_refused() {
    let app = TestApp::start().await;
    let shipment = app.create(create_request("req-1")).await;
    let carrier = shipment.carrier.clone();
    let path = format!("/webhooks/carriers/{carrier}");

    let payload = body(&shipment.tracking_number, "wh-1", "XYZ");
    let (status, answer) = app
        .post(&path, &payload, Some(&sign(&secret(&carrier), &payload)))
        .await;
    assert_eq!(status, 422, "{answer}");

    let payload = body("SP000000000DE", "wh-2", "TR");
    let (status, _) = app
        .post(&path, &payload, Some(&sign(&secret(&carrier), &payload)))
        .await;
    assert_eq!(status, 404);

    let payload = b"{not json".to_vec();
    let (status, _) = app
        .post(&path, &payload, Some(&sign(&secret(&carrier), &payload)))
        .await;
    assert_eq!(status, 400);

    let (status, _) = app
        .post("/webhooks/carriers/pigeon-post", b"{}", Some("sha256=00"))
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.count("SELECT count(*) FROM tracking_events").await, 1);
}
