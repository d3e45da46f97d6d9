//! Velocity: other orders placed in the hour before an order that share its customer, payment
//! token, address or phone. Each order is published with an explicit `placed_at` and assessed
//! before the next one is published, so every count is exact.

use chrono::{DateTime, Duration, Utc};
use contracts::common::{Address, Customer, Money};
use contracts::orders::{OrderLine, OrderPlaced};
use contracts::payments::risk_service_client::RiskServiceClient;
use contracts::payments::{GetRiskAssessmentRequest, RiskAssessed, RiskReason};
use contracts::time::to_timestamp;
use runtime::pan::fingerprint;
use testkit::{EventTap, TestEnv};

use crate::helpers::publish;

/// Noon of a fixed day: the orders' `placed_at` are minutes around it.
fn noon() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn address(country: &str, postal_code: &str, line1: &str) -> Address {
    Address {
        recipient: "R".into(),
        line1: line1.into(),
        city: "Berlin".into(),
        postal_code: postal_code.into(),
        country_code: country.into(),
        ..Default::default()
    }
}

/// An ordinary order by `customer` placed `minutes` after noon: a small total, one unit, an
/// address of its own (shipping = billing), no phone and no payment token.
fn order(customer: &str, minutes: i64) -> OrderPlaced {
    let own = address("DE", "10117", &format!("{customer} Allee 1"));
    OrderPlaced {
        order_id: uuid::Uuid::new_v4().to_string(),
        order_number: "OC-1".into(),
        customer: Some(Customer {
            id: customer.into(),
            name: "N".into(),
            email: format!("{customer}@example.com"),
            phone: String::new(),
        }),
        lines: vec![OrderLine {
            line_id: "L1".into(),
            sku: "S".into(),
            quantity: 1,
            ..Default::default()
        }],
        total: Some(Money {
            currency_code: "EUR".into(),
            amount_minor: 1_000,
        }),
        shipping_address: Some(own.clone()),
        billing_address: Some(own),
        placed_at: Some(to_timestamp(noon() + Duration::minutes(minutes))),
        ..Default::default()
    }
}

/// Publishes `placed` and waits for its assessment.
async fn assess(env: &TestEnv, assessed: &mut EventTap, placed: &OrderPlaced) -> RiskAssessed {
    publish(env, placed).await;
    let event: RiskAssessed = assessed.next().await;
    assert_eq!(event.order_id, placed.order_id);
    event
}

fn codes(event: &RiskAssessed) -> Vec<&str> {
    event.reasons.iter().map(|r| r.code.as_str()).collect()
}

fn reason<'a>(event: &'a RiskAssessed, code: &str) -> &'a RiskReason {
    event
        .reasons
        .iter()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("no {code} in {:?}", event.reasons))
}

