//! Bank transfer: pending with instructions until ConfirmBankTransfer (authorized, captured and
//! settled at once), or declined when its pay-by deadline passes unpaid.

use contracts::common::PaymentMethod;
use contracts::payments::{
    ConfirmBankTransferRequest, DeclineReason, OrderSettled, PaymentAuthorized, PaymentCaptured,
    PaymentDeclined, PaymentPending, PaymentStatus,
};
use testkit::TestEnv;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_confirmed_transfer_is_authorized_captured_and_settled_at_once() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut pending = env.tap("payments.payment.pending").await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut captured = env.tap("payments.payment.captured").await;
    let mut settled = env.tap("payments.order.settled").await;
    let order = new_order();

    request_payment(&env, &order, PaymentMethod::BankTransfer, "", 12_345, 0).await;
    let event: PaymentPending = pending.next().await;
    let instructions = event.instructions.unwrap();
    assert!(instructions.reference.starts_with("PAY-"));
    assert_eq!(minor(&instructions.amount), 12_345);
    assert!(!instructions.iban.is_empty());
    assert!(instructions.pay_by.is_some());

    let confirm = |request_id: &str, amount: i64| ConfirmBankTransferRequest {
        request_id: request_id.into(),
        reference: instructions.reference.to_lowercase(),
        amount_received: eur(amount),
        bank_reference: "BANK-778".into(),
        ..Default::default()
    };
    let short = client
        .clone()
        .confirm_bank_transfer(confirm("c-0", 12_000))
        .await
        .unwrap_err();
    assert_eq!(short.code(), Code::FailedPrecondition);
    assert!(
        short.message().contains("exact amount"),
        "{}",
        short.message()
    );

    let p = client
        .clone()
        .confirm_bank_transfer(confirm("c-1", 12_345))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(p.status(), PaymentStatus::Captured);
    assert!(p.settled);
    // The same request again answers the same; a different request under that id is refused.
    let again = client
        .clone()
        .confirm_bank_transfer(confirm("c-1", 12_345))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(again.id, p.id);
    let reused = client
        .clone()
        .confirm_bank_transfer(confirm("c-1", 1))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    let twice = client
        .clone()
        .confirm_bank_transfer(confirm("c-2", 12_345))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);

    let auth: PaymentAuthorized = authorized.next().await;
    let cap: PaymentCaptured = captured.next().await;
    let done: OrderSettled = settled.next().await;
    assert_eq!(auth.payment_id, p.id);
    assert_eq!(minor(&cap.captured_total), 12_345);
    assert_eq!(done.order_id, order);
    let (balances, balanced) = ledger(&payments, &p.id).await;
    assert!(balanced);
    assert_eq!(balance(&balances, "cash"), 12_345);
}

#[tokio::test]
async fn an_unpaid_transfer_is_declined_when_its_deadline_passes_and_cannot_be_confirmed_after() {
    let env = TestEnv::new().await;
    let payments = env.start(&FAST).await;
    let client = client(&payments).await;
    let mut declined = env.tap("payments.payment.declined").await;
    let order = new_order();

    request_payment(&env, &order, PaymentMethod::BankTransfer, "", 5_000, 0).await;
    let event: PaymentDeclined = declined.next().await;
    assert_eq!(event.order_id, order);
    assert_eq!(event.reason(), DeclineReason::BankTransferExpired);

    let late = client
        .clone()
        .confirm_bank_transfer(ConfirmBankTransferRequest {
            request_id: "late".into(),
            payment_id: event.payment_id.clone(),
            amount_received: eur(5_000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert!(late.message().contains("declined"), "{}", late.message());
}
