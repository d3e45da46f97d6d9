//! Returns (RMAs): policy decisions, the return shipment, receipt and inspection played as
//! fulfillment, then restock, refund or exchange — the order's own status never changes.

use contracts::common::{Allocation, ReturnReason};
use contracts::fulfillment::{InspectedLine, InspectionGrade, ReturnInspected, ReturnReceived};
use contracts::inventory::{Item, ItemUpserted, StockReserved};
use contracts::orders::return_service_client::ReturnServiceClient;
use contracts::orders::{
    ApproveReturnRequest, ExchangeLine, FulfillmentRequested, GetOrderTimelineRequest,
    GetReturnRequest, ListReturnsRequest, NewOrderLine, NewReturnLine, OrderReturnStatus,
    OrderStatus, PaymentRefundRequested, RefundReason, RejectReturnRequest, RequestReturnRequest,
    ReservationConfirmRequested, ReservationRequested, RestockRequested, Return, ReturnClosed,
    ReturnOutcome, ReturnRejected, ReturnResolution, ReturnShipmentRequested, ReturnStatus,
};
use contracts::payments::PaymentCaptured;
use prost::Message;
use testkit::TestEnv;
use tonic::Code;
use tonic::transport::Channel as GrpcChannel;
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, WAREHOUSE, eur, payment_id, valid_request};

pub(crate) async fn client(app: &TestApp) -> ReturnServiceClient<GrpcChannel> {
    ReturnServiceClient::new(app.orders.channel().await)
}

/// Every event orders wrote to its outbox on `subject`, in order.
async fn events<E: Message + Default>(app: &TestApp, subject: &str) -> Vec<E> {
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

fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect()
}

pub(crate) fn line(line_id: &str, quantity: i32, reason: ReturnReason) -> NewReturnLine {
    NewReturnLine {
        line_id: line_id.into(),
        quantity,
        reason: reason.into(),
        note: String::new(),
    }
}

pub(crate) fn refund(
    request_id: &str,
    order_id: &str,
    lines: Vec<NewReturnLine>,
) -> RequestReturnRequest {
    RequestReturnRequest {
        request_id: request_id.into(),
        order_id: order_id.into(),
        lines,
        resolution: ReturnResolution::Refund.into(),
        ..Default::default()
    }
}

pub(crate) async fn request(app: &TestApp, r: RequestReturnRequest) -> Return {
    client(app)
        .await
        .request_return(r)
        .await
        .unwrap()
        .into_inner()
        .rma
        .unwrap()
}

