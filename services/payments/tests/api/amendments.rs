//! Amendments (`orders.payment.amend_requested`): an order update after confirmation changes
//! what the payment covers — an increase authorized again with the provider, a decrease voided,
//! a cash-on-delivery amount changed — or is declined with the reason; once per update; and
//! the captures of the new amount settle the order.

use contracts::common::PaymentMethod;
use contracts::payments::{
    DeclineReason, OrderSettled, PaymentAmendDeclined, PaymentAmended, PaymentAuthorized,
    PaymentPending, PaymentStatus, PaymentVoided, TransactionKind,
};
use testkit::TestEnv;

use crate::helpers::*;

/// A card payment of `total` authorized for a new order: (order id, payment id).
async fn authorized_card(
    env: &TestEnv,
    authorized: &mut testkit::EventTap,
    token: &str,
    total: i64,
) -> (String, String) {
    let order = new_order();
    request_payment(env, &order, PaymentMethod::Card, token, total, 0).await;
    let auth: PaymentAuthorized = authorized.next().await;
    assert_eq!(auth.order_id, order);
    (order, auth.payment_id)
}

fn kinds(p: &contracts::payments::Payment, kind: TransactionKind) -> Vec<i64> {
    p.transactions
        .iter()
        .filter(|t| t.kind() == kind)
        .map(|t| minor(&t.amount))
        .collect()
}

#[tokio::test]
async fn an_increase_is_authorized_again_and_the_payment_covers_the_new_amount() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut amended = env.tap("payments.payment.amended").await;
    let (order, payment) = authorized_card(&env, &mut authorized, "tok_visa", 10_000).await;

    request_amend(&env, &order, &payment, "upd-1", 13_000, false).await;
    let done: PaymentAmended = amended.next().await;
    assert_eq!(
        (
            done.payment_id.as_str(),
            done.order_id.as_str(),
            done.update_id.as_str()
        ),
        (payment.as_str(), order.as_str(), "upd-1")
    );
    assert_eq!(
        (minor(&done.amount), minor(&done.previous_amount)),
        (13_000, 10_000)
    );
    assert_eq!(done.method(), PaymentMethod::Card);
    assert!(!done.compensation);
    assert!(
        done.provider_reference.starts_with("sim_inc_"),
        "{}",
        done.provider_reference
    );

    let p = payment_when(&client, &order, "amended", |p| minor(&p.amount) == 13_000).await;
    assert_eq!(p.status(), PaymentStatus::Authorized);
    assert_eq!(minor(&p.authorized_amount), 13_000);
    assert_eq!(
        kinds(&p, TransactionKind::Authorization),
        vec![10_000, 3_000]
    );
    let (balances, balanced) = ledger(&payments, &p.id).await;
    assert!(balanced, "{balances:?}");
    assert_eq!(balance(&balances, "receivable"), 13_000);
    assert_eq!(balance(&balances, "customer"), -13_000);
}

#[tokio::test]
async fn an_increase_the_provider_declines_leaves_the_payment_unchanged() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut declined = env.tap("payments.payment.amend_declined").await;

    // Above the simulated card's limit for incremental authorizations.
    let (order, payment) = authorized_card(&env, &mut authorized, "tok_visa", 10_000).await;
    request_amend(&env, &order, &payment, "upd-big", 1_000_000, false).await;
    let no: PaymentAmendDeclined = declined.next().await;
    assert_eq!(
        (no.payment_id.as_str(), no.update_id.as_str()),
        (payment.as_str(), "upd-big")
    );
    assert_eq!(no.reason(), DeclineReason::ProviderDeclined);
    assert!(no.message.contains("limit"), "{}", no.message);
    // The answer is published with the outcome, so the payment is read after it.
    let p = payment_when(&client, &order, "read", |_| true).await;
    assert_eq!(
        (minor(&p.amount), minor(&p.authorized_amount)),
        (10_000, 10_000)
    );
    assert_eq!(p.status(), PaymentStatus::Authorized);
    assert_eq!(kinds(&p, TransactionKind::Authorization), vec![10_000]);

    // A card that ran dry after its first authorization.
    let (dry, dry_payment) = authorized_card(&env, &mut authorized, "tok_lapse", 5_000).await;
    request_amend(&env, &dry, &dry_payment, "upd-dry", 6_000, false).await;
    let no: PaymentAmendDeclined = declined.next().await;
    assert_eq!(no.order_id, dry);
    assert_eq!(no.reason(), DeclineReason::ProviderDeclined);
    assert!(no.message.contains("insufficient funds"), "{}", no.message);
    let p = payment_when(&client, &dry, "read", |_| true).await;
    assert_eq!(minor(&p.amount), 5_000);
    let (balances, _) = ledger(&payments, &p.id).await;
    assert_eq!(balance(&balances, "receivable"), 5_000);
}

