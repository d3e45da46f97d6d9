//! Card and wallet: authorize on orders' request, capture per shipment, settle once, void and
//! refund with their limits, declines, the timeout retry, duplicates and reordering.

use contracts::common::PaymentMethod;
use contracts::payments::{
    CaptureRequest, DeclineReason, OrderSettled, PaymentAuthorized, PaymentCaptured,
    PaymentDeclined, PaymentRefunded, PaymentStatus, PaymentVoided, RefundRequest, TransactionKind,
    VoidRequest,
};
use testkit::TestEnv;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_card_payment_is_captured_per_shipment_settles_once_and_refunds_partially() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut captured = env.tap("payments.payment.captured").await;
    let mut settled = env.tap("payments.order.settled").await;
    let mut refunded = env.tap("payments.payment.refunded").await;
    let order = new_order();

    request_payment(&env, &order, PaymentMethod::Card, "tok_visa", 10_000, 0).await;
    let auth: PaymentAuthorized = authorized.next().await;
    assert_eq!(auth.order_id, order);
    assert_eq!(minor(&auth.amount), 10_000);
    assert!(auth.provider_reference.starts_with("sim_auth_"));
    assert!(auth.authorization_expires_at.is_some());

    // The first shipment's share, asked twice (a republished request), then the second.
    request_capture(&env, &order, "ship-1", 6_000, false).await;
    request_capture(&env, &order, "ship-1", 6_000, false).await;
    request_capture(&env, &order, "ship-2", 4_000, false).await;
    let first: PaymentCaptured = captured.next().await;
    let second: PaymentCaptured = captured.next().await;
    assert_eq!(
        (
            first.shipment_id.as_str(),
            minor(&first.amount),
            minor(&first.captured_total)
        ),
        ("ship-1", 6_000, 6_000)
    );
    assert_eq!(
        (second.shipment_id.as_str(), minor(&second.captured_total)),
        ("ship-2", 10_000)
    );
    let done: OrderSettled = settled.next().await;
    assert_eq!(
        (done.order_id.as_str(), minor(&done.captured_total)),
        (order.as_str(), 10_000)
    );
    assert!(
        settled
            .next_within(std::time::Duration::from_millis(500))
            .await
            .is_none(),
        "settled once"
    );

    let p = payment_when(&client, &order, "captured", |p| {
        p.status() == PaymentStatus::Captured
    })
    .await;
    assert!(p.settled);
    assert!(
        !format!("{p:?}").contains("tok_visa"),
        "the token never leaves"
    );

    // A void after everything was captured is refused with the reason.
    let err = client
        .clone()
        .void(VoidRequest {
            request_id: "void-1".into(),
            payment_id: p.id.clone(),
            amount: None,
            reason: "customer changed mind".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("nothing left to void"),
        "{}",
        err.message()
    );

    // A return refunded twice under the same return id moves money once.
    request_refund(&env, &order, "ret-1", 3_000).await;
    request_refund(&env, &order, "ret-1", 3_000).await;
    let refund: PaymentRefunded = refunded.next().await;
    assert_eq!(
        (minor(&refund.amount), refund.return_id.as_str()),
        (3_000, "ret-1")
    );
    let p = payment_when(&client, &order, "refunded", |p| {
        p.status() == PaymentStatus::PartiallyRefunded
    })
    .await;
    assert_eq!(minor(&p.refunded_amount), 3_000);

    // Never more than captured: 7,000 is left.
    let err = client
        .clone()
        .refund(RefundRequest {
            request_id: "refund-too-much".into(),
            payment_id: p.id.clone(),
            amount: eur(7_001),
            reason: "goodwill".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let ok = client
        .clone()
        .refund(RefundRequest {
            request_id: "refund-rest".into(),
            payment_id: p.id.clone(),
            amount: None,
            reason: "goodwill".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.payment.unwrap().status(), PaymentStatus::Refunded);

    let (balances, balanced) = ledger(&payments, &p.id).await;
    assert!(balanced, "every journal entry sums to zero: {balances:?}");
    assert_eq!(balance(&balances, "cash"), 0);
    assert_eq!(balance(&balances, "receivable"), 0);
    assert_eq!(balances.iter().map(|(_, b)| b).sum::<i64>(), 0);
}

#[tokio::test]
async fn a_declined_token_is_declined_with_the_reason_and_later_captures_are_ignored() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut declined = env.tap("payments.payment.declined").await;
    let order = new_order();

    request_payment(&env, &order, PaymentMethod::Wallet, "tok_decline", 5_000, 0).await;
    let event: PaymentDeclined = declined.next().await;
    assert_eq!(event.order_id, order);
    assert_eq!(event.reason(), DeclineReason::ProviderDeclined);
    assert!(event.message.contains("declined"));

    request_capture(&env, &order, "ship-1", 5_000, false).await;
    let mut orders_probe = env.tap("payments.payment.captured").await;
    assert!(
        orders_probe
            .next_within(std::time::Duration::from_secs(1))
            .await
            .is_none()
    );
    let p = payment_when(&client, &order, "declined", |p| {
        p.status() == PaymentStatus::Declined
    })
    .await;
    assert_eq!(minor(&p.captured_amount), 0);
    assert_eq!(p.decline_reason(), DeclineReason::ProviderDeclined);
}

#[tokio::test]
async fn a_provider_timeout_is_retried_under_the_same_key_and_charges_once() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let order = new_order();

    request_payment(&env, &order, PaymentMethod::Card, "tok_timeout", 2_500, 0).await;
    let auth: PaymentAuthorized = authorized.next().await;
    let capture = client
        .clone()
        .capture(CaptureRequest {
            request_id: "cap-1".into(),
            payment_id: auth.payment_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(minor(&capture.payment.unwrap().captured_amount), 2_500);

    // The provider's book: one authorization and one capture, each asked twice (the lost
    // answer and the retry under the same key).
    let book: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT operation, calls, amount_minor FROM sim_provider_operations ORDER BY created_at",
    )
    .fetch_all(&payments.pool)
    .await
    .unwrap();
    assert_eq!(
        book,
        [("authorize".into(), 2, 2_500), ("capture".into(), 2, 2_500)]
    );
    let (balances, balanced) = ledger(&payments, &auth.payment_id).await;
    assert!(balanced);
    assert_eq!(balance(&balances, "cash"), 2_500);
}

#[tokio::test]
async fn a_capture_that_overtakes_its_payment_request_is_applied_when_the_payment_opens() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut captured = env.tap("payments.payment.captured").await;
    let order = new_order();

    request_capture(&env, &order, "ship-1", 1_000, false).await;
    // Wait until the early capture was handled (parked), then let the request arrive.
    testkit::eventually("the capture parked", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM parked_requests")
            .fetch_one(&payments.pool)
            .await
            .unwrap();
        (n == 1).then_some(())
    })
    .await;
    request_payment(&env, &order, PaymentMethod::Card, "tok_visa", 3_000, 0).await;
    let event: PaymentCaptured = captured.next().await;
    assert_eq!(
        (event.shipment_id.as_str(), minor(&event.amount)),
        ("ship-1", 1_000)
    );
    let p = payment_when(&client, &order, "partially captured", |p| {
        p.status() == PaymentStatus::PartiallyCaptured
    })
    .await;
    assert_eq!(minor(&p.authorized_amount), 2_000);
}

