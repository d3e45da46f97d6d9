//! Every PaymentService RPC refuses invalid input with INVALID_ARGUMENT naming each bad field,
//! answers NOT_FOUND for what does not exist, and never echoes a card number.

use contracts::common::{Money, PaymentMethod};
use contracts::payments::{
    CaptureRequest, ConfirmBankTransferRequest, GetInstallmentPlanRequest, GetPaymentRequest,
    ListPaymentsRequest, PaymentStatus, RefundRequest, VoidRequest,
};
use testkit::TestEnv;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use crate::helpers::*;

fn fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

const PAN: &str = "4111-1111-1111-1111";

#[tokio::test]
async fn every_rpc_names_its_invalid_fields() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let mut c = client(&payments).await;

    let err = c
        .get_payment(GetPaymentRequest::default())
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["id"]);
    let err = c
        .get_payment(GetPaymentRequest {
            id: "x".into(),
            order_id: "y".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["order_id"]);
    let err = c
        .get_payment(GetPaymentRequest {
            id: "not-a-uuid".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["id"]);

    let err = c
        .list_payments(ListPaymentsRequest {
            page_size: 501,
            page_token: "nonsense".into(),
            order_id: "x".into(),
            statuses: vec![0, 42],
            method: 17,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "page_size",
            "order_id",
            "statuses[0]",
            "statuses[1]",
            "method",
            "page_token"
        ]
    );

    let err = c
        .capture(CaptureRequest {
            request_id: String::new(),
            payment_id: "x".into(),
            amount: Some(Money {
                currency_code: "eur".into(),
                amount_minor: 0,
            }),
            shipment_id: String::new(),
            note: PAN.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "request_id",
            "payment_id",
            "amount.currency_code",
            "amount.amount_minor",
            "note"
        ]
    );
    assert!(!err.message().contains("4111"));

    let err = c
        .void(VoidRequest {
            request_id: PAN.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["request_id", "payment_id", "reason"]);

    let err = c
        .refund(RefundRequest {
            request_id: "r".into(),
            payment_id: uuid::Uuid::new_v4().to_string(),
            amount: eur(-5),
            reason: "x".repeat(501),
            return_id: PAN.into(),
            case_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["amount.amount_minor", "reason", "return_id"]);

    let err = c
        .confirm_bank_transfer(ConfirmBankTransferRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        ["request_id", "payment_id", "amount_received"]
    );
    let err = c
        .confirm_bank_transfer(ConfirmBankTransferRequest {
            request_id: "r".into(),
            payment_id: uuid::Uuid::new_v4().to_string(),
            reference: "PAY-1".into(),
            amount_received: eur(1),
            bank_reference: PAN.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["reference", "bank_reference"]);

    let err = c
        .get_installment_plan(GetInstallmentPlanRequest::default())
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["id"]);

    // Well-formed but unknown.
    let unknown = uuid::Uuid::new_v4().to_string();
    let err = c
        .get_payment(GetPaymentRequest {
            order_id: unknown.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .capture(CaptureRequest {
            request_id: "cap".into(),
            payment_id: unknown.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .get_installment_plan(GetInstallmentPlanRequest {
            id: unknown,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn money_rpcs_check_the_currency_and_the_request_id() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let c = client(&payments).await;
    let order = new_order();
    request_payment(&env, &order, PaymentMethod::Card, "tok_visa", 8_000, 0).await;
    let p = payment_when(&c, &order, "authorized", |p| {
        p.status() == PaymentStatus::Authorized
    })
    .await;

    let usd = c
        .clone()
        .capture(CaptureRequest {
            request_id: "cap-usd".into(),
            payment_id: p.id.clone(),
            amount: Some(Money {
                currency_code: "USD".into(),
                amount_minor: 100,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&usd), ["amount.currency_code"]);

    let capture = |amount: i64| CaptureRequest {
        request_id: "cap-1".into(),
        payment_id: p.id.clone(),
        amount: eur(amount),
        ..Default::default()
    };
    let first = c
        .clone()
        .capture(capture(3_000))
        .await
        .unwrap()
        .into_inner();
    let again = c
        .clone()
        .capture(capture(3_000))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.transaction, again.transaction,
        "the first answer, once"
    );
    assert_eq!(minor(&again.payment.unwrap().captured_amount), 3_000);
    let other = c.clone().capture(capture(1_000)).await.unwrap_err();
    assert_eq!(other.code(), Code::AlreadyExists);
    let too_much = c
        .clone()
        .capture(CaptureRequest {
            request_id: "cap-2".into(),
            payment_id: p.id.clone(),
            amount: eur(5_001),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(too_much.code(), Code::FailedPrecondition);

    let listed = c
        .clone()
        .list_payments(ListPaymentsRequest {
            statuses: vec![PaymentStatus::PartiallyCaptured.into()],
            method: PaymentMethod::Card.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.payments.len(), 1);
    assert_eq!(listed.payments[0].id, p.id);
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_what_was_captured() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let c = client(&payments).await;
    let order = new_order();
    request_payment(&env, &order, PaymentMethod::Card, "tok_visa", 1_000, 0).await;
    request_capture(&env, &order, "ship-1", 1_000, false).await;
    let p = payment_when(&c, &order, "captured", |p| p.settled).await;

    let attempts = (0..6).map(|i| {
        let mut c = c.clone();
        let id = p.id.clone();
        async move {
            c.refund(RefundRequest {
                request_id: format!("refund-{i}"),
                payment_id: id,
                amount: eur(300),
                reason: "goodwill".into(),
                ..Default::default()
            })
            .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 3, "3 × 300 fit in 1,000; the rest are refused");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| e.code() == Code::FailedPrecondition)
    );
    let p = payment_when(&c, &order, "refunded", |_| true).await;
    assert_eq!(minor(&p.refunded_amount), 900);
    let (_, balanced) = ledger(&payments, &p.id).await;
    assert!(balanced);
}

#[tokio::test]
async fn listing_pages_newest_first() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let c = client(&payments).await;
    let orders: Vec<String> = (0..3).map(|_| new_order()).collect();
    for o in &orders {
        request_payment(&env, o, PaymentMethod::CashOnDelivery, "", 100, 0).await;
        payment_when(&c, o, "accepted", |_| true).await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .clone()
            .list_payments(ListPaymentsRequest {
                page_size: 2,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.payments.into_iter().map(|p| p.order_id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let expected: Vec<String> = orders.iter().rev().cloned().collect();
    assert_eq!(seen, expected);
}
