//! Order totals: shipping by weight bracket, tax inclusive and exclusive, discount codes and
//! their limits (the race for the last use included), the client's expected total, and the
//! parcels' captures adding up to the total.

use contracts::common::Channel;
use contracts::orders::pricing_service_client::PricingServiceClient;
use contracts::orders::{
    AdjustmentKind, ChannelTaxMode, DiscountCode, DiscountKind, DiscountScope,
    ListDiscountCodesRequest, Order, OrderStatus, PaymentCaptureRequested, PlaceOrderRequest,
    QuoteOrderRequest, SetChannelTaxModeRequest, ShippingRate, TaxRate, UpsertDiscountCodeRequest,
    UpsertShippingRateRequest, UpsertTaxRateRequest,
};
use tonic::transport::Channel as GrpcChannel;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, eur, money, valid_request};

async fn pricing(app: &TestApp) -> PricingServiceClient<GrpcChannel> {
    PricingServiceClient::new(app.orders.channel().await)
}

/// `(field, description)` of every violation in an INVALID_ARGUMENT.
fn violations(status: &Status) -> Vec<(String, String)> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| (v.field.clone(), v.description.clone()))
        .collect()
}

fn amount(m: &Option<contracts::common::Money>) -> i64 {
    money(m).1
}

/// L1: 2 × TEA-001 at 12.50 (300 g each, category "food"); L2: 1 × CUP-002 at 8.99 (200 g,
/// no category): 33.99 and 800 g.
fn basket(request_id: &str) -> PlaceOrderRequest {
    let mut r = valid_request(request_id);
    r.lines[0].category = "food".into();
    r.lines[0].weight_grams = 300;
    r.lines[1].weight_grams = 200;
    r
}

async fn shipping_rate(app: &TestApp, country: &str, level: &str, min_weight: i64, fee: i64) {
    pricing(app)
        .await
        .upsert_shipping_rate(UpsertShippingRateRequest {
            shipping_rate: Some(ShippingRate {
                country_code: country.into(),
                region: String::new(),
                service_level: level.into(),
                min_weight_grams: min_weight,
                fee: Some(eur(fee)),
                updated_at: None,
            }),
        })
        .await
        .unwrap();
}

pub async fn tax_rate(app: &TestApp, country: &str, category: &str, bps: i32) {
    pricing(app)
        .await
        .upsert_tax_rate(UpsertTaxRateRequest {
            tax_rate: Some(TaxRate {
                country_code: country.into(),
                region: String::new(),
                category: category.into(),
                rate_bps: bps,
                updated_at: None,
            }),
        })
        .await
        .unwrap();
}

async fn upsert_code(app: &TestApp, code: DiscountCode) -> DiscountCode {
    pricing(app)
        .await
        .upsert_discount_code(UpsertDiscountCodeRequest {
            discount_code: Some(code),
        })
        .await
        .unwrap()
        .into_inner()
        .discount_code
        .unwrap()
}

fn percent_off_order(code: &str, bps: i32) -> DiscountCode {
    DiscountCode {
        code: code.into(),
        kind: DiscountKind::Percentage.into(),
        percent_bps: bps,
        scope: DiscountScope::Order.into(),
        ..Default::default()
    }
}

/// The figures every order's totals must satisfy, checked on what the API returned.
fn assert_adds_up(order: &Order) {
    let t = order.totals.as_ref().expect("totals");
    let total = amount(&t.subtotal) + amount(&t.shipping) - amount(&t.discount) + amount(&t.tax);
    assert_eq!(amount(&order.total), total, "{t:?}");
    assert_eq!(amount(&t.total), total);
    let charged: i64 = order.lines.iter().map(|l| amount(&l.charged)).sum();
    assert_eq!(charged + amount(&t.shipping), total);
    let discounts: i64 = order.lines.iter().map(|l| amount(&l.discount)).sum();
    assert_eq!(discounts, amount(&t.discount));
}

async fn place(app: &TestApp, request: PlaceOrderRequest) -> Result<Order, Status> {
    app.client()
        .await
        .place_order(request)
        .await
        .map(|r| r.into_inner().order.unwrap())
}