async fn get(app: &TestApp, id: &str) -> Return {
    client(app)
        .await
        .get_return(GetReturnRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner()
        .rma
        .unwrap()
}

/// Payments captured the whole order (as it would have at hand-over).
pub(crate) async fn captured(app: &TestApp, order: &contracts::orders::Order) {
    let event = PaymentCaptured {
        payment_id: payment_id(order),
        order_id: order.id.clone(),
        amount: order.total.clone(),
        captured_total: order.total.clone(),
        ..Default::default()
    };
    app.publish("payments", &event).await;
}

pub(crate) fn received(rma: &Return) -> ReturnReceived {
    ReturnReceived {
        return_id: rma.id.clone(),
        order_id: rma.order_id.clone(),
        warehouse_id: WAREHOUSE.into(),
        tracking_number: "RTRK-1".into(),
        received_by: "clerk-ann".into(),
        received_at: None,
    }
}

pub(crate) fn inspected(
    rma: &Return,
    lines: &[(&str, &str, i32, InspectionGrade)],
) -> ReturnInspected {
    ReturnInspected {
        return_id: rma.id.clone(),
        order_id: rma.order_id.clone(),
        warehouse_id: WAREHOUSE.into(),
        lines: lines
            .iter()
            .map(|(line_id, sku, quantity, grade)| InspectedLine {
                line_id: (*line_id).into(),
                sku: (*sku).into(),
                quantity: *quantity,
                grade: (*grade).into(),
                note: String::new(),
            })
            .collect(),
        inspected_by: "inspector-bo".into(),
        note: "graded".into(),
        inspected_at: None,
    }
}

#[tokio::test]
async fn an_approved_return_is_shipped_back_inspected_restocked_refunded_and_closed() {
    let env = TestEnv::with(|s| {
        s.overrides
            .insert("OC_ORDERS_RETURN_RESTOCKING_FEE_BPS".into(), "1000".into());
    })
    .await;
    let app = TestApp::start_in(env).await;
    // L1: 2 × TEA-001 at 12.50, L2: 1 × CUP-002 at 8.99; 33.99 in all, captured at hand-over.
    let order = app.delivered(valid_request("ret-full")).await;
    captured(&app, &order).await;

    let ask = refund(
        "rma-full",
        &order.id,
        vec![
            line("L1", 2, ReturnReason::NoLongerNeeded),
            line("L2", 1, ReturnReason::Defective),
        ],
    );
    let rma = request(&app, ask.clone()).await;
    assert_eq!(rma.status(), ReturnStatus::Approved, "{rma:?}");
    assert!(rma.rma_number.starts_with("RMA-"), "{}", rma.rma_number);
    assert_eq!(rma.decided_by, "return-policy");
    assert_eq!(rma.decision_reason, "within the return policy");
    assert_eq!(rma.return_warehouse_id, WAREHOUSE);
    // The same request again is the same RMA.
    let again = request(&app, ask).await;
    assert_eq!(again.id, rma.id);

    let shipments: Vec<ReturnShipmentRequested> =
        events(&app, "orders.return_shipment.requested").await;
    assert_eq!(shipments.len(), 1);
    assert_eq!(shipments[0].return_id, rma.id);
    assert_eq!(shipments[0].return_warehouse_id, WAREHOUSE);
    assert_eq!(shipments[0].lines.len(), 2);
    assert!(shipments[0].pickup_address.is_some());
    let o = app.order(&order.id).await;
    assert_eq!(
        o.status(),
        OrderStatus::Delivered,
        "a return leaves the order's status"
    );
    assert_eq!(o.return_status(), OrderReturnStatus::InProgress);

    // Fulfillment: the parcel arrives (reported twice), then is graded (reported twice).
    app.publish("fulfillment", &received(&rma)).await;
    app.publish("fulfillment", &received(&rma)).await;
    assert_eq!(get(&app, &rma.id).await.status(), ReturnStatus::Received);
    let grading = inspected(
        &rma,
        &[
            ("L1", "TEA-001", 2, InspectionGrade::Resellable),
            ("L2", "CUP-002", 1, InspectionGrade::Defective),
        ],
    );
    app.publish("fulfillment", &grading).await;
    app.publish("fulfillment", &grading).await;

    let restocks: Vec<RestockRequested> = events(&app, "orders.restock.requested").await;
    assert_eq!(restocks.len(), 1, "restocked once");
    assert_eq!(restocks[0].return_id, rma.id);
    assert_eq!(restocks[0].warehouse_id, WAREHOUSE);
    assert_eq!(restocks[0].lines.len(), 1, "only resellable units");
    assert_eq!(
        (
            restocks[0].lines[0].sku.as_str(),
            restocks[0].lines[0].quantity
        ),
        ("TEA-001", 2)
    );
    // 2 × 1250 less a 10 % restocking fee (changed mind) + 899 in full (defective).
    let refunds: Vec<PaymentRefundRequested> =
        events(&app, "orders.payment.refund_requested").await;
    assert_eq!(refunds.len(), 1, "refunded once");
    assert_eq!(refunds[0].amount, Some(eur(2500 - 250 + 899)));
    assert_eq!(refunds[0].return_id, rma.id);
    assert_eq!(refunds[0].reason(), RefundReason::Return);
    assert_eq!(refunds[0].payment_id, payment_id(&order));
    let closed: Vec<ReturnClosed> = events(&app, "orders.return.closed").await;
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].outcome(), ReturnOutcome::Refunded);
    assert_eq!(closed[0].refund_total, Some(eur(3149)));

    let done = get(&app, &rma.rma_number).await;
    assert_eq!(done.status(), ReturnStatus::Closed);
    assert_eq!(done.outcome(), ReturnOutcome::Refunded);
    assert_eq!(done.refund_total, Some(eur(3149)));
    assert_eq!(done.lines[0].refund_amount, Some(eur(2250)));
    assert_eq!(done.lines[0].resellable_quantity, 2);
    assert_eq!(done.lines[1].received_quantity, 1);
    assert_eq!(done.lines[1].resellable_quantity, 0);
    assert_eq!(done.lines[1].refund_amount, Some(eur(899)));

    let o = app.order(&order.id).await;
    assert_eq!(o.status(), OrderStatus::Delivered);
    assert_eq!(o.return_status(), OrderReturnStatus::Returned);
    assert_eq!(o.lines[0].returned_quantity, 2);
    assert_eq!(o.lines[1].returned_quantity, 1);

    // Every step is on the order's timeline, with who and why.
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
    let entry = |kind: &str| {
        timeline
            .iter()
            .find(|e| e.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} on the timeline: {timeline:#?}"))
    };
    let approved = entry("orders.return.approved");
    assert_eq!(approved.actor_id, "return-policy");
    assert_eq!(approved.reason, "within the return policy");
    assert_eq!(
        entry("fulfillment.return.inspected").actor_id,
        "inspector-bo"
    );
    entry("orders.return.requested");
    entry("orders.restock.requested");
    entry("orders.payment.refund_requested");
    entry("orders.return.closed");
    let returns = client(&app)
        .await
        .list_returns(ListReturnsRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .returns;
    assert_eq!(returns.len(), 1);
}

#[tokio::test]
async fn a_return_outside_the_window_is_rejected_with_the_reason() {
    let env = TestEnv::with(|s| {
        s.overrides
            .insert("OC_ORDERS_RETURN_WINDOW_DAYS".into(), "0".into());
    })
    .await;
    let app = TestApp::start_in(env).await;
    let order = app.delivered(valid_request("ret-late")).await;
    let rma = request(
        &app,
        refund(
            "rma-late",
            &order.id,
            vec![line("L2", 1, ReturnReason::Defective)],
        ),
    )
    .await;
    assert_eq!(rma.status(), ReturnStatus::Rejected);
    assert_eq!(rma.decided_by, "return-policy");
    assert!(
        rma.decision_reason.contains("outside the") && rma.decision_reason.contains("window"),
        "{}",
        rma.decision_reason
    );
    let rejected: Vec<ReturnRejected> = events(&app, "orders.return.rejected").await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].reason, rma.decision_reason);
    assert_eq!(
        app.outbox_count("orders.return_shipment.requested").await,
        0
    );
    let o = app.order(&order.id).await;
    assert_eq!(o.return_status(), OrderReturnStatus::Rejected);
    assert_eq!(o.status(), OrderStatus::Delivered);
}

