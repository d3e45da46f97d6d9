//! Installments on a fast clock: a plan whose amounts add up to the total, the first
//! installment captured at acceptance (settling the order), the rest on schedule until PAID_OFF;
//! a card that runs dry is retried and the plan DEFAULTED.

use contracts::common::PaymentMethod;
use contracts::payments::{
    DeclineReason, GetInstallmentPlanRequest, InstallmentMissed, InstallmentPlan,
    InstallmentPlanStatus, OrderSettled, PaymentAuthorized, PaymentCaptured, PaymentDeclined,
};
use contracts::time::from_timestamp;
use prost::Message as _;
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

#[tokio::test]
async fn every_failed_installment_attempt_is_published_and_the_last_one_says_defaulted() {
    // Installments 20 hours apart, a missed one retried after an hour, three attempts; on a
    // 36000x clock an hour passes in a tenth of a second.
    let env = TestEnv::with(|s| {
        s.clock = runtime::Clock::scaled(36_000.0);
        for (key, value) in [
            ("OC_PAYMENTS_INSTALLMENT_EVERY_SECS", "72000"),
            ("OC_PAYMENTS_INSTALLMENT_RETRY_HOURS", "1"),
            ("OC_PAYMENTS_INSTALLMENT_MAX_ATTEMPTS", "3"),
        ] {
            s.overrides.insert(key.into(), value.into());
        }
    })
    .await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut missed = env.tap("payments.installment.missed").await;
    let order = new_order();

    // 3_334 + 3_333 + 3_333; the card runs dry after the first.
    request_payment(
        &env,
        &order,
        PaymentMethod::Installments,
        "tok_lapse",
        10_000,
        3,
    )
    .await;
    let auth: PaymentAuthorized = authorized.next().await;
    let mut events: Vec<InstallmentMissed> = Vec::new();
    loop {
        let event: InstallmentMissed = missed.next().await;
        let last = event.defaulted;
        events.push(event);
        if last {
            break;
        }
    }
    // Installment 3 falls due 17 hours after installment 2's last attempt; were a slow machine
    // to reach it first, its miss would be about number 3, so only number 2's are compared.
    let second: Vec<&InstallmentMissed> = events.iter().filter(|e| e.number == 2).collect();
    let attempts: Vec<_> = second.iter().map(|e| e.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert!(
        events.last().is_some_and(|e| e.number == 2),
        "installment 2 defaulted the plan"
    );
    for (i, event) in second.iter().enumerate() {
        let last = i == second.len() - 1;
        assert_eq!(event.plan_id, auth.installment_plan_id);
        assert_eq!(event.payment_id, auth.payment_id);
        assert_eq!(event.order_id, order);
        assert_eq!(event.amount, eur(3_333));
        assert_eq!(event.reason, "insufficient funds");
        assert_eq!(event.defaulted, last, "attempt {}", event.attempt);
        let missed_at = from_timestamp(event.missed_at.as_ref().unwrap()).unwrap();
        match &event.next_attempt_at {
            Some(next) if !last => {
                assert_eq!(
                    from_timestamp(next).unwrap() - missed_at,
                    chrono::Duration::hours(1)
                );
                // The retry is not tried before it is due.
                let retried = second[i + 1].missed_at.as_ref().unwrap();
                assert!(from_timestamp(retried).unwrap() >= from_timestamp(next).unwrap());
            }
            None if last => {}
            other => panic!("attempt {}: next_attempt_at {other:?}", event.attempt),
        }
    }

    let plan = plan_when(&client, &order, "defaulted", |p| {
        p.status() == InstallmentPlanStatus::Defaulted
    })
    .await;
    assert_eq!(plan.installments[1].failed_attempts, 3);
    // Exactly one event per failed attempt was written.
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT payload FROM oc_outbox WHERE subject = 'payments.installment.missed' ORDER BY seq",
    )
    .fetch_all(&payments.pool)
    .await
    .unwrap();
    let written: Vec<(i32, i32, bool)> = payloads
        .iter()
        .map(|p| InstallmentMissed::decode(p.as_slice()).unwrap())
        .filter(|e| e.number == 2)
        .map(|e| (e.attempt, e.number, e.defaulted))
        .collect();
    assert_eq!(written, [(1, 2, false), (2, 2, false), (3, 2, true)]);
    let failed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payment_transactions WHERE status = 'FAILED' AND installment_number = 2",
    )
    .fetch_one(&payments.pool)
    .await
    .unwrap();
    assert_eq!(failed, 3);
}
