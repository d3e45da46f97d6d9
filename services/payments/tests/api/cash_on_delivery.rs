//! Cash on delivery: accepted at once, captured as the courier collects, settled on collection;
//! refused above its limit.

use contracts::common::PaymentMethod;
use contracts::payments::{
    DeclineReason, OrderSettled, PaymentAuthorized, PaymentCaptured, PaymentDeclined,
    PaymentStatus, TransactionKind,
};
use testkit::TestEnv;

use crate::helpers::*;

#[tokio::test]
async fn cash_on_delivery_is_accepted_at_once_and_settles_when_the_cash_is_collected() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let client = client(&payments).await;
    let mut authorized = env.tap("payments.payment.authorized").await;
    let mut captured = env.tap("payments.payment.captured").await;
    let mut settled = env.tap("payments.order.settled").await;
    let mut declined = env.tap("payments.payment.declined").await;
    let order = new_order();

    request_payment(&env, &order, PaymentMethod::CashOnDelivery, "", 4_200, 0).await;
    let auth: PaymentAuthorized = authorized.next().await;
    assert_eq!(auth.method(), PaymentMethod::CashOnDelivery);
    assert!(auth.provider_reference.is_empty());

    request_capture(&env, &order, "ship-1", 4_200, true).await;
    let cap: PaymentCaptured = captured.next().await;
    assert_eq!(minor(&cap.amount), 4_200);
    let done: OrderSettled = settled.next().await;
    assert_eq!(done.order_id, order);
    let p = payment_when(&client, &order, "collected", |p| {
        p.status() == PaymentStatus::Captured
    })
    .await;
    assert!(
        p.transactions
            .iter()
            .any(|t| t.kind() == TransactionKind::CashCollection)
    );

    let big = new_order();
    request_payment(&env, &big, PaymentMethod::CashOnDelivery, "", 900_000, 0).await;
    let refused: PaymentDeclined = declined.next().await;
    assert_eq!(refused.order_id, big);
    assert_eq!(refused.reason(), DeclineReason::MethodNotAllowed);
}