#[tokio::test]
async fn orders_by_different_customers_with_one_payment_token_score_token_velocity() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let mut assessed = env.tap("payments.risk.assessed").await;
    let shared = fingerprint("tok_shared");
    let with_token = |customer: &str, minutes: i64, token: &str| OrderPlaced {
        payment_token_fingerprint: token.into(),
        ..order(customer, minutes)
    };

    // Exactly an hour before the fourth order: outside its hour.
    let first = assess(&env, &mut assessed, &with_token("c-1", -60, &shared)).await;
    assert_eq!(codes(&first), ["first_order"]);
    for (customer, minutes) in [("c-2", -50), ("c-3", -1), ("c-4", 0)] {
        let event = assess(&env, &mut assessed, &with_token(customer, minutes, &shared)).await;
        assert_eq!(
            codes(&event),
            ["first_order"],
            "{customer}: fewer than 3 other orders with the token in its hour"
        );
        assert_eq!(event.score, 5);
    }

    // c-2, c-3 and c-4 within the hour before it: the fourth order in an hour.
    let fifth = with_token("c-5", 1, &shared);
    let event = assess(&env, &mut assessed, &fifth).await;
    assert_eq!(codes(&event), ["token_velocity", "first_order"]);
    let velocity = reason(&event, "token_velocity");
    assert_eq!(
        velocity.description,
        "3 other orders with this payment token in the last hour"
    );
    assert_eq!(velocity.points, 25);
    assert_eq!(event.score, 30);

    // Another token within the same hour is not counted with them.
    let other = assess(
        &env,
        &mut assessed,
        &with_token("c-6", 2, &fingerprint("tok_other")),
    )
    .await;
    assert_eq!(codes(&other), ["first_order"]);
    // Nor is an order without a token.
    let none = assess(&env, &mut assessed, &with_token("c-7", 3, "")).await;
    assert_eq!(codes(&none), ["first_order"]);

    // The stored assessment says the same, and the row keeps the fingerprint only.
    let mut client = RiskServiceClient::new(payments.channel().await);
    let stored = client
        .get_risk_assessment(GetRiskAssessmentRequest {
            order_id: fifth.order_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert_eq!(stored.score, 30);
    assert_eq!(stored.reasons, event.reasons);
    let kept: Option<String> =
        sqlx::query_scalar("SELECT token_fingerprint FROM risk_assessments WHERE order_id = $1")
            .bind(uuid::Uuid::parse_str(&fifth.order_id).unwrap())
            .fetch_one(&payments.pool)
            .await
            .unwrap();
    assert_eq!(kept, Some(shared));
}

#[tokio::test]
async fn orders_by_different_customers_to_one_address_score_address_velocity() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let mut assessed = env.tap("payments.risk.assessed").await;
    let to = |customer: &str, minutes: i64, shipping: Address, billing: Address| OrderPlaced {
        shipping_address: Some(shipping),
        billing_address: Some(billing),
        ..order(customer, minutes)
    };
    let drop = address("DE", "10115", "Invalidenstr. 1");
    let elsewhere = address("DE", "10117", "Unter den Linden 5");

    let mut events = Vec::new();
    for placed in [
        to("c-1", 0, drop.clone(), drop.clone()),
        // Billed to the address (shipped elsewhere), typed another way.
        to(
            "c-2",
            1,
            elsewhere.clone(),
            address("DE", "101 15", "INVALIDENSTR.   1"),
        ),
        to(
            "c-3",
            2,
            address("DE", " 10115 ", "  invalidenstr. 1 "),
            elsewhere.clone(),
        ),
        // The same street under another postal code is another address.
        to(
            "c-4",
            3,
            address("DE", "10119", "Invalidenstr. 1"),
            address("DE", "10119", "Invalidenstr. 1"),
        ),
    ] {
        events.push(assess(&env, &mut assessed, &placed).await);
    }
    for event in &events {
        assert_eq!(codes(event), ["first_order"]);
    }

    // c-1, c-2 and c-3 in the hour before (c-2 and c-3 share `elsewhere` as well, but an
    // order counts once).
    let event = assess(&env, &mut assessed, &to("c-5", 4, drop.clone(), drop)).await;
    assert_eq!(codes(&event), ["address_velocity", "first_order"]);
    let velocity = reason(&event, "address_velocity");
    assert_eq!(
        velocity.description,
        "3 other orders to this address in the last hour"
    );
    assert_eq!(velocity.points, 15);
    assert_eq!(event.score, 20);

    // Addresses are kept as fingerprints of their normalized form, never as typed.
    let mut keys: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT unnest(address_keys) FROM risk_assessments")
            .fetch_all(&payments.pool)
            .await
            .unwrap();
    keys.sort();
    let mut expected = vec![
        fingerprint("DE:10115:invalidenstr. 1"),
        fingerprint("DE:10117:unter den linden 5"),
        fingerprint("DE:10119:invalidenstr. 1"),
    ];
    expected.sort();
    assert_eq!(keys, expected);
}

