//! The rest of the order cycle's paths, each through every real service: store pickup, cash on
//! delivery collected at the door, installments, a split shipment from two warehouses, a failed
//! delivery attempt, a problem report settled by a support case, a return refunded, and the
//! survey and review after delivery. Each test asserts what every service involved holds at
//! the end, not only the order's status.

use std::collections::{BTreeMap, BTreeSet};

use contracts::common::{
    CaseResolution, FulfillmentMode, PaymentMethod, ProblemKind, ReturnReason,
};
use contracts::feedback::feedback_service_client::FeedbackServiceClient;
use contracts::feedback::{
    CaseLine, CaseStatus, GetSurveyRequest, ListCasesRequest, ListReviewsRequest,
    ModerateReviewRequest, ModerationDecision, ResolveCaseRequest, ReviewStatus,
    SubmitReviewRequest, SubmitSurveyRequest, SupportCase, Survey, SurveyStatus,
};
use contracts::fulfillment::fulfillment_service_client::FulfillmentServiceClient;
use contracts::fulfillment::{
    ConfirmPickRequest, ConfirmPickupRequest, FulfillmentStatus, InspectionGrade,
    MarkReadyForPickupRequest, PickedLine,
};
use contracts::notifications::NotificationStatus;
use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::return_service_client::ReturnServiceClient;
use contracts::orders::{
    ApproveReturnRequest, ConfirmReceiptRequest, GetReturnRequest, NewReturnLine, Order,
    OrderReturnStatus, OrderStatus, ProblemLine, ReportProblemRequest, RequestReturnRequest,
    Return, ReturnOutcome, ReturnResolution, ReturnStatus,
};
use contracts::payments::payment_service_client::PaymentServiceClient;
use contracts::payments::{
    GetInstallmentPlanRequest, InstallmentPlanStatus, InstallmentStatus, Payment, PaymentStatus,
    TransactionKind, TransactionStatus,
};
use contracts::shipping::TrackingStatus;

use crate::after_sales::{receive_and_inspect, rma_in};
use crate::cycle::{
    BERLIN, PRICE, available, available_in, eur, fulfillments_of, notifications_of, order_in,
    order_request, payment_of, place, platform, receive, ship_pending, ship_pending_from,
    shipment_of, stock, stock_settles_at, timeline_kinds, warehouse,
};
use crate::platform::Platform;

const STORE: &str = "STORE-MUC";
const HAMBURG: &str = "WH-HAM";

/// The customer confirms receipt of a delivered order; returns it once completed.
pub(crate) async fn accept(p: &Platform, order_id: &str) -> Order {
    OrderServiceClient::new(p.service("orders").channel().await)
        .confirm_receipt(ConfirmReceiptRequest {
            order_id: order_id.to_owned(),
        })
        .await
        .unwrap();
    order_in(p, order_id, OrderStatus::Completed).await
}

/// A card order of `quantity` teas from Berlin, shipped, delivered and accepted.
pub(crate) async fn completed_card_order(p: &Platform, tag: &str, quantity: i32) -> Order {
    let order = place(p, order_request(tag, quantity, "tok_visa")).await;
    order_in(p, &order.id, OrderStatus::InFulfillment).await;
    ship_pending(p, &order.id, tag).await;
    order_in(p, &order.id, OrderStatus::Delivered).await;
    accept(p, &order.id).await
}

/// The succeeded transactions of `kind` on the payment, as amounts in minor units.
fn succeeded(payment: &Payment, kind: TransactionKind) -> Vec<i64> {
    payment
        .transactions
        .iter()
        .filter(|t| t.kind() == kind && t.status() == TransactionStatus::Succeeded)
        .map(|t| t.amount.as_ref().map_or(0, |m| m.amount_minor))
        .collect()
}

fn minor(money: Option<&contracts::common::Money>) -> i64 {
    money.map_or(0, |m| m.amount_minor)
}

