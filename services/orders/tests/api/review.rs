//! Review (step 9): the rules that hold an order, the queue, and the reviewers' decisions —
//! approve, reject, or no decision before the deadline.

use contracts::orders::{
    ApproveOrderRequest, HoldReasonKind, ListReviewQueueRequest, NewOrderLine, OrderApproved,
    OrderHeld, OrderRejected, OrderStatus, RejectOrderRequest, ReservationRequested,
};
use testkit::TestEnv;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, eur, money, valid_request};

async fn review_timers(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM oc_timers WHERE kind = 'orders.review_deadline' AND fired_at IS NULL",
    )
    .fetch_one(&app.orders.pool)
    .await
    .unwrap()
}

fn violations(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect()
}

/// 23 teapots at 450.00: 10,350.00, above the default hold total.
fn high_value(request_id: &str) -> contracts::orders::PlaceOrderRequest {
    let mut request = valid_request(request_id);
    request.lines = vec![NewOrderLine {
        sku: "POT-003".into(),
        quantity: 23,
        unit_price: Some(eur(45_000)),
        ..Default::default()
    }];
    request
}

#[tokio::test]
async fn a_risky_order_is_held_and_an_approval_sends_it_on_to_inventory() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("risky")).await;
    let mut held = app.env.tap("orders.order.held").await;
    app.assess_risk(&order, 85, &["high_velocity"]).await;

    let event: OrderHeld = held.next().await;
    assert_eq!(event.order_id, order.id);
    assert_eq!(event.risk_score, Some(85));
    assert_eq!(event.reasons.len(), 1);
    assert_eq!(event.reasons[0].kind(), HoldReasonKind::HighRiskScore);
    assert_eq!(event.reasons[0].code, "high_risk_score");
    assert!(event.review_deadline.is_some());
    assert_eq!(money(&event.total), money(&order.total));
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::OnHold);
    assert_eq!(got.risk_score, Some(85));
    assert_eq!(got.hold_reasons, event.reasons);
    assert_eq!(got.review_deadline, event.review_deadline);
    assert_eq!(
        app.outbox_count("orders.reservation.requested").await,
        0,
        "no stock while held"
    );
    assert_eq!(review_timers(&app).await, 1);

    let mut review = app.review_client().await;
    let queue = review
        .list_review_queue(ListReviewQueueRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(queue.orders.len(), 1);
    assert_eq!(queue.orders[0].id, order.id);
    assert_eq!(queue.orders[0].hold_reasons, event.reasons);
    let of_kind = |kind: HoldReasonKind| ListReviewQueueRequest {
        reason_kind: kind.into(),
        ..Default::default()
    };
    let risky = review
        .list_review_queue(of_kind(HoldReasonKind::HighRiskScore))
        .await
        .unwrap();
    assert_eq!(risky.into_inner().orders.len(), 1);
    let valuable = review
        .list_review_queue(of_kind(HoldReasonKind::HighValue))
        .await
        .unwrap();
    assert!(valuable.into_inner().orders.is_empty());

    let mut approved = app.env.tap("orders.order.approved").await;
    let mut reservations = app.env.tap("orders.reservation.requested").await;
    let got = review
        .approve_order(ApproveOrderRequest {
            order_id: order.id.clone(),
            reviewer_id: "rev-anna".into(),
            reason: "customer verified by phone".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(got.status(), OrderStatus::AwaitingStock);
    assert_eq!(got.reviewed_by, "rev-anna");
    assert_eq!(got.review_note, "customer verified by phone");
    let event: OrderApproved = approved.next().await;
    assert_eq!(event.reviewer_id, "rev-anna");
    assert_eq!(event.reason, "customer verified by phone");
    let requested: ReservationRequested = reservations.next().await;
    assert_eq!(requested.order_id, order.id);
    assert_eq!(review_timers(&app).await, 0, "the deadline is cancelled");
    let queue = review
        .list_review_queue(ListReviewQueueRequest::default())
        .await
        .unwrap();
    assert!(queue.into_inner().orders.is_empty());

    // Decided orders cannot be decided again.
    let again = review
        .reject_order(RejectOrderRequest {
            order_id: order.id.clone(),
            reviewer_id: "rev-anna".into(),
            reason: "second thoughts".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    // Approved, the saga goes on as any other order's.
    app.reserve_stock(&order).await;
    app.authorize(&order).await;
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Confirmed);
}

#[tokio::test]
async fn a_rejection_needs_a_reviewer_and_a_reason_and_ends_the_order() {
    let app = TestApp::start().await;
    let order = app.place(high_value("valuable")).await;
    app.assess_risk(&order, 10, &[]).await;
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::OnHold);
    assert_eq!(got.hold_reasons.len(), 1);
    assert_eq!(got.hold_reasons[0].kind(), HoldReasonKind::HighValue);
    assert_eq!(got.hold_reasons[0].code, "high_value");

    let mut review = app.review_client().await;
    let refused = review
        .reject_order(RejectOrderRequest {
            order_id: order.id.clone(),
            reviewer_id: " ".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields = violations(&refused);
    assert!(fields.contains(&"reviewer_id".to_owned()), "{fields:?}");
    assert!(fields.contains(&"reason".to_owned()), "{fields:?}");
    let refused = review
        .approve_order(ApproveOrderRequest {
            order_id: "not-an-id".into(),
            reviewer_id: "rev-anna".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields = violations(&refused);
    assert!(fields.contains(&"order_id".to_owned()), "{fields:?}");
    assert!(fields.contains(&"reason".to_owned()), "{fields:?}");
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::OnHold);

    let mut rejected = app.env.tap("orders.order.rejected").await;
    let got = review
        .reject_order(RejectOrderRequest {
            order_id: order.id.clone(),
            reviewer_id: "rev-bo".into(),
            reason: "reseller buying up stock".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(got.status(), OrderStatus::Rejected);
    assert_eq!(got.reviewed_by, "rev-bo");
    assert_eq!(got.review_note, "reseller buying up stock");
    assert!(got.cancelled_at.is_some());
    let event: OrderRejected = rejected.next().await;
    assert_eq!(event.order_id, order.id);
    assert_eq!(event.reviewer_id, "rev-bo");
    assert_eq!(event.reason, "reseller buying up stock");
    assert!(!event.by_deadline);
    assert_eq!(event.customer.as_ref().unwrap().id, "cust-1");
    assert_eq!(review_timers(&app).await, 0);
    assert_eq!(app.outbox_count("orders.reservation.requested").await, 0);

    let late = review
        .approve_order(ApproveOrderRequest {
            order_id: order.id.clone(),
            reviewer_id: "rev-anna".into(),
            reason: "looks fine".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);

    // An order that was never held cannot be approved.
    let plain = app.place(valid_request("plain")).await;
    app.assess_risk(&plain, 10, &[]).await;
    let refused = review
        .approve_order(ApproveOrderRequest {
            order_id: plain.id.clone(),
            reviewer_id: "rev-anna".into(),
            reason: "why not".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn every_review_rule_holds_the_order_with_its_named_reason() {
    let app = TestApp::start().await;
    let mut bulk = valid_request("bulk");
    bulk.lines[0].quantity = 50;
    let bulk = app.place(bulk).await;
    app.assess_risk(&bulk, 10, &[]).await;
    let blocked = app.place(valid_request("blocked")).await;
    app.assess_risk(&blocked, 20, &["blocklisted_email", "new_customer"])
        .await;
    let valuable = app.place(high_value("valuable")).await;
    app.assess_risk(&valuable, 10, &[]).await;
    let fine = app.place(valid_request("fine")).await;
    app.assess_risk(&fine, 69, &[]).await;

    let codes = |order: &contracts::orders::Order| -> Vec<String> {
        order.hold_reasons.iter().map(|r| r.code.clone()).collect()
    };
    assert_eq!(codes(&app.order(&bulk.id).await), ["unusual_quantity"]);
    assert_eq!(codes(&app.order(&blocked.id).await), ["blocklisted_email"]);
    assert_eq!(codes(&app.order(&valuable.id).await), ["high_value"]);
    let fine = app.order(&fine.id).await;
    assert_eq!(
        fine.status(),
        OrderStatus::AwaitingStock,
        "a score below 70 is not held"
    );
    assert!(fine.hold_reasons.is_empty());

    let mut review = app.review_client().await;
    let rules = review
        .list_review_queue(ListReviewQueueRequest {
            reason_kind: HoldReasonKind::Rule.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut ids: Vec<String> = rules.orders.iter().map(|o| o.id.clone()).collect();
    ids.sort();
    let mut expected = vec![bulk.id.clone(), blocked.id.clone()];
    expected.sort();
    assert_eq!(ids, expected);

    // Paged one at a time, the queue holds all three.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = review
            .list_review_queue(ListReviewQueueRequest {
                page_size: 1,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.orders.len() <= 1);
        seen.extend(page.orders.into_iter().map(|o| o.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    seen.sort();
    let mut all = vec![bulk.id, blocked.id, valuable.id];
    all.sort();
    assert_eq!(seen, all);
}

#[tokio::test]
async fn a_hold_not_decided_before_its_deadline_is_rejected() {
    // A day passes in about a second.
    let env = TestEnv::with(|s| s.clock = runtime::Clock::scaled(86_400.0)).await;
    let app = TestApp::start_in(env).await;
    let order = app.place(high_value("slow-review")).await;
    let mut rejected = app.env.tap("orders.order.rejected").await;
    app.assess_risk(&order, 10, &[]).await;

    let event: OrderRejected = rejected.next().await;
    assert_eq!(event.order_id, order.id);
    assert!(event.by_deadline);
    assert!(event.reviewer_id.is_empty());
    assert_eq!(event.reason, "no review decision before the deadline");
    let got = app.wait_for_status(&order.id, OrderStatus::Rejected).await;
    assert!(got.reviewed_by.is_empty());
    assert_eq!(app.outbox_count("orders.reservation.requested").await, 0);

    // A reviewer who comes too late is told so.
    let late = app
        .review_client()
        .await
        .approve_order(ApproveOrderRequest {
            order_id: order.id.clone(),
            reviewer_id: "rev-anna".into(),
            reason: "looks fine".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
}
