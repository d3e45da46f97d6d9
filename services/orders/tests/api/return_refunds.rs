//! A returned line is refunded exactly what it was charged (its share of the discount and its
//! tax), unit by unit after the units earlier returns of the line were refunded for.

use contracts::common::ReturnReason;
use contracts::fulfillment::{InspectedLine, InspectionGrade, ReturnInspected};
use contracts::orders::pricing_service_client::PricingServiceClient;
use contracts::orders::return_service_client::ReturnServiceClient;
use contracts::orders::{
    DiscountCode, DiscountKind, DiscountScope, NewReturnLine, PaymentRefundRequested,
    RequestReturnRequest, Return, ReturnResolution, ReturnStatus, TaxRate,
    UpsertDiscountCodeRequest, UpsertTaxRateRequest,
};
use contracts::payments::PaymentCaptured;
use prost::Message;

use crate::helpers::{TestApp, WAREHOUSE, eur, money, payment_id, valid_request};

async fn refunds(app: &TestApp) -> Vec<PaymentRefundRequested> {
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT payload FROM oc_outbox WHERE subject = 'orders.payment.refund_requested'
         ORDER BY seq",
    )
    .fetch_all(&app.orders.pool)
    .await
    .unwrap();
    payloads
        .iter()
        .map(|p| PaymentRefundRequested::decode(p.as_slice()).unwrap())
        .collect()
}

async fn return_one_defective(app: &TestApp, request_id: &str, order_id: &str) -> Return {
    let rma = ReturnServiceClient::new(app.orders.channel().await)
        .request_return(RequestReturnRequest {
            request_id: request_id.into(),
            order_id: order_id.into(),
            lines: vec![NewReturnLine {
                line_id: "L1".into(),
                quantity: 1,
                reason: ReturnReason::Defective.into(),
                note: String::new(),
            }],
            resolution: ReturnResolution::Refund.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .rma
        .unwrap();
    assert_eq!(rma.status(), ReturnStatus::Approved, "{rma:?}");
    let graded = ReturnInspected {
        return_id: rma.id.clone(),
        order_id: order_id.into(),
        warehouse_id: WAREHOUSE.into(),
        lines: vec![InspectedLine {
            line_id: "L1".into(),
            sku: "TEA-001".into(),
            quantity: 1,
            grade: InspectionGrade::Defective.into(),
            note: String::new(),
        }],
        inspected_by: "inspector-bo".into(),
        note: String::new(),
        inspected_at: None,
    };
    app.publish("fulfillment", &graded).await;
    rma
}

#[tokio::test]
async fn returned_units_are_refunded_their_share_of_the_discounted_taxed_line_one_after_another() {
    let app = TestApp::start().await;
    let pricing = || async { PricingServiceClient::new(app.orders.channel().await) };
    pricing()
        .await
        .upsert_tax_rate(UpsertTaxRateRequest {
            tax_rate: Some(TaxRate {
                country_code: "DE".into(),
                region: String::new(),
                category: "food".into(),
                rate_bps: 1900,
                updated_at: None,
            }),
        })
        .await
        .unwrap();
    pricing()
        .await
        .upsert_discount_code(UpsertDiscountCodeRequest {
            discount_code: Some(DiscountCode {
                code: "TEN".into(),
                kind: DiscountKind::Percentage.into(),
                percent_bps: 1000,
                scope: DiscountScope::Order.into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    // L1: 2 × TEA-001 at 12.50 (food, 19 %), L2: 1 × CUP-002 at 8.99; 10 % off the order.
    // 339.90 → 340 off, 250 of it on L1 (largest remainder): 2250 + 19 % (427.50 → 428) = 2678.
    let mut request = valid_request("refund-exact");
    request.lines[0].category = "food".into();
    request.discount_codes = vec!["TEN".into()];
    let order = app.delivered(request).await;
    let l1 = &order.lines[0];
    assert_eq!(money(&l1.charged).1, 2678, "{l1:?}");
    app.publish(
        "payments",
        &PaymentCaptured {
            payment_id: payment_id(&order),
            order_id: order.id.clone(),
            amount: order.total.clone(),
            captured_total: order.total.clone(),
            ..Default::default()
        },
    )
    .await;

    // The first unit of L1 is worth floor(2678 × 1 / 2) = 1339, not its list price 1250.
    let first = return_one_defective(&app, "rma-exact-1", &order.id).await;
    let asked = refunds(&app).await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].return_id, first.id);
    assert_eq!(asked[0].amount, Some(eur(1339)));

    // The second return of the line values its second unit: the two add up to the charge.
    let second = return_one_defective(&app, "rma-exact-2", &order.id).await;
    let asked = refunds(&app).await;
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(asked[1].return_id, second.id);
    assert_eq!(asked[1].amount, Some(eur(2678 - 1339)));
}