/// Waits until notifications has sent each template of `expected` about the order, then asserts
/// that it recorded exactly that many messages of each (one per event) on every channel it used,
/// each about a different event, and nothing else. The survey invitation comes a service-clock
/// day after delivery, so it may or may not be there yet unless expected.
async fn notified(p: &Platform, order_id: &str, expected: &[(&str, usize)]) {
    let sent = testkit::eventually(
        &format!("notifications {expected:?} for {order_id}"),
        || async {
            let sent = notifications_of(p, order_id).await;
            expected
                .iter()
                .all(|(t, _)| sent.iter().any(|n| n.template == *t))
                .then_some(sent)
        },
    )
    .await;
    let mut events = BTreeMap::<(String, i32), BTreeSet<String>>::new();
    for n in &sent {
        // Tests configure no e-mail or SMS gateway: a message is then recorded as suppressed.
        assert!(
            matches!(
                n.status(),
                NotificationStatus::Sent | NotificationStatus::Suppressed
            ),
            "{n:?}"
        );
        let fresh = events
            .entry((n.template.clone(), n.channel))
            .or_default()
            .insert(n.source_event_id.clone());
        assert!(
            fresh,
            "{} sent twice for one event on {:?}",
            n.template,
            n.channel()
        );
    }
    let channels: BTreeSet<i32> = events.keys().map(|(_, c)| *c).collect();
    let mut actual = BTreeMap::new();
    for ((template, _), ids) in &events {
        if template == "survey.invited" && !expected.iter().any(|(t, _)| *t == template) {
            continue;
        }
        *actual.entry(template.as_str()).or_insert(0) += ids.len();
    }
    let expected: BTreeMap<&str, usize> = expected
        .iter()
        .map(|(t, n)| (*t, n * channels.len()))
        .collect();
    assert_eq!(
        actual,
        expected,
        "per template, over {} channel(s)",
        channels.len()
    );
}

/// The messages every shipped order gets, per parcel.
const SHIPPED: [(&str, usize); 5] = [
    ("order.received", 1),
    ("order.confirmed", 1),
    ("shipment.shipped", 1),
    ("shipment.out_for_delivery", 1),
    ("shipment.delivered", 1),
];

/// How many timeline entries of `kind` the order has.
fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

