//! Step 5: the customer confirms receipt, or the window passes and the order is accepted on its
//! own; or a problem is reported, the order is disputed until feedback resolves the case.

use contracts::common::{CaseResolution, ProblemKind};
use contracts::feedback::{CaseLine, CaseResolved};
use contracts::orders::{
    ActorType, ConfirmReceiptRequest, GetOrderTimelineRequest, Order, OrderAccepted,
    OrderCompleted, OrderProblemReported, OrderStatus, PaymentRefundRequested, ProblemLine,
    RefundReason, ReportProblemRequest, ReportProblemResponse,
};
use testkit::TestEnv;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, eur, money, payment_id, valid_request};

async fn confirm_receipt(app: &TestApp, order: &Order) -> Result<Order, tonic::Status> {
    app.client()
        .await
        .confirm_receipt(ConfirmReceiptRequest {
            order_id: order.id.clone(),
        })
        .await
        .map(|r| r.into_inner().order.unwrap())
}

fn damaged_tea(request_id: &str, order: &Order) -> ReportProblemRequest {
    ReportProblemRequest {
        request_id: request_id.into(),
        order_id: order.id.clone(),
        kind: ProblemKind::DamagedItem.into(),
        description: "one tin arrived crushed".into(),
        lines: vec![ProblemLine {
            line_id: "L1".into(),
            sku: String::new(),
            quantity: 1,
        }],
        attachment_urls: vec!["https://photos.example.com/crushed.jpg".into()],
    }
}

async fn report(
    app: &TestApp,
    request: ReportProblemRequest,
) -> Result<ReportProblemResponse, tonic::Status> {
    app.client()
        .await
        .report_problem(request)
        .await
        .map(tonic::Response::into_inner)
}

fn case_resolved(order: &Order, problem_id: &str, resolution: CaseResolution) -> CaseResolved {
    CaseResolved {
        case_id: "case-1".into(),
        case_number: "CS-000001".into(),
        order_id: order.id.clone(),
        problem_id: problem_id.into(),
        resolution: resolution.into(),
        resolved_by: "agent-kim".into(),
        ..Default::default()
    }
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

async fn auto_accept_timers(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM oc_timers WHERE kind = 'orders.auto_accept' AND fired_at IS NULL",
    )
    .fetch_one(&app.orders.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn receipt_confirmed_before_settlement_accepts_and_settlement_then_completes() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("receipt")).await;
    let early = confirm_receipt(&app, &order).await.unwrap_err();
    assert_eq!(
        early.code(),
        Code::FailedPrecondition,
        "nothing delivered yet"
    );

    app.fulfillment_created(&order).await;
    app.hand_over(&order, "shipment-1", &[]).await;
    app.deliver(&order, "shipment-1", None).await;
    assert_eq!(auto_accept_timers(&app).await, 1);

    let mut accepted = app.env.tap("orders.order.accepted").await;
    let got = confirm_receipt(&app, &order).await.unwrap();
    assert_eq!(got.status(), OrderStatus::Accepted);
    assert!(got.accepted_at.is_some());
    let event: OrderAccepted = accepted.next().await;
    assert!(!event.auto_accepted);
    assert_eq!(
        auto_accept_timers(&app).await,
        0,
        "the window no longer matters"
    );
    assert_eq!(app.outbox_count("orders.order.completed").await, 0);

    // Confirming twice is harmless.
    assert_eq!(
        confirm_receipt(&app, &order).await.unwrap().status(),
        OrderStatus::Accepted
    );
    assert_eq!(app.outbox_count("orders.order.accepted").await, 1);

    let mut completed = app.env.tap("orders.order.completed").await;
    app.settle(&order).await;
    let event: OrderCompleted = completed.next().await;
    assert_eq!(event.order_id, order.id);
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Completed);
    assert!(got.completed_at.is_some());
}