#[tokio::test]
async fn an_order_with_no_tables_configured_costs_the_sum_of_its_lines() {
    let app = TestApp::start().await;
    let order = place(&app, basket("plain")).await.unwrap();
    let t = order.totals.clone().unwrap();
    assert_eq!(amount(&order.total), 3399);
    assert_eq!(
        (
            amount(&t.subtotal),
            amount(&t.shipping),
            amount(&t.discount),
            amount(&t.tax)
        ),
        (3399, 0, 0, 0)
    );
    assert_eq!(t.shipping_service_level, "standard");
    assert_eq!(t.total_weight_grams, 800);
    assert_adds_up(&order);
    // What PlaceOrder answered is what GetOrder reads back.
    assert_eq!(app.order(&order.id).await.totals, order.totals);
}

#[tokio::test]
async fn shipping_is_charged_by_destination_weight_bracket_and_service_level() {
    let app = TestApp::start().await;
    shipping_rate(&app, "DE", "standard", 0, 495).await;
    shipping_rate(&app, "DE", "standard", 1000, 795).await;
    shipping_rate(&app, "DE", "express", 0, 1295).await;

    let light = place(&app, basket("light")).await.unwrap();
    assert_eq!(amount(&light.totals.as_ref().unwrap().shipping), 495);
    assert_eq!(amount(&light.total), 3399 + 495);
    assert_adds_up(&light);
    let shipping = &light.totals.as_ref().unwrap().adjustments[0];
    assert_eq!(shipping.kind(), AdjustmentKind::Shipping);
    assert_eq!(
        (shipping.code.as_str(), amount(&shipping.amount)),
        ("standard", 495)
    );

    // 2 × 300 g + 1 × 400 g = 1000 g: the next bracket.
    let mut heavy = basket("heavy");
    heavy.lines[1].weight_grams = 400;
    let heavy = place(&app, heavy).await.unwrap();
    assert_eq!(amount(&heavy.totals.as_ref().unwrap().shipping), 795);

    let mut express = basket("express");
    express.shipping_service_level = "express".into();
    let express = place(&app, express).await.unwrap();
    assert_eq!(amount(&express.totals.as_ref().unwrap().shipping), 1295);

    let mut unknown = basket("overnight");
    unknown.shipping_service_level = "overnight".into();
    let refused = violations(&place(&app, unknown).await.unwrap_err());
    assert_eq!(refused[0].0, "shipping_service_level", "{refused:?}");

    let mut abroad = basket("abroad");
    abroad.shipping_address.as_mut().unwrap().country_code = "FR".into();
    let refused = violations(&place(&app, abroad).await.unwrap_err());
    assert_eq!(refused[0].0, "shipping_address.country_code", "{refused:?}");
    assert_eq!(app.order_rows().await, 3);
}

#[tokio::test]
async fn tax_is_added_on_exclusive_channels_and_contained_on_inclusive_ones() {
    let app = TestApp::start().await;
    tax_rate(&app, "DE", "*", 1900).await;
    tax_rate(&app, "DE", "food", 700).await;

    // Web is tax-exclusive by default: 7 % of 25.00 = 1.75; 19 % of 8.99 = 1.7081 → 1.71.
    let web = place(&app, basket("web")).await.unwrap();
    let t = web.totals.clone().unwrap();
    assert!(!t.tax_inclusive);
    assert_eq!((amount(&t.tax), amount(&t.included_tax)), (175 + 171, 0));
    assert_eq!(amount(&web.total), 3399 + 346);
    assert_eq!(amount(&web.lines[0].tax), 175);
    assert_eq!(amount(&web.lines[0].charged), 2500 + 175);
    assert_adds_up(&web);

    pricing(&app)
        .await
        .set_channel_tax_mode(SetChannelTaxModeRequest {
            channel_tax_mode: Some(ChannelTaxMode {
                channel: Channel::MobileApp.into(),
                tax_inclusive: true,
                updated_at: None,
            }),
        })
        .await
        .unwrap();
    // The app's prices contain the tax: 25.00 × 7/107 = 1.6355 → 1.64; 8.99 × 19/119 = 1.4353
    // → 1.44. Nothing is added.
    let mut request = basket("app");
    request.channel = Channel::MobileApp.into();
    let app_order = place(&app, request).await.unwrap();
    let t = app_order.totals.clone().unwrap();
    assert!(t.tax_inclusive);
    assert_eq!((amount(&t.tax), amount(&t.included_tax)), (0, 164 + 144));
    assert_eq!(amount(&app_order.total), 3399);
    assert!(
        t.adjustments.iter().all(
            |a| a.kind() == AdjustmentKind::IncludedTax || a.kind() == AdjustmentKind::Shipping
        )
    );
    assert_adds_up(&app_order);
}

