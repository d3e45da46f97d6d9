//! Analytics reflecting the cycle: several orders through different paths on one platform, then
//! every report analytics answers is checked to the unit against what happened.

use contracts::analytics::analytics_service_client::AnalyticsServiceClient;
use contracts::analytics::{
    GetFeedbackSummaryRequest, GetFeedbackSummaryResponse, GetFulfillmentKpisRequest,
    GetOrderKpisRequest, GetOrderKpisResponse, GetReturnStatsRequest, GetReturnStatsResponse,
    GetSalesTrendsRequest, Granularity,
};
use contracts::common::{PaymentMethod, ReturnReason};
use contracts::feedback::feedback_service_client::FeedbackServiceClient;
use contracts::feedback::{
    ModerateReviewRequest, ModerationDecision, SubmitReviewRequest, SubmitSurveyRequest,
};
use contracts::fulfillment::InspectionGrade;
use contracts::orders::{CancelReason, OrderStatus, ReturnStatus};
use tonic::transport::Channel;

use crate::after_sales::{receive_and_inspect, rma_in};
use crate::cycle::{
    BERLIN, PRICE, SKU, eur, order_in, order_request, place, ship_pending, stock, stock_settles_at,
};
use crate::paths::{accept, approved_return, completed_card_order, invited_survey};
use crate::platform::Platform;

/// What analytics reports once it has heard everything.
struct Reports {
    kpis: GetOrderKpisResponse,
    returns: GetReturnStatsResponse,
    feedback: GetFeedbackSummaryResponse,
}

async fn reports(analytics: &AnalyticsServiceClient<Channel>) -> Option<Reports> {
    let mut analytics = analytics.clone();
    Some(Reports {
        kpis: analytics
            .get_order_kpis(GetOrderKpisRequest::default())
            .await
            .ok()?
            .into_inner(),
        returns: analytics
            .get_return_stats(GetReturnStatsRequest {
                currency_code: "EUR".into(),
                ..Default::default()
            })
            .await
            .ok()?
            .into_inner(),
        feedback: analytics
            .get_feedback_summary(GetFeedbackSummaryRequest::default())
            .await
            .ok()?
            .into_inner(),
    })
}