#[tokio::test]
async fn a_delivered_order_is_accepted_automatically_when_its_window_passes() {
    // A day passes in about a second: the 7-day window in about seven.
    let env = TestEnv::with(|s| s.clock = runtime::Clock::scaled(86_400.0)).await;
    let app = TestApp::start_in(env).await;
    let order = app.confirmed(valid_request("auto")).await;
    app.settle(&order).await;
    app.fulfillment_created(&order).await;
    app.hand_over(&order, "shipment-1", &[]).await;
    let mut accepted = app.env.tap("orders.order.accepted").await;
    let mut completed = app.env.tap("orders.order.completed").await;
    app.deliver(&order, "shipment-1", None).await;

    let event: OrderAccepted = accepted.next().await;
    assert_eq!(event.order_id, order.id);
    assert!(event.auto_accepted);
    let event: OrderCompleted = completed.next().await;
    assert_eq!(event.order_id, order.id);
    let got = app.wait_for_status(&order.id, OrderStatus::Completed).await;
    assert!(
        got.accepted_at.unwrap().seconds >= got.accept_by.unwrap().seconds,
        "accepted at the end of the window"
    );

    // The timeline says the system did it, and why.
    let timeline = app
        .client()
        .await
        .get_order_timeline(GetOrderTimelineRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // Already settled, the order is accepted and completed in one step.
    let acceptance = timeline
        .entries
        .iter()
        .find(|e| e.kind == "status.changed" && e.status_before() == OrderStatus::Delivered)
        .expect("a status change from DELIVERED");
    assert_eq!(acceptance.status_after(), OrderStatus::Completed);
    assert_eq!(acceptance.actor_type(), ActorType::System);
    assert!(acceptance.actor_id.is_empty(), "{:?}", acceptance.actor_id);
    assert_eq!(acceptance.reason, "acceptance window passed");
}

#[tokio::test]
async fn a_problem_report_names_every_bad_field() {
    let app = TestApp::start().await;
    let order = app.delivered(valid_request("bad-report")).await;

    let status = report(
        &app,
        ReportProblemRequest {
            request_id: String::new(),
            order_id: order.id.clone(),
            kind: ProblemKind::Unspecified.into(),
            description: "   ".into(),
            lines: vec![
                ProblemLine {
                    line_id: "L9".into(),
                    sku: String::new(),
                    quantity: 1,
                },
                ProblemLine {
                    line_id: "L1".into(),
                    sku: String::new(),
                    quantity: 3,
                },
                ProblemLine {
                    line_id: "L2".into(),
                    sku: String::new(),
                    quantity: 0,
                },
            ],
            attachment_urls: vec!["ftp://photos.example.com/x.jpg".into()],
        },
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = fields(&status);
    for expected in [
        "request_id",
        "kind",
        "description",
        "lines[0].line_id",
        "lines[1].quantity",
        "lines[2].quantity",
        "attachment_urls[0]",
    ] {
        assert!(
            fields.contains(&expected.to_owned()),
            "{expected} missing from {fields:?}"
        );
    }
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Delivered);
    let problems: i64 = sqlx::query_scalar("SELECT count(*) FROM order_problems")
        .fetch_one(&app.orders.pool)
        .await
        .unwrap();
    assert_eq!(problems, 0);
}

#[tokio::test]
async fn a_problem_can_only_be_reported_on_a_delivered_order() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("early-report")).await;
    let status = report(&app, damaged_tea("prob-early", &order))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Confirmed);
}

