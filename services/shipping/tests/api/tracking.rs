use chrono::{Duration, Utc};
use contracts::shipping::{
    DeliveryFailureReason, RecordTrackingEventRequest, ShipmentDelivered, ShipmentDeliveryFailed,
    ShipmentStatusChanged, TrackingStatus,
};
use tonic::Code;

use crate::helpers::{TestApp, bad_fields, create_request, eur, event, ts};

#[tokio::test]
async fn events_out_of_order_never_move_a_shipment_back() {
    let app = TestApp::start().await;
    let shipment = app.create(create_request("req-1")).await;
    let mut client = app.client().await;
    let t0 = Utc::now();
    let out = client
        .record_tracking_event(event(
            &shipment,
            "e-ofd",
            TrackingStatus::OutForDelivery,
            t0 + Duration::hours(30),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        out.shipment.unwrap().status(),
        TrackingStatus::OutForDelivery
    );

    // The hand-over and transit scans arrive late.
    for (id, status, hours) in [
        ("e-transit", TrackingStatus::InTransit, 5),
        ("e-pickup", TrackingStatus::Accepted, 1),
    ] {
        let late = client
            .record_tracking_event(event(&shipment, id, status, t0 + Duration::hours(hours)))
            .await
            .unwrap()
            .into_inner();
        assert!(!late.duplicate);
        assert_eq!(
            late.shipment.unwrap().status(),
            TrackingStatus::OutForDelivery
        );
    }
    let shipment = client
        .get_shipment(contracts::shipping::GetShipmentRequest {
            id: shipment.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    // History is in the carrier's order, whatever the arrival order.
    let history: Vec<_> = shipment.events.iter().map(|e| e.status()).collect();
    assert_eq!(
        history,
        [
            TrackingStatus::LabelCreated,
            TrackingStatus::Accepted,
            TrackingStatus::InTransit,
            TrackingStatus::OutForDelivery
        ]
    );
    assert_eq!(
        app.count("SELECT count(*) FROM tracking_events WHERE NOT applied")
            .await,
        2
    );
}

#[tokio::test]
async fn a_duplicate_carrier_event_is_applied_once() {
    let app = TestApp::start().await;
    let shipment = app.create(create_request("req-1")).await;
    let mut client = app.client().await;
    let delivered = event(&shipment, "e-dl", TrackingStatus::Delivered, Utc::now());
    let first = client
        .record_tracking_event(delivered.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!first.duplicate);
    let second = client
        .record_tracking_event(delivered)
        .await
        .unwrap()
        .into_inner();
    assert!(second.duplicate);
    assert_eq!(second.shipment.unwrap().status(), TrackingStatus::Delivered);
    assert_eq!(
        app.count("SELECT count(*) FROM tracking_events WHERE carrier_event_id = 'e-dl'")
            .await,
        1
    );
    assert_eq!(app.outbox_count("shipping.shipment.delivered").await, 1);
    assert_eq!(
        app.outbox_count("shipping.shipment.status_changed").await,
        1
    );
}

#[tokio::test]
async fn carrier_codes_map_onto_canonical_states_and_failures_are_announced() {
    let app = TestApp::start().await;
    let mut failed_events = app.env.tap("shipping.shipment.delivery_failed").await;
    let shipment = app.create(create_request("req-1")).await;
    let mut client = app.client().await;
    let now = Utc::now();
    let mut not_home = RecordTrackingEventRequest {
        shipment_id: shipment.id.clone(),
        carrier_event_id: "e-nb".into(),
        carrier_status_code: "NB".into(),
        occurred_at: Some(ts(now)),
        ..Default::default()
    };
    let recorded = client
        .record_tracking_event(not_home.clone())
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(recorded.status(), TrackingStatus::DeliveryFailed);
    assert_eq!(recorded.delivery_attempts, 1);
    let last = recorded.events.last().unwrap();
    assert_eq!(last.carrier_status_code, "NB");
    assert_eq!(
        last.failure_reason(),
        DeliveryFailureReason::RecipientAbsent
    );

    let failed: ShipmentDeliveryFailed = failed_events.next().await;
    assert_eq!(failed.shipment_id, shipment.id);
    assert_eq!(failed.attempt, 1);
    assert_eq!(failed.reason(), DeliveryFailureReason::RecipientAbsent);
    assert!(!failed.returning_to_sender);

    not_home.carrier_event_id = "e-unknown".into();
    not_home.carrier_status_code = "??".into();
    let err = client.record_tracking_event(not_home).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["carrier_status_code"]);
}

#[tokio::test]
async fn the_eta_is_recomputed_on_each_event() {
    let app = TestApp::start().await;
    let mut changes = app.env.tap("shipping.shipment.status_changed").await;
    let shipment = app.create(create_request("req-1")).await;
    let mut client = app.client().await;
    let handed_over = Utc::now() + Duration::hours(3);
    let accepted = client
        .record_tracking_event(event(
            &shipment,
            "e-1",
            TrackingStatus::Accepted,
            handed_over,
        ))
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    // sim-post standard to DE: two transit days from the hand-over.
    assert_eq!(
        accepted.eta.unwrap().seconds,
        (handed_over + Duration::days(2)).timestamp()
    );
    let changed: ShipmentStatusChanged = changes.next().await;
    assert_eq!(changed.previous_status(), TrackingStatus::LabelCreated);
    assert_eq!(changed.status(), TrackingStatus::Accepted);
    assert_eq!(changed.eta, accepted.eta);

    let mut carrier_eta = event(
        &shipment,
        "e-2",
        TrackingStatus::InTransit,
        handed_over + Duration::hours(5),
    );
    let promised = handed_over + Duration::days(4);
    carrier_eta.eta = Some(ts(promised));
    let in_transit = client
        .record_tracking_event(carrier_eta)
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(in_transit.eta.unwrap().seconds, promised.timestamp());
}

#[tokio::test]
async fn a_cash_on_delivery_shipment_reports_the_cash_collected() {
    let app = TestApp::start().await;
    let mut delivered_events = app.env.tap("shipping.shipment.delivered").await;
    let mut request = create_request("req-cod");
    request.cash_on_delivery_amount = Some(eur(4599));
    let shipment = app.create(request).await;
    let mut client = app.client().await;

    let without_cash = event(&shipment, "e-dl", TrackingStatus::Delivered, Utc::now());
    let err = client
        .record_tracking_event(without_cash.clone())
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["cash_collected"]);

    let mut with_cash = without_cash;
    with_cash.cash_collected = Some(eur(4599));
    let delivered = client
        .record_tracking_event(with_cash)
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(delivered.cash_collected, Some(eur(4599)));
    assert!(delivered.delivered_at.is_some());
    let event: ShipmentDelivered = delivered_events.next().await;
    assert_eq!(event.shipment_id, shipment.id);
    assert_eq!(event.cash_collected, Some(eur(4599)));
    assert_eq!(event.parcel_id, shipment.parcel_id);
}

#[tokio::test]
async fn invalid_and_impossible_events_are_refused() {
    let app = TestApp::start().await;
    let shipment = app.create(create_request("req-1")).await;
    let mut client = app.client().await;

    let err = client
        .record_tracking_event(RecordTrackingEventRequest::default())
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["shipment_id", "status"]);

    let err = client
        .record_tracking_event(RecordTrackingEventRequest {
            shipment_id: "not-a-uuid".into(),
            status: TrackingStatus::InTransit.into(),
            failure_reason: 42,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["shipment_id", "failure_reason"]);

    let err = client
        .record_tracking_event(RecordTrackingEventRequest {
            shipment_id: uuid::Uuid::new_v4().to_string(),
            status: TrackingStatus::InTransit.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let mut wrong = event(&shipment, "e-x", TrackingStatus::InTransit, Utc::now());
    wrong.tracking_number = "SP000000000DE".into();
    let err = client.record_tracking_event(wrong).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let mut reason_on_transit = event(&shipment, "e-y", TrackingStatus::InTransit, Utc::now());
    reason_on_transit.failure_reason = DeliveryFailureReason::Refused.into();
    let err = client
        .record_tracking_event(reason_on_transit)
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["failure_reason"]);

    let label = event(&shipment, "e-z", TrackingStatus::LabelCreated, Utc::now());
    let err = client.record_tracking_event(label).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["status"]);

    client
        .record_tracking_event(event(
            &shipment,
            "e-1",
            TrackingStatus::Accepted,
            Utc::now(),
        ))
        .await
        .unwrap();
    let cancel = event(&shipment, "e-2", TrackingStatus::Cancelled, Utc::now());
    let err = client.record_tracking_event(cancel).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        app.count("SELECT count(*) FROM tracking_events").await,
        2,
        "only the label and the hand-over were recorded"
    );
}