#[tokio::test]
async fn a_decrease_voids_the_difference() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut amended = env.tap("payments.payment.amended").await;
    let mut voided = env.tap("payments.payment.voided").await;
    let (order, payment) = authorized_card(&env, &mut authorized, "tok_visa", 10_000).await;

    request_amend(&env, &order, &payment, "upd-less", 7_000, false).await;
    let done: PaymentAmended = amended.next().await;
    assert_eq!(
        (minor(&done.amount), minor(&done.previous_amount)),
        (7_000, 10_000)
    );
    assert!(done.provider_reference.is_empty());
    let void: PaymentVoided = voided.next().await;
    assert_eq!(
        (minor(&void.amount), minor(&void.voided_total)),
        (3_000, 3_000)
    );
    assert!(void.reason.contains("upd-less"), "{}", void.reason);

    let p = payment_when(&client, &order, "amended", |p| minor(&p.amount) == 7_000).await;
    assert_eq!(p.status(), PaymentStatus::Authorized);
    assert_eq!(
        (minor(&p.authorized_amount), minor(&p.voided_amount)),
        (7_000, 3_000)
    );
    assert_eq!(kinds(&p, TransactionKind::Void), vec![3_000]);
    let (balances, balanced) = ledger(&payments, &p.id).await;
    assert!(balanced, "{balances:?}");
    assert_eq!(balance(&balances, "receivable"), 7_000);
    assert_eq!(balance(&balances, "customer"), -7_000);
}

#[tokio::test]
async fn a_compensation_puts_an_increase_back_to_the_previous_amount() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut amended = env.tap("payments.payment.amended").await;
    let mut settled = env.tap("payments.order.settled").await;
    let (order, payment) = authorized_card(&env, &mut authorized, "tok_visa", 10_000).await;

    request_amend(&env, &order, &payment, "upd-2", 12_000, false).await;
    let up: PaymentAmended = amended.next().await;
    assert_eq!(minor(&up.amount), 12_000);
    // Fulfillment refused the update: orders puts the payment back.
    request_amend(&env, &order, &payment, "upd-2", 10_000, true).await;
    let back: PaymentAmended = amended.next().await;
    assert!(back.compensation, "the compensation is echoed");
    assert_eq!(back.update_id, "upd-2");
    assert_eq!(
        (minor(&back.amount), minor(&back.previous_amount)),
        (10_000, 12_000)
    );

    // The increase again, late (another event id): answered as before, nothing moves.
    request_amend(&env, &order, &payment, "upd-2", 12_000, false).await;
    let late: PaymentAmended = amended.next().await;
    assert_eq!(late, up);

    let p = payment_when(&client, &order, "put back", |p| minor(&p.amount) == 10_000).await;
    assert_eq!(
        (minor(&p.authorized_amount), minor(&p.voided_amount)),
        (10_000, 2_000)
    );
    assert_eq!(
        kinds(&p, TransactionKind::Authorization),
        vec![10_000, 2_000]
    );
    assert_eq!(kinds(&p, TransactionKind::Void), vec![2_000]);
    request_capture(&env, &order, "ship-1", 10_000, false).await;
    let done: OrderSettled = settled.next().await;
    assert_eq!(minor(&done.captured_total), 10_000);
}

