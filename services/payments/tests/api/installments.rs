//! Installments on a fast clock: a plan whose amounts add up to the total, the first
//! installment captured at acceptance (settling the order), the rest on schedule until PAID_OFF;
//! a card that runs dry is retried and the plan DEFAULTED.

use contracts::common::PaymentMethod;
use contracts::payments::{
    DeclineReason, GetInstallmentPlanRequest, InstallmentPlan, InstallmentPlanStatus, OrderSettled,
    PaymentAuthorized, PaymentCaptured, PaymentDeclined,
};
use testkit::TestEnv;

use crate::helpers::*;

async fn plan_when(
    client: &Client,
    order_id: &str,
    what: &str,
    ready: impl Fn(&InstallmentPlan) -> bool,
) -> InstallmentPlan {
    testkit::eventually(what, || {
        let mut client = client.clone();
        let order_id = order_id.to_owned();
        let ready = &ready;
        async move {
            client
                .get_installment_plan(GetInstallmentPlanRequest {
                    order_id,
                    ..Default::default()
                })
                .await
                .ok()
                .and_then(|r| r.into_inner().plan)
                .filter(|p| ready(p))
        }
    })
    .await
}

#[tokio::test]
async fn an_installment_plan_settles_on_its_first_payment_and_is_paid_off_on_schedule() {
    let env = TestEnv::with(|s| s.clock = runtime::Clock::scaled(3600.0)).await;
    let payments = env.start(&FAST).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut captured = env.tap("payments.payment.captured").await;
    let mut settled = env.tap("payments.order.settled").await;
    let order = new_order();

    request_payment(
        &env,
        &order,
        PaymentMethod::Installments,
        "tok_visa",
        10_000,
        3,
    )
    .await;
    let auth: PaymentAuthorized = authorized.next().await;
    assert_eq!(auth.installment_count, 3);
    assert!(!auth.installment_plan_id.is_empty());

    let first: PaymentCaptured = captured.next().await;
    assert_eq!((first.installment_number, minor(&first.amount)), (1, 3_334));
    let done: OrderSettled = settled.next().await;
    assert_eq!(done.installment_plan_id, auth.installment_plan_id);
    let second: PaymentCaptured = captured.next().await;
    let third: PaymentCaptured = captured.next().await;
    assert_eq!(
        (second.installment_number, minor(&second.amount)),
        (2, 3_333)
    );
    assert_eq!(
        (third.installment_number, minor(&third.captured_total)),
        (3, 10_000)
    );

    let plan = plan_when(&client, &order, "paid off", |p| {
        p.status() == InstallmentPlanStatus::PaidOff
    })
    .await;
    assert_eq!(minor(&plan.amount_paid), 10_000);
    assert_eq!(minor(&plan.amount_outstanding), 0);
    assert!(plan.closed_at.is_some());
    let (balances, balanced) = ledger(&payments, &auth.payment_id).await;
    assert!(balanced);
    assert_eq!(balance(&balances, "cash"), 10_000);
}

#[tokio::test]
async fn a_missed_installment_is_retried_then_the_plan_defaults_and_the_rest_is_written_off() {
    let env = TestEnv::with(|s| s.clock = runtime::Clock::scaled(3600.0)).await;
    let payments = env.start(&FAST).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let order = new_order();

    request_payment(
        &env,
        &order,
        PaymentMethod::Installments,
        "tok_lapse",
        6_000,
        3,
    )
    .await;
    let auth: PaymentAuthorized = authorized.next().await;
    let plan = plan_when(&client, &order, "defaulted", |p| {
        p.status() == InstallmentPlanStatus::Defaulted
    })
    .await;
    let statuses: Vec<_> = plan
        .installments
        .iter()
        .map(|i| i.status().as_str_name())
        .collect();
    assert_eq!(
        statuses,
        [
            "INSTALLMENT_STATUS_CAPTURED",
            "INSTALLMENT_STATUS_CANCELLED",
            "INSTALLMENT_STATUS_CANCELLED"
        ]
    );
    assert_eq!(
        plan.installments[1].failed_attempts, 2,
        "tried, retried, then reported"
    );
    let (balances, balanced) = ledger(&payments, &auth.payment_id).await;
    assert!(balanced);
    assert_eq!(balance(&balances, "cash"), 2_000);
    assert_eq!(balance(&balances, "written_off"), 4_000);
    assert_eq!(balance(&balances, "receivable"), 0);
}

#[tokio::test]
async fn a_plan_with_an_unoffered_count_is_rejected() {
    let env = TestEnv::new().await;
    let _payments = env.start(&payments::SERVICE).await;
    let mut declined = env.tap("payments.payment.declined").await;
    request_payment(
        &env,
        &new_order(),
        PaymentMethod::Installments,
        "tok_visa",
        6_000,
        4,
    )
    .await;
    let event: PaymentDeclined = declined.next().await;
    assert_eq!(event.reason(), DeclineReason::PlanRejected);
}
