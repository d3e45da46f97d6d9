use chrono::{Duration, Utc};
use contracts::shipping::{TrackingStatus, WatchShipmentRequest};
use futures::StreamExt as _;

use crate::helpers::{TestApp, create_request, event};

#[tokio::test]
async fn a_watcher_sees_the_current_view_then_every_change_until_delivery() {
    let app = TestApp::start().await;
    let shipment = app.create(create_request("req-1")).await;
    let mut stream = app
        .client()
        .await
        .watch_shipment(WatchShipmentRequest {
            id: shipment.tracking_number.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(
        first.tracking.unwrap().status(),
        TrackingStatus::LabelCreated
    );
    assert!(first.event.is_none());

    let mut client = app.client().await;
    let t0 = Utc::now();
    for (i, status) in [
        TrackingStatus::Accepted,
        TrackingStatus::OutForDelivery,
        TrackingStatus::Delivered,
    ]
    .into_iter()
    .enumerate()
    {
        client
            .record_tracking_event(event(
                &shipment,
                &format!("e-{i}"),
                status,
                t0 + Duration::hours(i as i64),
            ))
            .await
            .unwrap();
        let update = stream.next().await.unwrap().unwrap();
        assert_eq!(update.tracking.unwrap().status(), status);
        let cause = update.event.unwrap();
        assert_eq!(cause.status(), status);
        assert_eq!(cause.carrier_event_id, format!("e-{i}"));
    }
    // Delivered is final: the stream ends.
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn watching_an_unknown_shipment_is_not_found() {
    let app = TestApp::start().await;
    let err = app
        .client()
        .await
        .watch_shipment(WatchShipmentRequest {
            id: "SP000000000DE".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
}