#[tokio::test]
async fn discount_codes_reduce_the_order_and_are_redeemed_with_it() {
    let app = TestApp::start().await;
    upsert_code(
        &app,
        DiscountCode {
            min_spend: Some(eur(3000)),
            ..percent_off_order("TEN", 1000)
        },
    )
    .await;
    upsert_code(
        &app,
        DiscountCode {
            code: "cup1".into(),
            kind: DiscountKind::Fixed.into(),
            amount: Some(eur(100)),
            scope: DiscountScope::Line.into(),
            sku: "CUP-002".into(),
            ..Default::default()
        },
    )
    .await;

    let mut request = basket("codes");
    request.discount_codes = vec!["ten".into(), "CUP1".into()];
    let order = place(&app, request).await.unwrap();
    // CUP1 first: 8.99 − 1.00 = 7.99; then 10 % of 25.00 + 7.99 = 3.299 → 3.30, shared 250 : 80.
    let t = order.totals.clone().unwrap();
    assert_eq!(amount(&t.discount), 100 + 330);
    assert_eq!(amount(&order.total), 3399 - 430);
    assert_eq!(amount(&order.lines[0].discount), 250);
    assert_eq!(amount(&order.lines[1].discount), 180);
    assert_adds_up(&order);
    let codes: Vec<(String, i64, String)> = t
        .adjustments
        .iter()
        .filter(|a| a.kind() == AdjustmentKind::Discount)
        .map(|a| (a.code.clone(), amount(&a.amount), a.line_id.clone()))
        .collect();
    assert_eq!(
        codes,
        [
            ("CUP1".into(), 100, "L2".into()),
            ("TEN".into(), 330, String::new())
        ]
    );

    let redeemed: Vec<(String, i64)> = sqlx::query_as(
        "SELECT code, amount_minor FROM discount_redemptions WHERE order_id = $1::uuid ORDER BY code",
    )
    .bind(&order.id)
    .fetch_all(&app.orders.pool)
    .await
    .unwrap();
    assert_eq!(redeemed, [("CUP1".into(), 100), ("TEN".into(), 330)]);
    let listed = pricing(&app)
        .await
        .list_discount_codes(ListDiscountCodesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .discount_codes;
    assert!(listed.iter().all(|c| c.times_used == 1), "{listed:?}");

    // Below the minimum spend the code is refused, naming it.
    let mut small = basket("small");
    small.lines.truncate(1);
    small.discount_codes = vec!["TEN".into()];
    let refused = violations(&place(&app, small).await.unwrap_err());
    assert_eq!(refused[0].0, "discount_codes[0]");
    assert!(refused[0].1.contains("minimum spend"), "{refused:?}");
}

#[tokio::test]
async fn unknown_expired_and_used_up_codes_are_refused_with_a_violation_each() {
    let app = TestApp::start().await;
    let past = prost_types::Timestamp {
        seconds: 1_600_000_000,
        nanos: 0,
    };
    upsert_code(
        &app,
        DiscountCode {
            valid_until: Some(past),
            ..percent_off_order("OLD", 500)
        },
    )
    .await;
    upsert_code(
        &app,
        DiscountCode {
            max_uses: 1,
            ..percent_off_order("ONCE", 500)
        },
    )
    .await;
    let mut first = basket("first");
    first.discount_codes = vec!["ONCE".into()];
    place(&app, first).await.unwrap();

    let mut request = basket("bad-codes");
    request.discount_codes = vec!["NOPE".into(), "OLD".into(), "ONCE".into()];
    let refused = violations(&place(&app, request).await.unwrap_err());
    let fields: Vec<&str> = refused.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "discount_codes[0]",
            "discount_codes[1]",
            "discount_codes[2]"
        ]
    );
    assert!(refused[0].1.contains("not a valid code"), "{refused:?}");
    assert!(refused[1].1.contains("expired"), "{refused:?}");
    assert!(refused[2].1.contains("used up"), "{refused:?}");
    assert_eq!(app.order_rows().await, 1);
}