#[tokio::test]
async fn a_void_releases_the_rest_of_a_partly_captured_card_and_settles_it() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut voided = env.tap("payments.payment.voided").await;
    let mut settled = env.tap("payments.order.settled").await;
    let order = new_order();

    request_payment(&env, &order, PaymentMethod::Card, "tok_visa", 9_000, 0).await;
    request_capture(&env, &order, "ship-1", 5_000, false).await;
    payment_when(&client, &order, "first capture", |p| {
        minor(&p.captured_amount) == 5_000
    })
    .await;
    // A cancelled line: orders voids what will never ship.
    request_void(&env, &order, None).await;
    let void: PaymentVoided = voided.next().await;
    assert_eq!(
        (minor(&void.amount), minor(&void.voided_total)),
        (4_000, 4_000)
    );
    let done: OrderSettled = settled.next().await;
    assert_eq!(minor(&done.captured_total), 5_000);
    let p = payment_when(&client, &order, "captured", |p| {
        p.status() == PaymentStatus::Captured
    })
    .await;
    assert!(p.settled);
}

#[tokio::test]
async fn an_authorization_about_to_lapse_is_renewed_and_the_capture_uses_the_new_hold() {
    let env = TestEnv::with(|s| s.clock = runtime::Clock::scaled(3600.0)).await;
    let payments = env.start(&FAST).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let order = new_order();

    request_payment(&env, &order, PaymentMethod::Card, "tok_visa", 7_000, 0).await;
    let auth: PaymentAuthorized = authorized.next().await;
    let renewed = payment_when(&client, &order, "a renewed hold", |p| {
        p.transactions
            .iter()
            .any(|t| t.kind() == TransactionKind::Reauthorization)
    })
    .await;
    assert_ne!(renewed.provider_reference, auth.provider_reference);
    let capture = client
        .clone()
        .capture(CaptureRequest {
            request_id: "cap-late".into(),
            payment_id: auth.payment_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(minor(&capture.payment.unwrap().captured_amount), 7_000);
    // The replaced hold was released at the provider, and nothing was captured on it.
    let released: Vec<(String, i64)> = sqlx::query_as(
        "SELECT operation, amount_minor FROM sim_provider_operations WHERE parent_reference = $1",
    )
    .bind(&auth.provider_reference)
    .fetch_all(&payments.pool)
    .await
    .unwrap();
    assert_eq!(released, [("void".into(), 7_000)]);
}

#[tokio::test]
async fn a_card_number_in_place_of_a_token_is_declined_and_kept_nowhere() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let mut declined = env.tap("payments.payment.declined").await;
    let order = new_order();

    request_payment(
        &env,
        &order,
        PaymentMethod::Card,
        "4111 1111 1111 1111",
        1_000,
        0,
    )
    .await;
    let event: PaymentDeclined = declined.next().await;
    assert_eq!(event.reason(), DeclineReason::ProviderDeclined);
    assert!(!event.message.contains("4111"));
    let stored: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM payments WHERE token IS NOT NULL)
              + (SELECT count(*) FROM sim_provider_operations)
              + (SELECT count(*) FROM payment_transactions WHERE failure_message LIKE '%4111%')",
    )
    .fetch_one(&payments.pool)
    .await
    .unwrap();
    assert_eq!(
        stored, 0,
        "the number reached neither the store nor the provider"
    );
}
