//! OrderUpdateService: preview, then update — contact, shipping address and lines — with the
//! version check, request_id idempotency, the state rules and the timeline (who and why).

use contracts::common::Address;
use contracts::orders::order_update_service_client::OrderUpdateServiceClient;
use contracts::orders::review_service_client::ReviewServiceClient;
use contracts::orders::{
    ApproveOrderRequest, GetOrderTimelineRequest, LineChange, NewOrderLine, OrderContact,
    OrderStatus, OrderUpdate, PaymentRequested, PreviewOrderUpdateRequest,
    PreviewOrderUpdateResponse, ReservationRequested, UpdateOrderRequest, UpdateOrderResponse,
};
use prost::Message;
use tonic::transport::Channel as GrpcChannel;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, eur, money, valid_request};

async fn client(app: &TestApp) -> OrderUpdateServiceClient<GrpcChannel> {
    OrderUpdateServiceClient::new(app.orders.channel().await)
}

async fn preview(
    app: &TestApp,
    order_id: &str,
    update: OrderUpdate,
) -> Result<PreviewOrderUpdateResponse, Status> {
    client(app)
        .await
        .preview_order_update(PreviewOrderUpdateRequest {
            order_id: order_id.into(),
            update: Some(update),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn update(
    app: &TestApp,
    request_id: &str,
    order_id: &str,
    update: OrderUpdate,
    expected_version: Option<i64>,
) -> Result<UpdateOrderResponse, Status> {
    client(app)
        .await
        .update_order(UpdateOrderRequest {
            request_id: request_id.into(),
            order_id: order_id.into(),
            update: Some(update),
            reason: "customer called".into(),
            expected_version,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn outbox<E: Message + Default>(app: &TestApp, subject: &str) -> Vec<E> {
    let payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT payload FROM oc_outbox WHERE subject = $1 ORDER BY seq")
            .bind(subject)
            .fetch_all(&app.orders.pool)
            .await
            .unwrap();
    payloads
        .iter()
        .map(|p| E::decode(p.as_slice()).unwrap())
        .collect()
}

fn fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect()
}

/// L1 down from 2 to 1 TEA-001, L2 (CUP-002) cancelled, a new line of 3 × SPOON-003 at 2.50.
fn line_edit() -> OrderUpdate {
    OrderUpdate {
        line_changes: vec![
            LineChange {
                line_id: "L1".into(),
                quantity: 1,
            },
            LineChange {
                line_id: "L2".into(),
                quantity: 0,
            },
        ],
        add_lines: vec![NewOrderLine {
            sku: "SPOON-003".into(),
            quantity: 3,
            unit_price: Some(eur(250)),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn lines_of_a_held_order_change_after_a_preview_and_its_stock_and_payment_follow() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("upd-held")).await;
    app.assess_risk(&order, 90, &["VELOCITY"]).await;
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::OnHold);

    // 33.99 → 12.50 + 7.50 = 20.00: 13.99 back; one TEA and one CUP released, 3 spoons taken.
    let p = preview(&app, &order.id, line_edit()).await.unwrap();
    assert_eq!(p.version, 0);
    assert_eq!(p.total_before, Some(eur(3399)));
    assert_eq!(p.total_after, Some(eur(2000)));
    assert_eq!(p.amount_to_refund, Some(eur(1399)));
    assert_eq!(p.amount_to_charge, Some(eur(0)));
    let moves: Vec<(&str, i32)> = p
        .stock_changes
        .iter()
        .map(|s| (s.line_id.as_str(), s.quantity))
        .collect();
    assert_eq!(moves, [("L1", -1), ("L2", -1), ("L3", 3)]);
    let lines: Vec<(&str, i32)> = p
        .order
        .as_ref()
        .unwrap()
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.quantity))
        .collect();
    assert_eq!(lines, [("L1", 1), ("L3", 3)]);
    // A preview changes nothing.
    assert_eq!(app.order(&order.id).await.total, Some(eur(3399)));

    let done = update(&app, "upd-1", &order.id, line_edit(), Some(p.version))
        .await
        .unwrap();
    let updated = done.order.clone().unwrap();
    assert_eq!(updated.version, 1);
    assert_eq!(updated.total, Some(eur(2000)));
    assert_eq!(money(&updated.lines[1].charged).1, 750);
    assert_eq!(done.amount_to_refund, Some(eur(1399)));
    // The same request again is the same answer; the same id for another update is refused.
    let again = update(&app, "upd-1", &order.id, line_edit(), Some(p.version))
        .await
        .unwrap();
    assert_eq!(again.order.unwrap().version, 1);
    let mut other = line_edit();
    other.line_changes[0].quantity = 2;
    let err = update(&app, "upd-1", &order.id, other.clone(), Some(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    // A preview made before the update is stale now.
    let err = update(&app, "upd-2", &order.id, other, Some(p.version))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("version 1"), "{}", err.message());

    // Who and why are on the timeline.
    let timeline = app
        .client()
        .await
        .get_order_timeline(GetOrderTimelineRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let entry = timeline
        .iter()
        .find(|e| e.kind == "orders.order.updated")
        .expect("the update on the timeline");
    assert_eq!(entry.reason, "customer called");
    assert!(!entry.actor_id.is_empty());
    assert!(entry.summary.contains("L2 cancelled"), "{}", entry.summary);
    assert!(entry.summary.contains("L3 added"), "{}", entry.summary);

    // Approved, the order reserves its new lines and asks for its new total.
    ReviewServiceClient::new(app.orders.channel().await)
        .approve_order(ApproveOrderRequest {
            order_id: order.id.clone(),
            reviewer_id: "rev-anna".into(),
            reason: "checked".into(),
        })
        .await
        .unwrap();
    let reservations: Vec<ReservationRequested> =
        outbox(&app, "orders.reservation.requested").await;
    let reserved: Vec<(&str, &str, i32)> = reservations[0]
        .lines
        .iter()
        .map(|l| (l.line_id.as_str(), l.sku.as_str(), l.quantity))
        .collect();
    assert_eq!(reserved, [("L1", "TEA-001", 1), ("L3", "SPOON-003", 3)]);
    let order = app.order(&order.id).await;
    app.reserve_stock(&order).await;
    let payments: Vec<PaymentRequested> = outbox(&app, "orders.payment.requested").await;
    assert_eq!(payments[0].amount, Some(eur(2000)));
}

#[tokio::test]
async fn a_confirmed_order_takes_a_new_contact_but_refuses_line_and_address_changes() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("upd-confirmed")).await;
    let contact = OrderUpdate {
        contact: Some(OrderContact {
            name: "Mei Lin-Park".into(),
            email: "mei.park@example.com".into(),
            phone: "+49 30 7654321".into(),
        }),
        ..Default::default()
    };
    let done = update(&app, "upd-contact", &order.id, contact, None)
        .await
        .unwrap();
    let customer = done.order.unwrap().customer.unwrap();
    assert_eq!(customer.email, "mei.park@example.com");
    assert_eq!(customer.id, "cust-1");

    let err = update(&app, "upd-lines", &order.id, line_edit(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("before stock is reserved"),
        "{}",
        err.message()
    );
    let address = OrderUpdate {
        shipping_address: Some(Address {
            recipient: "Mei Lin".into(),
            line1: "Karl-Marx-Allee 2".into(),
            city: "Berlin".into(),
            country_code: "DE".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = preview(&app, &order.id, address).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("fulfilment"), "{}", err.message());
    assert_eq!(app.order(&order.id).await.total, Some(eur(3399)));
}

#[tokio::test]
async fn an_address_change_before_stock_is_applied_and_a_bad_update_names_its_fields() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("upd-address")).await;
    let address = OrderUpdate {
        shipping_address: Some(Address {
            recipient: "Mei Lin".into(),
            line1: "Karl-Marx-Allee 2".into(),
            city: "Berlin".into(),
            postal_code: "10243".into(),
            country_code: "DE".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let done = update(&app, "upd-addr", &order.id, address, None)
        .await
        .unwrap();
    let o = done.order.unwrap();
    assert_eq!(o.shipping_address.unwrap().line1, "Karl-Marx-Allee 2");
    assert_eq!(o.total, Some(eur(3399)));

    let err = client(&app)
        .await
        .update_order(UpdateOrderRequest {
            request_id: String::new(),
            order_id: order.id.clone(),
            update: Some(OrderUpdate {
                line_changes: vec![LineChange {
                    line_id: "L9".into(),
                    quantity: 1,
                }],
                add_lines: vec![NewOrderLine {
                    sku: "bad sku".into(),
                    quantity: 0,
                    unit_price: Some(eur(100)),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            reason: String::new(),
            expected_version: None,
        })
        .await
        .unwrap_err();
    let f = fields(&err);
    for field in [
        "request_id",
        "reason",
        "update.add_lines[0].sku",
        "update.add_lines[0].quantity",
    ] {
        assert!(f.contains(&field.to_owned()), "{field} missing from {f:?}");
    }
    let err = preview(&app, &order.id, line_edit_unknown())
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["update.line_changes[0].line_id"]);
    let err = preview(&app, &order.id, OrderUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["update"]);
}

fn line_edit_unknown() -> OrderUpdate {
    OrderUpdate {
        line_changes: vec![LineChange {
            line_id: "L9".into(),
            quantity: 1,
        }],
        ..Default::default()
    }
}