#[tokio::test]
async fn a_customer_may_use_a_code_only_as_often_as_it_allows() {
    let app = TestApp::start().await;
    upsert_code(
        &app,
        DiscountCode {
            max_uses_per_customer: 1,
            ..percent_off_order("WELCOME", 1500)
        },
    )
    .await;
    let with_code = |request_id: &str, customer: &str, email: &str| {
        let mut r = basket(request_id);
        r.discount_codes = vec!["WELCOME".into()];
        let c = r.customer.as_mut().unwrap();
        c.id = customer.into();
        c.email = email.into();
        r
    };
    place(&app, with_code("a-1", "cust-a", "a@example.com"))
        .await
        .unwrap();
    let again = place(&app, with_code("a-2", "cust-a", "a@example.com")).await;
    let refused = violations(&again.unwrap_err());
    assert_eq!(refused[0].0, "discount_codes[0]");
    assert!(refused[0].1.contains("per customer"), "{refused:?}");
    // The same person as a guest (same e-mail) is the same customer.
    let guest = place(&app, with_code("a-3", "", "A@example.com")).await;
    assert_eq!(violations(&guest.unwrap_err())[0].0, "discount_codes[0]");
    // Another customer may.
    place(&app, with_code("b-1", "cust-b", "b@example.com"))
        .await
        .unwrap();
    // A replay of the first order is still answered with it.
    let replay = place(&app, with_code("a-1", "cust-a", "a@example.com")).await;
    assert!(replay.is_ok(), "{replay:?}");
}

#[tokio::test]
async fn two_orders_racing_for_the_last_use_of_a_code_exactly_one_wins() {
    let app = TestApp::start().await;
    upsert_code(
        &app,
        DiscountCode {
            max_uses: 1,
            ..percent_off_order("LAST", 2000)
        },
    )
    .await;
    let racers: Vec<_> = (0..6)
        .map(|i| {
            let mut r = basket(&format!("race-{i}"));
            r.discount_codes = vec!["LAST".into()];
            r.customer.as_mut().unwrap().id = format!("racer-{i}");
            r.customer.as_mut().unwrap().email = format!("racer-{i}@example.com");
            r
        })
        .collect();
    let mut clients = Vec::new();
    for _ in 0..racers.len() {
        clients.push(app.client().await);
    }
    let results = futures::future::join_all(
        clients
            .into_iter()
            .zip(racers)
            .map(|(mut client, r)| async move { client.place_order(r).await }),
    )
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for lost in results.iter().filter_map(|r| r.as_ref().err()) {
        let refused = violations(lost);
        assert!(refused[0].1.contains("used up"), "{refused:?}");
    }
    let (used, redeemed): (i32, i64) = sqlx::query_as(
        "SELECT times_used, (SELECT count(*) FROM discount_redemptions WHERE code = 'LAST')
         FROM discount_codes WHERE code = 'LAST'",
    )
    .fetch_one(&app.orders.pool)
    .await
    .unwrap();
    assert_eq!((used, redeemed), (1, 1));
    assert_eq!(app.order_rows().await, 1);
}

#[tokio::test]
async fn the_same_request_sent_at_once_with_a_code_left_once_gets_the_one_order_each_time() {
    let app = TestApp::start().await;
    upsert_code(
        &app,
        DiscountCode {
            max_uses: 1,
            ..percent_off_order("ONLY", 1000)
        },
    )
    .await;
    let mut request = basket("twice");
    request.discount_codes = vec!["ONLY".into()];
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(app.client().await);
    }
    let results = futures::future::join_all(clients.into_iter().map(|mut client| {
        let request = request.clone();
        async move { client.place_order(request).await }
    }))
    .await;
    let ids: Vec<String> = results
        .into_iter()
        .map(|r| r.unwrap().into_inner().order.unwrap().id)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(app.order_rows().await, 1);
}