#[tokio::test]
async fn a_cash_on_delivery_amount_changes_and_is_collected_in_full() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut amended = env.tap("payments.payment.amended").await;
    let mut declined = env.tap("payments.payment.amend_declined").await;
    let mut settled = env.tap("payments.order.settled").await;
    let order = new_order();
    request_payment(&env, &order, PaymentMethod::CashOnDelivery, "", 4_200, 0).await;
    let auth: PaymentAuthorized = authorized.next().await;

    request_amend(&env, &order, &auth.payment_id, "upd-cod", 5_000, false).await;
    let done: PaymentAmended = amended.next().await;
    assert_eq!(done.method(), PaymentMethod::CashOnDelivery);
    assert_eq!(
        (minor(&done.amount), minor(&done.previous_amount)),
        (5_000, 4_200)
    );
    assert!(done.provider_reference.is_empty());
    let p = payment_when(&client, &order, "amended", |p| minor(&p.amount) == 5_000).await;
    assert_eq!(minor(&p.authorized_amount), 5_000);

    // Above the cash-on-delivery limit (200,000 by default): declined, nothing changes.
    request_amend(
        &env,
        &order,
        &auth.payment_id,
        "upd-cod-big",
        250_000,
        false,
    )
    .await;
    let no: PaymentAmendDeclined = declined.next().await;
    assert_eq!(no.reason(), DeclineReason::MethodNotAllowed);
    assert!(no.message.contains("cash on delivery"), "{}", no.message);

    request_capture(&env, &order, "ship-1", 5_000, true).await;
    let done: OrderSettled = settled.next().await;
    assert_eq!(
        (done.order_id.as_str(), minor(&done.captured_total)),
        (order.as_str(), 5_000)
    );
    let p = payment_when(&client, &order, "collected", |p| {
        p.status() == PaymentStatus::Captured
    })
    .await;
    assert!(p.settled);
    assert_eq!(minor(&p.amount), 5_000);
}

#[tokio::test]
async fn payments_that_cannot_change_are_declined_with_the_reason() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut pending = env.tap("payments.payment.pending").await;
    let mut declined = env.tap("payments.payment.amend_declined").await;

    let transfer = new_order();
    request_payment(&env, &transfer, PaymentMethod::BankTransfer, "", 8_000, 0).await;
    let waiting: PaymentPending = pending.next().await;
    request_amend(&env, &transfer, &waiting.payment_id, "upd-bt", 9_000, false).await;
    let no: PaymentAmendDeclined = declined.next().await;
    assert_eq!(
        (no.order_id.as_str(), no.update_id.as_str()),
        (transfer.as_str(), "upd-bt")
    );
    assert_eq!(no.reason(), DeclineReason::MethodNotAllowed);
    assert!(no.message.contains("bank transfer"), "{}", no.message);

    let plan = new_order();
    request_payment(
        &env,
        &plan,
        PaymentMethod::Installments,
        "tok_visa",
        9_000,
        3,
    )
    .await;
    let accepted: PaymentAuthorized = authorized.next().await;
    assert_eq!(accepted.order_id, plan);
    request_amend(&env, &plan, &accepted.payment_id, "upd-plan", 6_000, false).await;
    let no: PaymentAmendDeclined = declined.next().await;
    assert_eq!(no.order_id, plan);
    assert_eq!(no.reason(), DeclineReason::MethodNotAllowed);
    assert!(no.message.contains("installment plan"), "{}", no.message);

    // Captured already: the money is taken, an amendment is too late.
    let (shipped, shipped_payment) =
        authorized_card(&env, &mut authorized, "tok_visa", 3_000).await;
    request_capture(&env, &shipped, "ship-1", 3_000, false).await;
    // Read, not tapped: the plan above settles too, on its own time.
    payment_when(&client, &shipped, "captured", |p| {
        p.status() == PaymentStatus::Captured
    })
    .await;
    request_amend(&env, &shipped, &shipped_payment, "upd-late", 2_000, false).await;
    let no: PaymentAmendDeclined = declined.next().await;
    assert_eq!(no.order_id, shipped);
    assert!(no.message.contains("captured already"), "{}", no.message);

    // The order was cancelled in between: its payment is voided.
    let (cancelled, cancelled_payment) =
        authorized_card(&env, &mut authorized, "tok_visa", 4_000).await;
    request_void(&env, &cancelled, None).await;
    payment_when(&client, &cancelled, "voided", |p| {
        p.status() == PaymentStatus::Voided
    })
    .await;
    request_amend(
        &env,
        &cancelled,
        &cancelled_payment,
        "upd-gone",
        4_500,
        false,
    )
    .await;
    let no: PaymentAmendDeclined = declined.next().await;
    assert_eq!(no.order_id, cancelled);
    assert!(no.message.contains("voided"), "{}", no.message);

    // No payment at all.
    let nobody = new_order();
    request_amend(&env, &nobody, "", "upd-none", 1_000, false).await;
    let no: PaymentAmendDeclined = declined.next().await;
    assert_eq!(no.order_id, nobody);
    assert!(no.message.contains("has no payment"), "{}", no.message);

    for (order, amount) in [
        (&transfer, 8_000),
        (&plan, 9_000),
        (&shipped, 3_000),
        (&cancelled, 4_000),
    ] {
        let p = payment_when(&client, order, "read", |_| true).await;
        assert_eq!(minor(&p.amount), amount, "unchanged");
    }
}