#[tokio::test]
async fn analytics_counts_orders_money_cancellations_returns_and_customer_voice_exactly() {
    let env = testkit::TestEnv::with(|s| {
        s.clock = runtime::Clock::scaled(3600.0);
        // One customer places every order here: velocity must not hold any of them.
        s.overrides
            .insert("OC_PAYMENTS_RISK_VELOCITY_PER_HOUR".into(), "100".into());
    })
    .await;
    let p = Platform::start_in(env).await;
    stock(&p, 10).await;

    // A card order of two teas: completed, one tea returned and refunded, a survey answered
    // and a review published.
    let card = Box::pin(completed_card_order(&p, "an-card", 2)).await;
    let rma = approved_return(&p, &card, 1, ReturnReason::NoLongerNeeded).await;
    receive_and_inspect(&p, &rma, InspectionGrade::Resellable).await;
    rma_in(&p, &rma.id, ReturnStatus::Closed).await;
    let survey = invited_survey(&p, &card.id).await;
    let mut feedback = FeedbackServiceClient::new(p.service("feedback").channel().await);
    feedback
        .submit_survey(SubmitSurveyRequest {
            request_id: "an-survey".into(),
            survey_id: survey.id.clone(),
            csat_score: 4,
            nps_score: Some(9),
            comment: String::new(),
            tags: Vec::new(),
        })
        .await
        .unwrap();
    let review = feedback
        .submit_review(SubmitReviewRequest {
            request_id: "an-review".into(),
            order_id: card.id.clone(),
            customer_id: "cust-e2e".into(),
            sku: SKU.into(),
            rating: 4,
            title: "Good".into(),
            body: "A little dusty, fine taste.".into(),
            display_name: "Mei L.".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    feedback
        .moderate_review(ModerateReviewRequest {
            review_id: review.id.clone(),
            decision: ModerationDecision::Publish.into(),
            moderator_id: "moderator-1".into(),
            note: String::new(),
        })
        .await
        .unwrap();

    // Twenty teas with seven left (one came back): a shortage.
    let short = place(&p, order_request("an-short", 20, "tok_visa")).await;
    order_in(&p, &short.id, OrderStatus::Cancelled).await;
    // A declined card.
    let declined = place(&p, order_request("an-declined", 1, "tok_decline")).await;
    order_in(&p, &declined.id, OrderStatus::Cancelled).await;
    // Cash on delivery, collected at the door.
    let mut request = order_request("an-cod", 1, "");
    request.payment.as_mut().unwrap().method = PaymentMethod::CashOnDelivery.into();
    let cod = place(&p, request).await;
    order_in(&p, &cod.id, OrderStatus::InFulfillment).await;
    ship_pending(&p, &cod.id, "an-cod").await;
    order_in(&p, &cod.id, OrderStatus::Delivered).await;
    accept(&p, &cod.id).await;
    stock_settles_at(&p, BERLIN, (8, 0, 8)).await;

    let analytics = AnalyticsServiceClient::new(p.service("analytics").channel().await);
    let r = testkit::eventually("analytics to have heard everything", || async {
        let r = reports(&analytics).await?;
        (r.kpis.order_count == 4
            && r.kpis.cancelled_count == 2
            && r.kpis.delivered_count == 2
            && r.returns.return_count == 1
            && r.returns
                .refunded_amount
                .as_ref()
                .is_some_and(|m| m.amount_minor > 0)
            && r.feedback.surveys_submitted == 1
            && r.feedback.reviews_published == 1)
            .then_some(r)
    })
    .await;
    let Reports {
        kpis,
        returns,
        feedback,
    } = r;

    // Orders: four placed, two delivered (one perfect: the other had a return), two cancelled
    // for their own reasons, one of them a shortage; one customer, returning.
    assert_eq!(kpis.order_count, 4);
    assert_eq!(kpis.delivered_count, 2);
    assert_eq!(kpis.perfect_order_count, 1);
    assert_eq!(kpis.cancelled_count, 2);
    assert_eq!(kpis.cancellation_rate, 0.5);
    let cancellations: Vec<(CancelReason, i64)> = kpis
        .cancellations
        .iter()
        .map(|c| (c.reason(), c.count))
        .collect();
    assert_eq!(
        cancellations,
        [
            (CancelReason::OutOfStock, 1),
            (CancelReason::PaymentDeclined, 1)
        ]
    );
    assert_eq!(kpis.shortage_count, 1);
    assert_eq!(kpis.shortage_rate, 0.25);
    assert_eq!(
        (kpis.held_count, kpis.approved_count, kpis.rejected_count),
        (0, 0, 0)
    );
    assert_eq!(kpis.customer_count, 1);
    assert_eq!(kpis.repeat_customer_count, 1);
    // The payment mix: the shortage never reached payments, so card has one authorization and
    // one decline out of three orders; cash on delivery was accepted.
    let methods: Vec<(PaymentMethod, i64, i64, i64)> = kpis
        .payment_methods
        .iter()
        .map(|m| {
            (
                m.method(),
                m.order_count,
                m.authorized_count,
                m.declined_count,
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            (PaymentMethod::Card, 3, 1, 1),
            (PaymentMethod::CashOnDelivery, 1, 1, 0)
        ]
    );
    assert_eq!(kpis.payment_methods[0].order_share, 0.75);
    assert_eq!(kpis.payment_methods[0].decline_rate, 0.5);
    assert!(
        (kpis.decline_rate - 1.0 / 3.0).abs() < 1e-9,
        "{}",
        kpis.decline_rate
    );

    // Returns: one unit of three delivered, refunded, no longer needed.
    assert_eq!(returns.return_count, 1);
    assert_eq!(returns.returned_units, 1);
    assert_eq!(returns.delivered_units, 3);
    assert_eq!(returns.refunded_amount, Some(eur(PRICE)));
    assert_eq!((returns.exchange_count, returns.rejected_count), (0, 0));
    let reasons: Vec<(ReturnReason, i64, i64)> = returns
        .by_reason
        .iter()
        .map(|r| (r.reason(), r.return_count, r.units))
        .collect();
    assert_eq!(reasons, [(ReturnReason::NoLongerNeeded, 1, 1)]);
    assert_eq!(returns.top_skus.len(), 1);
    assert_eq!(returns.top_skus[0].sku, SKU);
    assert_eq!(
        (
            returns.top_skus[0].units_delivered,
            returns.top_skus[0].units_returned
        ),
        (3, 1)
    );
    assert!(returns.problems.is_empty());

    // Customer voice: one survey sent and answered (CSAT 4, a promoter), one 4-star review.
    assert_eq!(feedback.surveys_sent, 1);
    assert_eq!(feedback.surveys_submitted, 1);
    assert_eq!(feedback.response_rate, 1.0);
    assert_eq!(feedback.average_csat, 4.0);
    assert_eq!(feedback.nps, 100.0);
    assert_eq!(
        (feedback.promoters, feedback.passives, feedback.detractors),
        (1, 0, 0)
    );
    assert_eq!(feedback.reviews_published, 1);
    assert_eq!(feedback.average_rating, 4.0);
    let ratings: Vec<(i32, i64)> = feedback
        .rating_counts
        .iter()
        .map(|c| (c.rating, c.count))
        .collect();
    assert_eq!(ratings, [(1, 0), (2, 0), (3, 0), (4, 1), (5, 0)]);
    assert_eq!((feedback.cases_opened, feedback.cases_resolved), (0, 0));

    // Sales: every order placed counts in gross (2 + 20 + 1 + 1 teas); net is what was kept:
    // the card order and the cash, less the refund.
    let mut analytics = analytics.clone();
    let totals = analytics
        .get_sales_trends(GetSalesTrendsRequest {
            granularity: Granularity::Day.into(),
            currency_code: "EUR".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .totals
        .unwrap();
    assert_eq!((totals.order_count, totals.cancelled_count), (4, 2));
    assert_eq!(totals.units, 24);
    assert_eq!(totals.gross_sales, Some(eur(24 * PRICE)));
    assert_eq!(totals.refunds, Some(eur(PRICE)));
    assert_eq!(totals.net_sales, Some(eur(3 * PRICE - PRICE)));
    assert_eq!(totals.average_order_value, Some(eur(24 * PRICE / 4)));

    // The warehouse: two fulfilments, three units, two parcels handed over and delivered at
    // the first attempt.
    let warehouse = analytics
        .get_fulfillment_kpis(GetFulfillmentKpisRequest::default())
        .await
        .unwrap()
        .into_inner()
        .overall
        .unwrap();
    assert_eq!(warehouse.fulfillments_created, 2);
    assert_eq!(
        (warehouse.units_picked, warehouse.units_short_picked),
        (3, 0)
    );
    assert_eq!(
        (warehouse.parcels_packed, warehouse.parcels_handed_over),
        (2, 2)
    );
    assert_eq!(warehouse.average_parcel_weight_grams, 600);
    assert_eq!(
        (warehouse.shipments_delivered, warehouse.delivery_failures),
        (2, 0)
    );
    assert_eq!(warehouse.first_attempt_delivery_rate, 1.0);
    assert_eq!(
        (warehouse.pickups_ready, warehouse.pickups_collected),
        (0, 0)
    );
}