#[tokio::test]
async fn orders_by_different_customers_with_one_phone_score_phone_velocity() {
    // A threshold of two other orders, from the service's configuration.
    let env = TestEnv::with(|s| {
        s.overrides
            .insert("OC_PAYMENTS_RISK_VELOCITY_PER_HOUR".into(), "2".into());
    })
    .await;
    let _payments = env.start(&payments::SERVICE).await;
    let mut assessed = env.tap("payments.risk.assessed").await;
    let with_phones = |customer: &str, minutes: i64, own: &str, courier: &str| {
        let mut placed = order(customer, minutes);
        placed.customer.as_mut().unwrap().phone = own.into();
        placed.shipping_address.as_mut().unwrap().phone = courier.into();
        placed
    };

    // The customer's phone, then the same number as the courier's, typed another way.
    let first = assess(
        &env,
        &mut assessed,
        &with_phones("c-1", 0, "+49 30 1234567", ""),
    )
    .await;
    assert_eq!(codes(&first), ["first_order"]);
    let second = assess(
        &env,
        &mut assessed,
        &with_phones("c-2", 1, "", "+49 (30) 123-4567"),
    )
    .await;
    assert_eq!(codes(&second), ["first_order"]);
    // Not in E.164: no phone to compare.
    let local = assess(
        &env,
        &mut assessed,
        &with_phones("c-3", 2, "030 1234567", ""),
    )
    .await;
    assert_eq!(codes(&local), ["first_order"]);

    // c-1 and c-2 in the hour before: the third order in an hour with the number.
    let mut third = order("c-4", 3);
    third.billing_address.as_mut().unwrap().phone = "+49301234567".into();
    let event = assess(&env, &mut assessed, &third).await;
    assert_eq!(codes(&event), ["phone_velocity", "first_order"]);
    let velocity = reason(&event, "phone_velocity");
    assert_eq!(
        velocity.description,
        "2 other orders with this phone number in the last hour"
    );
    assert_eq!(velocity.points, 15);
    assert_eq!(event.score, 20);

    // Another number in the same hour.
    let other = assess(
        &env,
        &mut assessed,
        &with_phones("c-5", 4, "+49301234568", "+49301234568"),
    )
    .await;
    assert_eq!(codes(&other), ["first_order"]);
}

#[tokio::test]
async fn orders_by_one_customer_score_high_velocity_within_an_hour_only() {
    let env = TestEnv::new().await;
    let _payments = env.start(&payments::SERVICE).await;
    let mut assessed = env.tap("payments.risk.assessed").await;

    // Distinct tokens and addresses: only the customer is shared.
    let placed = |minutes: i64| OrderPlaced {
        payment_token_fingerprint: fingerprint(&format!("tok_{minutes}")),
        shipping_address: Some(address("DE", "10117", &format!("Allee {minutes}"))),
        billing_address: Some(address("DE", "10117", &format!("Allee {minutes}"))),
        ..order("c-1", minutes)
    };
    let first = assess(&env, &mut assessed, &placed(0)).await;
    assert_eq!(codes(&first), ["first_order"]);
    for minutes in [10, 20] {
        let event = assess(&env, &mut assessed, &placed(minutes)).await;
        assert!(event.reasons.is_empty(), "{:?}", event.reasons);
    }
    let fourth = assess(&env, &mut assessed, &placed(30)).await;
    assert_eq!(codes(&fourth), ["high_velocity"]);
    assert_eq!(
        fourth.reasons[0].description,
        "3 other orders by this customer in the last hour"
    );
    assert_eq!(fourth.score, 25);

    // Two hours later the customer's earlier orders are history, not velocity.
    let later = assess(&env, &mut assessed, &placed(150)).await;
    assert!(later.reasons.is_empty(), "{:?}", later.reasons);
    assert_eq!(later.score, 0);
}

#[tokio::test]
async fn a_token_field_that_is_not_a_fingerprint_is_neither_stored_nor_counted() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let mut assessed = env.tap("payments.risk.assessed").await;

    // A producer that puts the token itself where its fingerprint belongs.
    let mut last = None;
    for (customer, minutes) in [("c-1", 0), ("c-2", 1), ("c-3", 2), ("c-4", 3)] {
        let placed = OrderPlaced {
            payment_token_fingerprint: "tok_visa".into(),
            ..order(customer, minutes)
        };
        last = Some(assess(&env, &mut assessed, &placed).await);
    }
    assert_eq!(
        codes(&last.unwrap()),
        ["first_order"],
        "block lists ignore a value that is not a fingerprint; velocity does the same"
    );
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM risk_assessments WHERE token_fingerprint IS NOT NULL",
    )
    .fetch_one(&payments.pool)
    .await
    .unwrap();
    assert_eq!(stored, 0, "a token is never stored as typed");
}