#[tokio::test]
async fn the_same_update_asked_twice_is_amended_once_and_answered_twice() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut amended = env.tap("payments.payment.amended").await;
    let (order, payment) = authorized_card(&env, &mut authorized, "tok_visa", 10_000).await;

    // The same request under two event ids.
    request_amend(&env, &order, &payment, "upd-twice", 11_000, false).await;
    request_amend(&env, &order, &payment, "upd-twice", 11_000, false).await;
    let first: PaymentAmended = amended.next().await;
    let second: PaymentAmended = amended.next().await;
    assert_eq!(first, second, "the stored answer, again");
    assert_eq!(
        (minor(&first.amount), minor(&first.previous_amount)),
        (11_000, 10_000)
    );

    let p = payment_when(&client, &order, "amended", |p| minor(&p.amount) == 11_000).await;
    assert_eq!(minor(&p.authorized_amount), 11_000);
    assert_eq!(
        kinds(&p, TransactionKind::Authorization),
        vec![10_000, 1_000]
    );
    // The provider was asked once.
    let increments: Vec<(i64, i32)> = sqlx::query_as(
        "SELECT amount_minor, calls FROM sim_provider_operations WHERE operation = 'increment'",
    )
    .fetch_all(&payments.pool)
    .await
    .unwrap();
    assert_eq!(increments, vec![(1_000, 1)]);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_amendments")
        .fetch_one(&payments.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn after_an_amendment_the_captures_of_the_new_amount_settle_the_order() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut amended = env.tap("payments.payment.amended").await;
    let mut captured = env.tap("payments.payment.captured").await;
    let mut settled = env.tap("payments.order.settled").await;

    // Lowered: settled at 8,000, not at the original 10,000.
    let (less, less_payment) = authorized_card(&env, &mut authorized, "tok_visa", 10_000).await;
    request_amend(&env, &less, &less_payment, "upd-less", 8_000, false).await;
    let _: PaymentAmended = amended.next().await;
    // 6,500 would be "everything" if the voided 2,000 were taken off the new amount again.
    request_capture(&env, &less, "ship-1", 6_500, false).await;
    let _: contracts::payments::PaymentCaptured = captured.next().await;
    let p = payment_when(&client, &less, "part captured", |p| {
        p.status() == PaymentStatus::PartiallyCaptured
    })
    .await;
    assert!(!p.settled, "6,500 of 8,000 is not everything");
    request_capture(&env, &less, "ship-2", 1_500, false).await;
    let done: OrderSettled = settled.next().await;
    assert_eq!(
        (done.order_id.as_str(), minor(&done.captured_total)),
        (less.as_str(), 8_000)
    );

    // Raised: the provider's hold grew, so captures beyond the original 10,000 go through.
    let (more, more_payment) = authorized_card(&env, &mut authorized, "tok_visa", 10_000).await;
    request_amend(&env, &more, &more_payment, "upd-more", 14_000, false).await;
    let _: PaymentAmended = amended.next().await;
    request_capture(&env, &more, "ship-1", 6_000, false).await;
    request_capture(&env, &more, "ship-2", 8_000, false).await;
    let done: OrderSettled = settled.next().await;
    assert_eq!(
        (done.order_id.as_str(), minor(&done.captured_total)),
        (more.as_str(), 14_000)
    );
    let p = payment_when(&client, &more, "captured", |p| {
        p.status() == PaymentStatus::Captured
    })
    .await;
    assert!(p.settled);
    assert_eq!(
        (minor(&p.amount), minor(&p.captured_amount)),
        (14_000, 14_000)
    );
    let (balances, balanced) = ledger(&payments, &p.id).await;
    assert!(balanced, "{balances:?}");
    assert_eq!(balance(&balances, "cash"), 14_000);
    assert_eq!(balance(&balances, "receivable"), 0);
}
