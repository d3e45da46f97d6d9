//! The foundation's promise: every service answers health and reflection with the DESIGN §3a
//! names, and a placed order flows to payments' risk assessment while an outside subscriber
//! sees the event with its CloudEvents headers.

use std::collections::BTreeSet;

use contracts::common::{Address, Channel, Customer, FulfillmentMode, Money, PaymentMethod};
use contracts::inventory::inventory_service_client::InventoryServiceClient;
use contracts::inventory::{Item, UpsertItemRequest};
use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::{
    GetOrderRequest, NewOrderLine, OrderPlaced, PaymentInstruction, PlaceOrderRequest,
};
use contracts::payments::GetRiskAssessmentRequest;
use contracts::payments::risk_service_client::RiskServiceClient;
use futures::StreamExt as _;
use prost::Message as _;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::platform::Platform;

/// The gRPC services each process must expose (DESIGN §3a).
const EXPECTED: [(&str, &[&str]); 8] = [
    (
        "orders",
        &[
            "ordercycle.orders.v1.OrderService",
            "ordercycle.orders.v1.ReviewService",
            "ordercycle.orders.v1.ReturnService",
        ],
    ),
    ("inventory", &["ordercycle.inventory.v1.InventoryService"]),
    (
        "payments",
        &[
            "ordercycle.payments.v1.PaymentService",
            "ordercycle.payments.v1.RiskService",
        ],
    ),
    (
        "fulfillment",
        &["ordercycle.fulfillment.v1.FulfillmentService"],
    ),
    ("shipping", &["ordercycle.shipping.v1.ShippingService"]),
    (
        "notifications",
        &["ordercycle.notifications.v1.NotificationService"],
    ),
    ("feedback", &["ordercycle.feedback.v1.FeedbackService"]),
    ("analytics", &["ordercycle.analytics.v1.AnalyticsService"]),
];

async fn reflected_services(channel: tonic::transport::Channel) -> BTreeSet<String> {
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

#[tokio::test]
async fn every_service_answers_health_and_lists_its_design_names_through_reflection() {
    let platform = Platform::start().await;
    for (name, services) in EXPECTED {
        let running = platform.service(name);
        let listed = reflected_services(running.channel().await).await;
        for service in services {
            assert!(
                listed.contains(*service),
                "{name} does not list {service}: {listed:?}"
            );
            let status = HealthClient::new(running.channel().await)
                .check(HealthCheckRequest {
                    service: (*service).to_owned(),
                })
                .await
                .unwrap()
                .into_inner()
                .status;
            assert_eq!(status, 1, "{service} is not SERVING");
        }
        assert!(listed.contains("grpc.health.v1.Health"));
    }
}

#[tokio::test]
async fn a_placed_order_reaches_payments_and_outside_subscribers() {
    let platform = Platform::start().await;
    let env = &platform.env;
    // An outside subscriber on the whole root, with nothing but NATS and the .proto files.
    let mut everything = env
        .nats()
        .subscribe(format!("{}.>", env.subjects().root()))
        .await
        .unwrap();

    let eur = |amount_minor| Money {
        currency_code: "EUR".into(),
        amount_minor,
    };
    InventoryServiceClient::new(platform.service("inventory").channel().await)
        .upsert_item(UpsertItemRequest {
            item: Some(Item {
                sku: "TEA-001".into(),
                name: "Longjing green tea 250 g".into(),
                unit_price: Some(eur(1250)),
                weight_grams: 260,
                ..Default::default()
            }),
        })
        .await
        .unwrap();

    let mut orders = OrderServiceClient::new(platform.service("orders").channel().await);
    let request = PlaceOrderRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        customer: Some(Customer {
            id: "cust-e2e".into(),
            name: "Mei Lin".into(),
            email: "mei@example.com".into(),
            phone: String::new(),
        }),
        channel: Channel::Web.into(),
        fulfillment_mode: FulfillmentMode::Ship.into(),
        lines: vec![NewOrderLine {
            sku: "TEA-001".into(),
            quantity: 2,
            unit_price: Some(eur(1250)),
            ..Default::default()
        }],
        shipping_address: Some(Address {
            recipient: "Mei Lin".into(),
            line1: "Unter den Linden 1".into(),
            city: "Berlin".into(),
            postal_code: "10117".into(),
            country_code: "DE".into(),
            ..Default::default()
        }),
        payment: Some(PaymentInstruction {
            method: PaymentMethod::Card.into(),
            token: "tok_visa".into(),
            installment_count: 0,
        }),
        ..Default::default()
    };
    // The catalog reaches orders through inventory's event; retry until it has.
    let placed = testkit::eventually("orders to know the catalog", || {
        let mut orders = orders.clone();
        let request = request.clone();
        async move { orders.place_order(request).await.ok() }
    })
    .await
    .into_inner()
    .order
    .unwrap();
    let got = orders
        .get_order(GetOrderRequest {
            id: placed.order_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(got.id, placed.id);

    let risk = RiskServiceClient::new(platform.service("payments").channel().await);
    let assessment = testkit::eventually("payments' risk assessment", || {
        let mut risk = risk.clone();
        let order_id = placed.id.clone();
        async move {
            risk.get_risk_assessment(GetRiskAssessmentRequest { order_id })
                .await
                .ok()
        }
    })
    .await
    .into_inner()
    .assessment
    .unwrap();
    assert_eq!(assessment.order_id, placed.id);

    let placed_subject = env.subjects().absolute("orders.order.placed");
    let message = tokio::time::timeout(testkit::PATIENCE, async {
        loop {
            let message = everything.next().await.expect("subscription open");
            if message.subject.as_str() == placed_subject {
                return message;
            }
        }
    })
    .await
    .expect("the plain subscriber sees OrderPlaced");
    let headers = message.headers.clone().unwrap();
    for name in [
        "ce-id",
        "ce-type",
        "ce-source",
        "ce-time",
        "ce-subject",
        "ce-specversion",
        "Nats-Msg-Id",
    ] {
        assert!(headers.get(name).is_some(), "{name} missing");
    }
    assert_eq!(
        headers.get("ce-type").unwrap().as_str(),
        "ordercycle.orders.v1.OrderPlaced"
    );
    assert_eq!(
        headers.get("content-type").unwrap().as_str(),
        "application/protobuf"
    );
    let event = OrderPlaced::decode(message.payload.as_ref()).unwrap();
    assert_eq!(event.order_id, placed.id);
}