#[tokio::test]
async fn a_non_returnable_item_is_refused_with_a_field_violation() {
    let app = TestApp::start().await;
    let gift = ItemUpserted {
        sku: "GIFT-100".into(),
        item: Some(Item {
            sku: "GIFT-100".into(),
            name: "Gift card".into(),
            unit_price: Some(eur(5000)),
            active: Some(true),
            returnable: Some(false),
            category: "gift-cards".into(),
            ..Default::default()
        }),
        created: true,
        upserted_at: None,
    };
    app.publish("inventory", &gift).await;
    let mut place = valid_request("ret-gift");
    place.lines.push(NewOrderLine {
        sku: "GIFT-100".into(),
        quantity: 1,
        unit_price: Some(eur(5000)),
        ..Default::default()
    });
    let order = app.delivered(place).await;
    let err = client(&app)
        .await
        .request_return(refund(
            "rma-gift",
            &order.id,
            vec![
                line("L1", 1, ReturnReason::WrongSize),
                line("L3", 1, ReturnReason::NoLongerNeeded),
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), vec!["lines[1].line_id"]);
    assert_eq!(app.outbox_count("orders.return.requested").await, 0);
}

#[tokio::test]
async fn a_return_beyond_policy_waits_for_a_person() {
    let env = TestEnv::with(|s| {
        s.overrides.insert(
            "OC_ORDERS_RETURN_AUTO_APPROVE_MAX_MINOR".into(),
            "1000".into(),
        );
    })
    .await;
    let app = TestApp::start_in(env).await;
    let order = app.delivered(valid_request("ret-manual")).await;
    let rma = request(
        &app,
        refund(
            "rma-manual",
            &order.id,
            vec![line("L1", 2, ReturnReason::NotAsDescribed)],
        ),
    )
    .await;
    assert_eq!(rma.status(), ReturnStatus::Requested);
    assert_eq!(
        app.outbox_count("orders.return_shipment.requested").await,
        0
    );
    assert_eq!(
        app.order(&order.id).await.return_status(),
        OrderReturnStatus::Requested
    );

    // Fulfillment facts for an undecided RMA change nothing.
    app.publish("fulfillment", &received(&rma)).await;
    assert_eq!(get(&app, &rma.id).await.status(), ReturnStatus::Requested);

    let approve = ApproveReturnRequest {
        return_id: rma.id.clone(),
        reviewer_id: "op-lee".into(),
        reason: "photos show the mismatch".into(),
        return_warehouse_id: "wh-hamburg".into(),
    };
    let approved = client(&app)
        .await
        .approve_return(approve.clone())
        .await
        .unwrap()
        .into_inner()
        .rma
        .unwrap();
    assert_eq!(approved.status(), ReturnStatus::Approved);
    assert_eq!(approved.decided_by, "op-lee");
    assert_eq!(approved.decision_reason, "photos show the mismatch");
    assert_eq!(approved.return_warehouse_id, "wh-hamburg");
    // Idempotent by state.
    client(&app).await.approve_return(approve).await.unwrap();
    assert_eq!(
        app.outbox_count("orders.return_shipment.requested").await,
        1
    );
    let err = client(&app)
        .await
        .reject_return(RejectReturnRequest {
            return_id: rma.id.clone(),
            reviewer_id: "op-lee".into(),
            reason: "changed my mind".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    // A reason the policy leaves to a person, rejected by one.
    let other = request(
        &app,
        refund(
            "rma-other",
            &order.id,
            vec![line("L2", 1, ReturnReason::Other)],
        ),
    )
    .await;
    assert_eq!(other.status(), ReturnStatus::Requested);
    let err = client(&app)
        .await
        .reject_return(RejectReturnRequest {
            return_id: other.id.clone(),
            reviewer_id: "op-lee".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["reason"]);
    let rejected = client(&app)
        .await
        .reject_return(RejectReturnRequest {
            return_id: other.id.clone(),
            reviewer_id: "op-lee".into(),
            reason: "used item".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .rma
        .unwrap();
    assert_eq!(rejected.status(), ReturnStatus::Rejected);
    assert_eq!(rejected.decided_by, "op-lee");
    let o = app.order(&order.id).await;
    assert_eq!(o.return_status(), OrderReturnStatus::InProgress);
    assert_eq!(o.status(), OrderStatus::Delivered);
}

#[tokio::test]
async fn an_exchange_ships_the_replacement_through_a_new_reservation() {
    let app = TestApp::start().await;
    let order = app.delivered(valid_request("ret-swap")).await;
    captured(&app, &order).await;
    let rma = request(
        &app,
        RequestReturnRequest {
            request_id: "rma-swap".into(),
            order_id: order.id.clone(),
            lines: vec![line("L2", 1, ReturnReason::WrongSize)],
            resolution: ReturnResolution::Exchange.into(),
            exchange_lines: vec![ExchangeLine {
                line_id: "L2".into(),
                sku: "TEA-001".into(),
                quantity: 1,
            }],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(rma.status(), ReturnStatus::Approved);
    app.publish("fulfillment", &received(&rma)).await;
    app.publish(
        "fulfillment",
        &inspected(&rma, &[("L2", "CUP-002", 1, InspectionGrade::Resellable)]),
    )
    .await;
    assert_eq!(app.outbox_count("orders.restock.requested").await, 1);
    let reservations: Vec<ReservationRequested> =
        events(&app, "orders.reservation.requested").await;
    assert_eq!(reservations.len(), 2, "the order's, then the replacement's");
    let swap = &reservations[1];
    assert_eq!(swap.order_id, order.id);
    assert_ne!(swap.reservation_id, app.reservation_id(&order.id).await);
    assert_eq!(swap.lines.len(), 1);
    assert_eq!(
        (swap.lines[0].sku.as_str(), swap.lines[0].quantity),
        ("TEA-001", 1)
    );
    assert_eq!(get(&app, &rma.id).await.status(), ReturnStatus::Inspected);

    let reserved = StockReserved {
        reservation_id: swap.reservation_id.clone(),
        order_id: order.id.clone(),
        allocations: vec![Allocation {
            line_id: "L2".into(),
            sku: "TEA-001".into(),
            warehouse_id: WAREHOUSE.into(),
            quantity: 1,
            bins: Vec::new(),
        }],
        expires_at: None,
        reserved_at: None,
    };
    app.publish("inventory", &reserved).await;
    app.publish("inventory", &reserved.clone()).await;

    let fulfilments: Vec<FulfillmentRequested> = events(&app, "orders.fulfillment.requested").await;
    let replacement: Vec<_> = fulfilments
        .iter()
        .filter(|f| !f.exchange_return_id.is_empty())
        .collect();
    assert_eq!(replacement.len(), 1);
    let f = replacement[0];
    assert_eq!(f.exchange_return_id, rma.id);
    assert_eq!(f.reservation_id, swap.reservation_id);
    assert!(!f.collect_cash_on_delivery);
    assert_eq!(f.allocations.len(), 1);
    assert_eq!(f.lines.len(), 1);
    assert_eq!(f.lines[0].sku, "TEA-001");
    assert_eq!(f.lines[0].unit_price, Some(eur(0)));
    let confirms: Vec<ReservationConfirmRequested> =
        events(&app, "orders.reservation.confirm_requested").await;
    assert!(
        confirms
            .iter()
            .any(|c| c.reservation_id == swap.reservation_id)
    );
    assert_eq!(app.outbox_count("orders.payment.refund_requested").await, 0);
    let closed = get(&app, &rma.id).await;
    assert_eq!(closed.status(), ReturnStatus::Closed);
    assert_eq!(closed.outcome(), ReturnOutcome::Exchanged);
    let o = app.order(&order.id).await;
    assert_eq!(o.return_status(), OrderReturnStatus::Exchanged);
    assert_eq!(o.status(), OrderStatus::Delivered);
}

#[tokio::test]
async fn quantities_orders_and_request_ids_are_checked() {
    let app = TestApp::start().await;
    let confirmed = app.confirmed(valid_request("ret-early")).await;
    let err = client(&app)
        .await
        .request_return(refund(
            "rma-early",
            &confirmed.id,
            vec![line("L1", 1, ReturnReason::Defective)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");

    let order = app.delivered(valid_request("ret-qty")).await;
    let err = client(&app)
        .await
        .request_return(refund(
            "rma-qty",
            &order.id,
            vec![
                line("L1", 3, ReturnReason::Defective),
                line("L9", 1, ReturnReason::Defective),
                line("L2", 1, ReturnReason::Unspecified),
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&err),
        vec!["lines[0].quantity", "lines[1].line_id", "lines[2].reason"]
    );

    let first = request(
        &app,
        refund(
            "rma-qty",
            &order.id,
            vec![line("L1", 2, ReturnReason::Defective)],
        ),
    )
    .await;
    assert_eq!(first.status(), ReturnStatus::Approved);
    // Those units are claimed: no second return of them.
    let err = client(&app)
        .await
        .request_return(refund(
            "rma-qty-2",
            &order.id,
            vec![line("L1", 1, ReturnReason::Defective)],
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["lines[0].quantity"]);
    // The same request_id for another request.
    let err = client(&app)
        .await
        .request_return(refund(
            "rma-qty",
            &order.id,
            vec![line("L2", 1, ReturnReason::Defective)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(app.outbox_count("orders.return.requested").await, 1);
}