#[tokio::test]
async fn reporting_a_problem_twice_with_one_request_id_opens_one_dispute() {
    let app = TestApp::start().await;
    let order = app.delivered(valid_request("report")).await;
    let mut reported = app.env.tap("orders.order.problem_reported").await;

    let first = report(&app, damaged_tea("prob-1", &order)).await.unwrap();
    let order_after = first.order.unwrap();
    assert_eq!(order_after.status(), OrderStatus::Disputed);
    let problem = first.problem.unwrap();
    assert_eq!(problem.kind(), ProblemKind::DamagedItem);
    assert_eq!(problem.lines.len(), 1);
    assert_eq!(problem.lines[0].sku, "TEA-001", "filled in from the line");
    assert_eq!(order_after.problems, std::slice::from_ref(&problem));
    assert_eq!(
        auto_accept_timers(&app).await,
        0,
        "no auto-accept while disputed"
    );

    let event: OrderProblemReported = reported.next().await;
    assert_eq!(event.order_id, order.id);
    assert_eq!(event.problem_id, problem.id);
    assert_eq!(event.kind(), ProblemKind::DamagedItem);
    assert_eq!(event.description, "one tin arrived crushed");
    assert_eq!(event.lines, problem.lines);
    assert_eq!(
        event.attachment_urls,
        ["https://photos.example.com/crushed.jpg"]
    );
    assert_eq!(money(&event.order_total), money(&order.total));

    let second = report(&app, damaged_tea("prob-1", &order)).await.unwrap();
    assert_eq!(second.problem.unwrap().id, problem.id);
    assert_eq!(second.order.unwrap().status(), OrderStatus::Disputed);
    assert_eq!(app.outbox_count("orders.order.problem_reported").await, 1);
    let problems: i64 = sqlx::query_scalar("SELECT count(*) FROM order_problems")
        .fetch_one(&app.orders.pool)
        .await
        .unwrap();
    assert_eq!(problems, 1);

    // Another report while disputed is refused.
    let status = report(&app, damaged_tea("prob-2", &order))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn a_dispute_resolved_by_a_refund_refunds_the_problem_lines_and_completes_the_order() {
    let app = TestApp::start().await;
    let order = app.delivered(valid_request("refund")).await;
    let problem = report(&app, damaged_tea("prob-refund", &order))
        .await
        .unwrap()
        .problem
        .unwrap();
    app.settle(&order).await;
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Disputed);

    let mut refunds = app.env.tap("orders.payment.refund_requested").await;
    let mut completed = app.env.tap("orders.order.completed").await;
    app.publish(
        "feedback",
        &case_resolved(&order, &problem.id, CaseResolution::Refund),
    )
    .await;

    let refund: PaymentRefundRequested = refunds.next().await;
    assert_eq!(refund.order_id, order.id);
    assert_eq!(refund.payment_id, payment_id(&order));
    assert_eq!(
        money(&refund.amount),
        ("EUR".into(), 1250),
        "one tin of tea"
    );
    assert_eq!(refund.reason(), RefundReason::CaseResolution);
    assert_eq!(refund.case_id, "case-1");
    let event: OrderCompleted = completed.next().await;
    assert_eq!(event.order_id, order.id);

    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Completed);
    assert_eq!(got.problems.len(), 1);
    assert_eq!(got.problems[0].case_id, "case-1");
    assert_eq!(got.problems[0].resolution(), CaseResolution::Refund);
    assert!(got.problems[0].resolved_at.is_some());

    // Feedback's own amount wins over the lines' value.
    let other = app.delivered(valid_request("refund-amount")).await;
    let problem = report(&app, damaged_tea("prob-amount", &other))
        .await
        .unwrap()
        .problem
        .unwrap();
    let mut resolved = case_resolved(&other, &problem.id, CaseResolution::Refund);
    resolved.case_id = "case-2".into();
    resolved.refund_amount = Some(eur(500));
    resolved.lines = vec![CaseLine {
        line_id: "L1".into(),
        sku: "TEA-001".into(),
        quantity: 1,
    }];
    app.publish("feedback", &resolved).await;
    let refund: PaymentRefundRequested = refunds.next().await;
    assert_eq!(refund.order_id, other.id);
    assert_eq!(money(&refund.amount), ("EUR".into(), 500));
    assert_eq!(
        app.order(&other.id).await.status(),
        OrderStatus::Accepted,
        "not settled yet"
    );
}

#[tokio::test]
async fn a_dispute_resolved_with_nothing_to_do_returns_the_order_to_accepted() {
    let app = TestApp::start().await;
    let order = app.delivered(valid_request("none")).await;
    assert_eq!(
        confirm_receipt(&app, &order).await.unwrap().status(),
        OrderStatus::Accepted
    );

    // A problem may still be reported after acceptance.
    let problem = report(
        &app,
        ReportProblemRequest {
            kind: ProblemKind::WrongItem.into(),
            description: "a blue cup instead of a green one".into(),
            lines: vec![ProblemLine {
                line_id: "L2".into(),
                sku: String::new(),
                quantity: 1,
            }],
            attachment_urls: Vec::new(),
            ..damaged_tea("prob-none", &order)
        },
    )
    .await
    .unwrap()
    .problem
    .unwrap();
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Disputed);

    app.publish(
        "feedback",
        &case_resolved(&order, &problem.id, CaseResolution::None),
    )
    .await;
    let got = app.order(&order.id).await;
    assert_eq!(got.status(), OrderStatus::Accepted);
    assert_eq!(got.problems[0].resolution(), CaseResolution::None);
    assert_eq!(app.outbox_count("orders.payment.refund_requested").await, 0);
    assert_eq!(
        app.outbox_count("orders.fulfillment.requested").await,
        1,
        "no reship"
    );

    app.settle(&order).await;
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Completed);
    assert_eq!(app.outbox_count("orders.order.completed").await, 1);
}
