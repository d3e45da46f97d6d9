use contracts::orders::{GetOrderRequest, OrderPlaced, OrderStatus};
use messaging::envelope::{CE_ID, CE_SUBJECT, CE_TYPE};
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, money, valid_request};

#[tokio::test]
async fn a_placed_order_reads_back_by_id_and_by_order_number() {
    let app = TestApp::start().await;
    let mut client = app.client().await;

    let placed = client
        .place_order(valid_request("req-1"))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(placed.status(), OrderStatus::Pending);
    assert!(
        placed.order_number.starts_with("OC-"),
        "{}",
        placed.order_number
    );
    assert_eq!(money(&placed.total), ("EUR".into(), 2 * 1250 + 899));
    assert_eq!(placed.lines.len(), 2);
    assert_eq!(placed.lines[0].line_id, "L1");
    assert_eq!(money(&placed.lines[0].line_total), ("EUR".into(), 2500));
    // Billing defaults to the shipping address; the payment token is never returned.
    assert_eq!(placed.billing_address, placed.shipping_address);
    assert!(!format!("{placed:?}").contains("tok_visa"));

    for key in [placed.id.clone(), placed.order_number.clone()] {
        let got = client
            .get_order(GetOrderRequest { id: key })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        assert_eq!(got, placed);
    }
}

#[tokio::test]
async fn a_second_place_order_with_the_same_request_id_returns_the_first_order() {
    let app = TestApp::start().await;
    let mut client = app.client().await;

    let first = client
        .place_order(valid_request("req-same"))
        .await
        .unwrap()
        .into_inner();
    let second = client
        .place_order(valid_request("req-same"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, second);
    assert_eq!(app.order_rows().await, 1);
}

#[tokio::test]
async fn the_same_request_id_with_a_different_request_is_refused() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    client.place_order(valid_request("req-x")).await.unwrap();

    let mut changed = valid_request("req-x");
    changed.lines[0].quantity = 5;
    let status = client.place_order(changed).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(status.message().contains("req-x"), "{}", status.message());
    assert_eq!(app.order_rows().await, 1);
}

#[tokio::test]
async fn an_invalid_request_names_every_bad_field() {
    let app = TestApp::start().await;
    let mut client = app.client().await;

    let mut request = valid_request("req-bad");
    request.customer.as_mut().unwrap().email = "not-an-email".into();
    request.lines[0].quantity = 0;
    request.lines[1].unit_price.as_mut().unwrap().currency_code = "usd".into();
    request.shipping_address.as_mut().unwrap().country_code = "Germany".into();
    request.payment.as_mut().unwrap().token = "4111 1111 1111 1111".into();
    let status = client.place_order(request).await.unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<&str> = details
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    for expected in [
        "customer.email",
        "lines[0].quantity",
        "lines[1].unit_price.currency_code",
        "shipping_address.country_code",
        "payment.token",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
    assert!(
        !status.message().contains("4111"),
        "the card number is not echoed back"
    );
    assert_eq!(app.order_rows().await, 0);
}

#[tokio::test]
async fn an_unknown_order_is_not_found_and_a_malformed_id_is_invalid() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let missing = client
        .get_order(GetOrderRequest {
            id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = client
        .get_order(GetOrderRequest {
            id: "DROP TABLE".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn placing_an_order_publishes_order_placed_with_cloudevents_headers() {
    let app = TestApp::start().await;
    let mut tap = app.env.tap("orders.order.placed").await;
    let placed = app
        .client()
        .await
        .place_order(valid_request("req-ev"))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();

    let message = tap.next_message().await;
    let headers = message.headers.clone().unwrap();
    assert_eq!(
        headers.get(CE_TYPE).unwrap().as_str(),
        "ordercycle.orders.v1.OrderPlaced"
    );
    assert_eq!(headers.get(CE_SUBJECT).unwrap().as_str(), placed.id);
    let event_id = headers.get(CE_ID).unwrap().as_str().to_owned();
    let event: OrderPlaced = prost::Message::decode(message.payload.as_ref()).unwrap();
    assert_eq!(event.order_id, placed.id);
    assert_eq!(event.order_number, placed.order_number);
    assert_eq!(event.total, placed.total);
    assert_eq!(event.lines.len(), 2);

    // The same event id is on the order's timeline.
    let timeline_event: uuid::Uuid =
        sqlx::query_scalar("SELECT event_id FROM order_timeline WHERE kind = 'order.placed'")
            .fetch_one(&app.orders.pool)
            .await
            .unwrap();
    assert_eq!(timeline_event.to_string(), event_id);
}

#[tokio::test]
async fn a_store_order_names_its_store_and_shows_where_money_and_goods_stand() {
    let app = TestApp::start().await;
    let mut client = app.client().await;

    let mut request = valid_request("req-store");
    request.channel = contracts::common::Channel::Store.into();
    let missing = client.place_order(request.clone()).await.unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    let details = missing.get_error_details();
    assert_eq!(
        details.bad_request().unwrap().field_violations[0].field,
        "channel_ref"
    );

    request.channel_ref = "STORE-MITTE".into();
    let order = client
        .place_order(request)
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(order.channel_ref, "STORE-MITTE");
    assert_eq!(
        order.payment_status(),
        contracts::orders::OrderPaymentStatus::NotRequested
    );
    assert_eq!(
        order.fulfillment_status(),
        contracts::orders::OrderFulfillmentStatus::NotStarted
    );
    let got = client
        .get_order(GetOrderRequest {
            id: order.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(got, order);
}