/// The customer sends back `quantity` units of the order's first line for a refund, and support
/// approves it (into Berlin) if orders did not already; returns the RMA once shipping made its
/// return label.
pub(crate) async fn approved_return(
    p: &Platform,
    order: &Order,
    quantity: i32,
    reason: ReturnReason,
) -> Return {
    let mut returns = ReturnServiceClient::new(p.service("orders").channel().await);
    let mut rma = returns
        .request_return(RequestReturnRequest {
            request_id: format!("return-{}", order.id),
            order_id: order.id.clone(),
            lines: vec![NewReturnLine {
                line_id: order.lines[0].line_id.clone(),
                quantity,
                reason: reason.into(),
                note: String::new(),
            }],
            resolution: ReturnResolution::Refund.into(),
            exchange_lines: Vec::new(),
            customer_note: String::new(),
            pickup_address: None,
        })
        .await
        .unwrap()
        .into_inner()
        .rma
        .unwrap();
    if rma.status() == ReturnStatus::Requested {
        rma = returns
            .approve_return(ApproveReturnRequest {
                return_id: rma.id.clone(),
                reviewer_id: "support-1".into(),
                reason: "within the return window".into(),
                return_warehouse_id: BERLIN.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .rma
            .unwrap();
    }
    assert_eq!(rma.status(), ReturnStatus::Approved);
    // Shipping makes the return label once it hears of the approval.
    testkit::eventually("the return label", || {
        let mut returns = returns.clone();
        let id = rma.id.clone();
        async move {
            let rma = returns
                .get_return(GetReturnRequest { id })
                .await
                .ok()?
                .into_inner()
                .rma?;
            (!rma.return_tracking_number.is_empty()).then_some(rma)
        }
    })
    .await
}

/// The survey feedback invites the customer to a (service-clock) while after delivery.
pub(crate) async fn invited_survey(p: &Platform, order_id: &str) -> Survey {
    let feedback = FeedbackServiceClient::new(p.service("feedback").channel().await);
    testkit::eventually("the survey invitation", || {
        let mut feedback = feedback.clone();
        let order_id = order_id.to_owned();
        async move {
            let survey = feedback
                .get_survey(GetSurveyRequest {
                    survey_id: String::new(),
                    order_id,
                })
                .await
                .ok()?
                .into_inner()
                .survey?;
            (survey.status() == SurveyStatus::Invited).then_some(survey)
        }
    })
    .await
}

#[tokio::test]
async fn a_store_pickup_is_collected_with_its_code_and_captures_and_commits_at_the_counter() {
    let p = platform().await;
    stock(&p, 0).await;
    warehouse(&p, STORE, "München", true).await;
    receive(&p, STORE, 5).await;
    let mut request = order_request("pickup", 2, "tok_visa");
    request.fulfillment_mode = FulfillmentMode::StorePickup.into();
    request.pickup_store_id = STORE.into();
    let order = place(&p, request).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    assert_eq!(available_in(&p, STORE).await, (5, 2, 3));

    // The store picks from its shelf (no wave) and puts the order on the pickup shelf.
    let f = crate::cycle::pending_fulfillment(&p, &order.id, STORE).await;
    assert_eq!(f.fulfillment_mode(), FulfillmentMode::StorePickup);
    let mut fulfillment = FulfillmentServiceClient::new(p.service("fulfillment").channel().await);
    fulfillment
        .confirm_pick(ConfirmPickRequest {
            fulfillment_id: f.id.clone(),
            lines: f
                .lines
                .iter()
                .map(|l| PickedLine {
                    line_id: l.line_id.clone(),
                    bin: "A-01".into(),
                    quantity: l.quantity,
                })
                .collect(),
            picker_id: "store-staff-1".into(),
        })
        .await
        .unwrap();
    let shelved = fulfillment
        .mark_ready_for_pickup(MarkReadyForPickupRequest {
            fulfillment_id: f.id.clone(),
            shelf_location: "PICKUP-A3".into(),
            staff_id: "store-staff-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .fulfillment
        .unwrap();
    assert!(!shelved.pickup_code.is_empty());
    order_in(&p, &order.id, OrderStatus::ReadyForPickup).await;
    let payment = payment_of(&p, &order.id).await;
    assert_eq!(
        payment.status(),
        PaymentStatus::Authorized,
        "nothing captured before collection"
    );

    // A wrong code is refused; the right one hands the order over.
    let wrong = fulfillment
        .confirm_pickup(ConfirmPickupRequest {
            request_id: "pickup-wrong".into(),
            fulfillment_id: f.id.clone(),
            pickup_code: format!("{}9", shelved.pickup_code),
            collected_by: "Mei Lin".into(),
            cash_collected: None,
            staff_id: "store-staff-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::InvalidArgument, "{wrong:?}");
    let collected = fulfillment
        .confirm_pickup(ConfirmPickupRequest {
            request_id: "pickup-1".into(),
            fulfillment_id: f.id.clone(),
            pickup_code: shelved.pickup_code.clone(),
            collected_by: "Mei Lin".into(),
            cash_collected: None,
            staff_id: "store-staff-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .fulfillment
        .unwrap();
    assert_eq!(collected.status(), FulfillmentStatus::PickedUp);

    order_in(&p, &order.id, OrderStatus::Delivered).await;
    let completed = accept(&p, &order.id).await;
    assert!(completed.shipments.is_empty(), "nothing was shipped");
    assert_eq!(
        completed.payment.as_ref().unwrap().captured_amount,
        Some(eur(2 * PRICE))
    );

    // Captured at the counter in one go, stock committed at the store, Berlin untouched.
    let payment = payment_of(&p, &order.id).await;
    assert_eq!(payment.status(), PaymentStatus::Captured);
    assert!(payment.settled);
    assert_eq!(succeeded(&payment, TransactionKind::Capture), [2 * PRICE]);
    assert_eq!(available_in(&p, STORE).await, (3, 0, 3));
    let fulfilments = fulfillments_of(&p, &order.id).await;
    assert_eq!(fulfilments.len(), 1);
    assert_eq!(fulfilments[0].status(), FulfillmentStatus::PickedUp);
    assert!(fulfilments[0].parcels.is_empty());
    let kinds = timeline_kinds(&p, &order.id).await;
    // Committed and captured once, at the counter; delivered by the collection itself.
    for kind in [
        "orders.reservation.commit_requested",
        "orders.payment.capture_requested",
        "orders.order.delivered",
        "orders.order.completed",
    ] {
        assert_eq!(count(&kinds, kind), 1, "{kind} in {kinds:?}");
    }
    notified(
        &p,
        &order.id,
        &[
            ("order.received", 1),
            ("order.confirmed", 1),
            ("pickup.ready", 1),
        ],
    )
    .await;
}

#[tokio::test]
async fn cash_on_delivery_is_collected_at_the_door_and_settles_the_order() {
    let p = platform().await;
    stock(&p, 10).await;
    let mut request = order_request("cod-paid", 2, "");
    request.payment.as_mut().unwrap().method = PaymentMethod::CashOnDelivery.into();
    let order = place(&p, request).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    let accepted = payment_of(&p, &order.id).await;
    assert_eq!(
        accepted.status(),
        PaymentStatus::Authorized,
        "accepted at once"
    );
    assert_eq!(minor(accepted.captured_amount.as_ref()), 0);

    let parcel = ship_pending(&p, &order.id, "cod-paid").await;
    order_in(&p, &order.id, OrderStatus::Delivered).await;
    let shipment = shipment_of(&p, &parcel.shipment_id).await;
    assert_eq!(shipment.status(), TrackingStatus::Delivered);
    assert_eq!(shipment.cash_on_delivery_amount, Some(eur(2 * PRICE)));
    assert_eq!(shipment.cash_collected, Some(eur(2 * PRICE)));

    let completed = accept(&p, &order.id).await;
    assert!(completed.payment.as_ref().unwrap().settled);
    let payment = payment_of(&p, &order.id).await;
    assert_eq!(payment.status(), PaymentStatus::Captured);
    assert!(payment.settled);
    assert_eq!(payment.captured_amount, Some(eur(2 * PRICE)));
    assert_eq!(
        succeeded(&payment, TransactionKind::CashCollection),
        [2 * PRICE],
        "the courier's cash, once"
    );
    assert!(succeeded(&payment, TransactionKind::Capture).is_empty());
    assert_eq!(available(&p).await, (8, 0, 8));
    let fulfilments = fulfillments_of(&p, &order.id).await;
    assert_eq!(fulfilments.len(), 1);
    assert!(fulfilments[0].collect_cash_on_delivery);
    assert_eq!(fulfilments[0].status(), FulfillmentStatus::HandedOver);
    notified(&p, &order.id, &SHIPPED).await;
}

#[tokio::test]
async fn installments_capture_the_first_at_confirmation_and_the_plan_pays_itself_off() {
    let env = testkit::TestEnv::with(|s| {
        s.clock = runtime::Clock::scaled(3600.0);
        // An installment falls due every service-clock hour (a second here), not monthly.
        s.overrides
            .insert("OC_PAYMENTS_INSTALLMENT_EVERY_SECS".into(), "3600".into());
    })
    .await;
    let p = Platform::start_in(env).await;
    stock(&p, 10).await;
    // 3 teas: three installments of 1250, above the smallest allowed (1000).
    let mut request = order_request("installments", 3, "tok_visa");
    let instruction = request.payment.as_mut().unwrap();
    instruction.method = PaymentMethod::Installments.into();
    instruction.installment_count = 3;
    let order = place(&p, request).await;
    let confirmed = order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    assert_eq!(confirmed.payment.as_ref().unwrap().installment_count, 3);

    ship_pending(&p, &order.id, "installments").await;
    order_in(&p, &order.id, OrderStatus::Delivered).await;
    let completed = accept(&p, &order.id).await;
    assert!(completed.payment.as_ref().unwrap().settled);

    // The plan lives on as a receivable and collects the rest on its schedule.
    let payments = PaymentServiceClient::new(p.service("payments").channel().await);
    let plan = testkit::eventually("the plan to be paid off", || {
        let mut payments = payments.clone();
        let order_id = order.id.clone();
        async move {
            let plan = payments
                .get_installment_plan(GetInstallmentPlanRequest {
                    order_id,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .plan?;
            (plan.status() == InstallmentPlanStatus::PaidOff).then_some(plan)
        }
    })
    .await;
    assert_eq!(plan.installment_count, 3);
    assert_eq!(plan.total, Some(eur(3 * PRICE)));
    assert_eq!(plan.amount_paid, Some(eur(3 * PRICE)));
    assert_eq!(minor(plan.amount_outstanding.as_ref()), 0);
    assert_eq!(plan.installments.len(), 3);
    for (number, installment) in (1..).zip(&plan.installments) {
        assert_eq!(installment.number, number);
        assert_eq!(installment.amount, Some(eur(PRICE)));
        assert_eq!(installment.status(), InstallmentStatus::Captured);
        assert_eq!(installment.failed_attempts, 0);
    }
    let payment = payment_of(&p, &order.id).await;
    assert_eq!(payment.installment_plan_id, plan.id);
    assert_eq!(payment.status(), PaymentStatus::Captured);
    assert_eq!(payment.captured_amount, Some(eur(3 * PRICE)));
    let mut numbers: Vec<i32> = payment
        .transactions
        .iter()
        .filter(|t| {
            t.kind() == TransactionKind::Capture && t.status() == TransactionStatus::Succeeded
        })
        .map(|t| t.installment_number)
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2, 3], "each installment captured once");
    assert_eq!(available(&p).await, (7, 0, 7));
    // The order stays completed while the plan runs.
    order_in(&p, &order.id, OrderStatus::Completed).await;
    notified(&p, &order.id, &SHIPPED).await;
}

#[tokio::test]
async fn a_split_shipment_from_two_warehouses_captures_each_parcels_share() {
    let p = platform().await;
    stock(&p, 1).await;
    warehouse(&p, HAMBURG, "Hamburg", false).await;
    receive(&p, HAMBURG, 2).await;
    let order = place(&p, order_request("split", 3, "tok_visa")).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    assert_eq!(available_in(&p, BERLIN).await, (1, 1, 0));
    assert_eq!(available_in(&p, HAMBURG).await, (2, 2, 0));
    let fulfilments = fulfillments_of(&p, &order.id).await;
    assert_eq!(fulfilments.len(), 2, "one fulfilment per warehouse");

    // Berlin ships first: its share is captured and its stock committed on its own.
    let berlin = ship_pending_from(&p, &order.id, BERLIN, "split-ber").await;
    order_in(&p, &order.id, OrderStatus::PartiallyShipped).await;
    stock_settles_at(&p, BERLIN, (0, 0, 0)).await;
    testkit::eventually("Berlin's share to be captured", || async {
        let payment = payment_of(&p, &order.id).await;
        (payment.status() == PaymentStatus::PartiallyCaptured).then_some(())
    })
    .await;
    assert_eq!(available_in(&p, HAMBURG).await, (2, 2, 0));

    let hamburg = ship_pending_from(&p, &order.id, HAMBURG, "split-ham").await;
    assert_ne!(berlin.shipment_id, hamburg.shipment_id);
    let delivered = order_in(&p, &order.id, OrderStatus::Delivered).await;
    assert_eq!(delivered.shipments.len(), 2);
    let completed = accept(&p, &order.id).await;
    assert_eq!(
        completed.payment.as_ref().unwrap().captured_amount,
        Some(eur(3 * PRICE))
    );

    let payment = payment_of(&p, &order.id).await;
    assert_eq!(payment.status(), PaymentStatus::Captured);
    assert!(payment.settled);
    let mut captures: Vec<(String, i64)> = payment
        .transactions
        .iter()
        .filter(|t| {
            t.kind() == TransactionKind::Capture && t.status() == TransactionStatus::Succeeded
        })
        .map(|t| (t.shipment_id.clone(), minor(t.amount.as_ref())))
        .collect();
    captures.sort();
    let mut expected = vec![
        (berlin.shipment_id.clone(), PRICE),
        (hamburg.shipment_id.clone(), 2 * PRICE),
    ];
    expected.sort();
    assert_eq!(
        captures, expected,
        "one capture per parcel, summing to the total"
    );
    assert_eq!(available_in(&p, BERLIN).await, (0, 0, 0));
    assert_eq!(available_in(&p, HAMBURG).await, (0, 0, 0));
    for f in fulfillments_of(&p, &order.id).await {
        assert_eq!(f.status(), FulfillmentStatus::HandedOver);
        assert_eq!(f.parcels.len(), 1);
    }
    for parcel in [&berlin, &hamburg] {
        let shipment = shipment_of(&p, &parcel.shipment_id).await;
        assert_eq!(shipment.status(), TrackingStatus::Delivered);
        assert_eq!(shipment.order_id, order.id);
    }
    assert_eq!(
        shipment_of(&p, &berlin.shipment_id).await.warehouse_id,
        BERLIN
    );
    assert_eq!(
        shipment_of(&p, &hamburg.shipment_id).await.warehouse_id,
        HAMBURG
    );
    notified(
        &p,
        &order.id,
        &SHIPPED.map(|(t, n)| (t, if t.starts_with("shipment.") { 2 * n } else { n })),
    )
    .await;
}

#[tokio::test]
async fn a_failed_delivery_attempt_is_followed_by_a_successful_one() {
    let p = platform().await;
    stock(&p, 10).await;
    let mut request = order_request("fail-once", 1, "tok_visa");
    request.shipping_address.as_mut().unwrap().line2 = "Hinterhaus [sim:fail-once]".into();
    let order = place(&p, request).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    let parcel = ship_pending(&p, &order.id, "fail-once").await;
    let delivered = order_in(&p, &order.id, OrderStatus::Delivered).await;
    assert_eq!(delivered.shipments.len(), 1);
    let completed = accept(&p, &order.id).await;
    assert_eq!(
        completed.payment.as_ref().unwrap().captured_amount,
        Some(eur(PRICE))
    );

    let shipment = shipment_of(&p, &parcel.shipment_id).await;
    assert_eq!(shipment.status(), TrackingStatus::Delivered);
    assert_eq!(shipment.delivery_attempts, 1, "failed attempts");
    let scans: Vec<TrackingStatus> = shipment.events.iter().map(|e| e.status()).collect();
    assert_eq!(
        scans
            .iter()
            .filter(|s| **s == TrackingStatus::DeliveryFailed)
            .count(),
        1,
        "{scans:?}"
    );
    assert_eq!(scans.last(), Some(&TrackingStatus::Delivered), "{scans:?}");
    let payment = payment_of(&p, &order.id).await;
    assert_eq!(payment.status(), PaymentStatus::Captured);
    assert_eq!(succeeded(&payment, TransactionKind::Capture), [PRICE]);
    assert_eq!(available(&p).await, (9, 0, 9));
    let kinds = timeline_kinds(&p, &order.id).await;
    assert_eq!(
        count(&kinds, "shipping.shipment.delivery_failed"),
        1,
        "{kinds:?}"
    );
    assert_eq!(count(&kinds, "orders.order.delivered"), 1, "{kinds:?}");
    let mut expected = SHIPPED
        .map(|(t, n)| {
            // The courier sets out twice.
            (
                t,
                if t == "shipment.out_for_delivery" {
                    2
                } else {
                    n
                },
            )
        })
        .to_vec();
    expected.push(("shipment.delivery_failed", 1));
    notified(&p, &order.id, &expected).await;
}

/// The support case feedback opened for the order.
async fn case_of(p: &Platform, order_id: &str, status: CaseStatus) -> SupportCase {
    let feedback = FeedbackServiceClient::new(p.service("feedback").channel().await);
    testkit::eventually(&format!("a {status:?} case for {order_id}"), || {
        let mut feedback = feedback.clone();
        let order_id = order_id.to_owned();
        async move {
            let cases = feedback
                .list_cases(ListCasesRequest {
                    order_id,
                    page_size: 10,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .cases;
            match cases.as_slice() {
                [case] if case.status() == status => Some(case.clone()),
                _ => None,
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_reported_problem_opens_a_case_whose_refund_resolution_refunds_and_completes() {
    let p = platform().await;
    stock(&p, 10).await;
    let order = place(&p, order_request("problem", 2, "tok_visa")).await;
    order_in(&p, &order.id, OrderStatus::InFulfillment).await;
    ship_pending(&p, &order.id, "problem").await;
    let delivered = order_in(&p, &order.id, OrderStatus::Delivered).await;
    let line = delivered.lines[0].clone();

    OrderServiceClient::new(p.service("orders").channel().await)
        .report_problem(ReportProblemRequest {
            request_id: "problem-1".into(),
            order_id: order.id.clone(),
            kind: ProblemKind::DamagedItem.into(),
            description: "one tin arrived crushed".into(),
            lines: vec![ProblemLine {
                line_id: line.line_id.clone(),
                sku: String::new(),
                quantity: 1,
            }],
            attachment_urls: Vec::new(),
        })
        .await
        .unwrap();
    order_in(&p, &order.id, OrderStatus::Disputed).await;
    let case = case_of(&p, &order.id, CaseStatus::Open).await;
    assert_eq!(case.problem_kind(), ProblemKind::DamagedItem);
    assert_eq!(case.customer_id, "cust-e2e");
    let disputed = order_in(&p, &order.id, OrderStatus::Disputed).await;
    assert_eq!(disputed.problems.len(), 1);
    assert_eq!(disputed.problems[0].kind(), ProblemKind::DamagedItem);

    FeedbackServiceClient::new(p.service("feedback").channel().await)
        .resolve_case(ResolveCaseRequest {
            case_id: case.id.clone(),
            resolution: CaseResolution::Refund.into(),
            refund_amount: Some(eur(PRICE)),
            lines: vec![CaseLine {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                quantity: 1,
            }],
            note: "refunded the crushed tin".into(),
            resolved_by: "support-1".into(),
        })
        .await
        .unwrap();

    // A disputed order that was never accepted is accepted by the resolution and completes.
    let completed = order_in(&p, &order.id, OrderStatus::Completed).await;
    assert_eq!(completed.problems[0].resolution(), CaseResolution::Refund);
    assert_eq!(
        completed.problems[0].case_id, case.id,
        "orders learnt the case"
    );
    let order_payment = completed.payment.as_ref().unwrap();
    assert_eq!(order_payment.captured_amount, Some(eur(2 * PRICE)));
    let payment = testkit::eventually("the case's refund", || async {
        let payment = payment_of(&p, &order.id).await;
        (payment.status() == PaymentStatus::PartiallyRefunded).then_some(payment)
    })
    .await;
    assert_eq!(payment.captured_amount, Some(eur(2 * PRICE)));
    assert_eq!(payment.refunded_amount, Some(eur(PRICE)));
    let refunds: Vec<_> = payment
        .transactions
        .iter()
        .filter(|t| {
            t.kind() == TransactionKind::Refund && t.status() == TransactionStatus::Succeeded
        })
        .collect();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].case_id, case.id);
    let resolved = case_of(&p, &order.id, CaseStatus::Resolved).await;
    assert_eq!(resolved.resolution(), CaseResolution::Refund);
    assert_eq!(resolved.refund_amount, Some(eur(PRICE)));
    // A refund without a return takes nothing back into stock.
    assert_eq!(available(&p).await, (8, 0, 8));
    let kinds = timeline_kinds(&p, &order.id).await;
    for kind in [
        "orders.order.problem_reported",
        "orders.payment.refund_requested",
        "orders.order.completed",
    ] {
        assert_eq!(count(&kinds, kind), 1, "{kind} in {kinds:?}");
    }
    let mut expected = SHIPPED.to_vec();
    expected.push(("payment.refunded", 1));
    notified(&p, &order.id, &expected).await;
}

#[tokio::test]
async fn a_return_is_inspected_refunded_and_restocked() {
    let p = platform().await;
    stock(&p, 10).await;
    let order = completed_card_order(&p, "return", 2).await;
    assert_eq!(available(&p).await, (8, 0, 8));

    let rma = approved_return(&p, &order, 1, ReturnReason::NoLongerNeeded).await;
    let return_shipment = shipment_of(&p, &rma.return_shipment_id).await;
    assert_eq!(return_shipment.return_id, rma.id);

    receive_and_inspect(&p, &rma, InspectionGrade::Resellable).await;
    let closed = rma_in(&p, &rma.id, ReturnStatus::Closed).await;
    assert_eq!(closed.outcome(), ReturnOutcome::Refunded);
    assert_eq!(closed.refund_total, Some(eur(PRICE)));
    assert_eq!(closed.lines[0].resellable_quantity, 1);

    // Payments refunded the returned unit; inventory has it back on the shelf.
    let payment = testkit::eventually("the return's refund", || async {
        let payment = payment_of(&p, &order.id).await;
        (payment.status() == PaymentStatus::PartiallyRefunded).then_some(payment)
    })
    .await;
    assert_eq!(payment.captured_amount, Some(eur(2 * PRICE)));
    assert_eq!(payment.refunded_amount, Some(eur(PRICE)));
    let refunds: Vec<_> = payment
        .transactions
        .iter()
        .filter(|t| {
            t.kind() == TransactionKind::Refund && t.status() == TransactionStatus::Succeeded
        })
        .collect();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].return_id, rma.id);
    stock_settles_at(&p, BERLIN, (9, 0, 9)).await;
    let order = order_in(&p, &order.id, OrderStatus::Completed).await;
    assert_eq!(order.return_status(), OrderReturnStatus::PartiallyReturned);
    assert_eq!(order.lines[0].returned_quantity, 1);
    assert_eq!(
        order.payment.as_ref().unwrap().refunded_amount,
        Some(eur(PRICE))
    );
    let kinds = timeline_kinds(&p, &order.id).await;
    for kind in [
        "orders.return.approved",
        "fulfillment.return.inspected",
        "orders.restock.requested",
        "orders.payment.refund_requested",
        "orders.return.closed",
    ] {
        assert_eq!(count(&kinds, kind), 1, "{kind} in {kinds:?}");
    }
    let mut expected = SHIPPED.to_vec();
    expected.extend([("return.approved", 1), ("payment.refunded", 1)]);
    notified(&p, &order.id, &expected).await;
}

#[tokio::test]
async fn a_survey_invited_after_delivery_is_answered_and_a_review_published() {
    let p = platform().await;
    stock(&p, 10).await;
    let order = completed_card_order(&p, "survey", 1).await;

    let mut feedback = FeedbackServiceClient::new(p.service("feedback").channel().await);
    let survey = invited_survey(&p, &order.id).await;
    assert_eq!(survey.customer_id, "cust-e2e");
    let submitted = feedback
        .submit_survey(SubmitSurveyRequest {
            request_id: "survey-1".into(),
            survey_id: survey.id.clone(),
            csat_score: 5,
            nps_score: Some(9),
            comment: "Fast and well packed.".into(),
            tags: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap();
    assert_eq!(submitted.status(), SurveyStatus::Submitted);
    assert_eq!(submitted.csat_score, Some(5));
    assert_eq!(submitted.nps_score, Some(9));

    let review = feedback
        .submit_review(SubmitReviewRequest {
            request_id: "review-1".into(),
            order_id: order.id.clone(),
            customer_id: "cust-e2e".into(),
            sku: crate::cycle::SKU.into(),
            rating: 5,
            title: "Fragrant and fresh".into(),
            body: "Lovely chestnut notes, brews three times.".into(),
            display_name: "Mei L.".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    assert_eq!(review.status(), ReviewStatus::Pending, "moderated first");
    feedback
        .moderate_review(ModerateReviewRequest {
            review_id: review.id.clone(),
            decision: ModerationDecision::Publish.into(),
            moderator_id: "moderator-1".into(),
            note: String::new(),
        })
        .await
        .unwrap();
    let published = feedback
        .list_reviews(ListReviewsRequest {
            sku: crate::cycle::SKU.into(),
            statuses: vec![ReviewStatus::Published.into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reviews;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].id, review.id);
    assert_eq!(published[0].rating, 5);

    // Nothing else moved: the order stays completed, paid once, its stock committed once.
    order_in(&p, &order.id, OrderStatus::Completed).await;
    let payment = payment_of(&p, &order.id).await;
    assert_eq!(succeeded(&payment, TransactionKind::Capture), [PRICE]);
    assert_eq!(available(&p).await, (9, 0, 9));
    let mut expected = SHIPPED.to_vec();
    expected.push(("survey.invited", 1));
    notified(&p, &order.id, &expected).await;
}