#[tokio::test]
async fn an_expected_total_that_does_not_match_is_refused_with_both_figures() {
    let app = TestApp::start().await;
    shipping_rate(&app, "DE", "standard", 0, 495).await;

    // The client still thinks in Σ lines.
    let mut stale = basket("stale");
    stale.expected_total = Some(eur(3399));
    let refused = violations(&place(&app, stale).await.unwrap_err());
    assert_eq!(refused[0].0, "expected_total");
    assert!(
        refused[0].1.contains("3399") && refused[0].1.contains("3894"),
        "{refused:?}"
    );
    assert_eq!(app.order_rows().await, 0);

    // A quote gives the figure; placing with it succeeds.
    let quote = pricing(&app)
        .await
        .quote_order(QuoteOrderRequest {
            order: Some(basket("quoted")),
        })
        .await
        .unwrap()
        .into_inner();
    let quoted = quote.totals.unwrap().total;
    assert_eq!(amount(&quoted), 3894);
    let mut request = basket("quoted");
    request.expected_total = quoted;
    let order = place(&app, request).await.unwrap();
    assert_eq!(amount(&order.total), 3894);
}

#[tokio::test]
async fn the_parcels_capture_what_their_lines_were_charged_and_the_first_takes_the_shipping() {
    let app = TestApp::start().await;
    shipping_rate(&app, "DE", "standard", 0, 495).await;
    tax_rate(&app, "DE", "*", 1900).await;
    upsert_code(&app, percent_off_order("SAVE7", 700)).await;
    let mut request = basket("parcels");
    request.lines[0].quantity = 3;
    request.discount_codes = vec!["SAVE7".into()];
    let order = app.confirmed(request).await;
    assert_adds_up(&order);
    // The payment asked for is the total.
    assert_eq!(
        amount(&crate::helpers::authorized(&order).amount),
        amount(&order.total)
    );

    app.fulfillment_created(&order).await;
    let mut captures = app.env.tap("orders.payment.capture_requested").await;
    app.hand_over(&order, "p-1", &[("L1", 2)]).await;
    app.hand_over(&order, "p-2", &[("L1", 1), ("L2", 1)]).await;
    let first: PaymentCaptureRequested = captures.next().await;
    let second: PaymentCaptureRequested = captures.next().await;
    let charged = |i: usize| amount(&order.lines[i].charged);
    let two_of_three = charged(0) * 2 / 3;
    assert_eq!(amount(&first.amount), two_of_three + 495);
    assert_eq!(
        amount(&second.amount),
        charged(0) - two_of_three + charged(1)
    );
    assert_eq!(
        amount(&first.amount) + amount(&second.amount),
        amount(&order.total)
    );
    assert_eq!(app.order(&order.id).await.status(), OrderStatus::Shipped);
}

#[tokio::test]
async fn table_rows_are_checked_field_by_field() {
    let app = TestApp::start().await;
    let mut client = pricing(&app).await;
    let status = client
        .upsert_discount_code(UpsertDiscountCodeRequest {
            discount_code: Some(DiscountCode {
                code: "no spaces".into(),
                kind: DiscountKind::Percentage.into(),
                percent_bps: 20_000,
                scope: DiscountScope::Line.into(),
                sku: String::new(),
                max_uses: -1,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    for expected in [
        "discount_code.code",
        "discount_code.percent_bps",
        "discount_code.sku",
        "discount_code.max_uses",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} not in {fields:?}"
        );
    }
    let status = client
        .upsert_tax_rate(UpsertTaxRateRequest {
            tax_rate: Some(TaxRate {
                country_code: "Germany".into(),
                rate_bps: 10_001,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["tax_rate.country_code", "tax_rate.rate_bps"]);
    let status = client
        .upsert_shipping_rate(UpsertShippingRateRequest {
            shipping_rate: Some(ShippingRate {
                country_code: "*".into(),
                region: "BY".into(),
                service_level: "Express!".into(),
                min_weight_grams: -1,
                fee: None,
                updated_at: None,
            }),
        })
        .await
        .unwrap_err();
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        [
            "shipping_rate.region",
            "shipping_rate.service_level",
            "shipping_rate.min_weight_grams",
            "shipping_rate.fee"
        ]
    );
}
