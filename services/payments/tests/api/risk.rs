use contracts::common::{Address, Customer, Money};
use contracts::orders::{OrderLine, OrderPlaced};
use contracts::payments::risk_service_client::RiskServiceClient;
use contracts::payments::{GetRiskAssessmentRequest, RiskAssessed};
use messaging::envelope::publish_direct;
use testkit::TestEnv;
use tonic::Code;

fn placed(order_id: &str, customer: &str, total: i64, bill_country: &str) -> OrderPlaced {
    let address = |cc: &str| Address {
        recipient: "R".into(),
        line1: "L".into(),
        city: "C".into(),
        country_code: cc.into(),
        ..Default::default()
    };
    OrderPlaced {
        order_id: order_id.into(),
        order_number: "OC-1".into(),
        customer: Some(Customer {
            id: customer.into(),
            name: "N".into(),
            email: "n@example.com".into(),
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
            amount_minor: total,
        }),
        shipping_address: Some(address("DE")),
        billing_address: Some(address(bill_country)),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_placed_order_gets_a_risk_assessment_with_reasons() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let mut assessed = env.tap("payments.risk.assessed").await;
    let mut client = RiskServiceClient::new(payments.channel().await);
    let order_id = uuid::Uuid::new_v4().to_string();

    publish_direct(
        env.jetstream(),
        &env.subjects(),
        "ordercycle/orders",
        &placed(&order_id, "c-risky", 900_000, "FR"),
    )
    .await
    .unwrap();

    let event: RiskAssessed = assessed.next().await;
    assert_eq!(event.order_id, order_id);
    let assessment = testkit::eventually("the assessment", || {
        let mut client = client.clone();
        let order_id = order_id.clone();
        async move {
            client
                .get_risk_assessment(GetRiskAssessmentRequest { order_id })
                .await
                .ok()
                .and_then(|r| r.into_inner().assessment)
        }
    })
    .await;
    assert_eq!(assessment.score, event.score);
    let codes: Vec<_> = assessment.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "high_value",
            "address_mismatch",
            "first_order",
            "first_order_high_value"
        ]
    );
    assert_eq!(assessment.score, 70);

    let unknown = client
        .get_risk_assessment(GetRiskAssessmentRequest {
            order_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = client
        .get_risk_assessment(GetRiskAssessmentRequest {
            order_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn the_same_order_placed_twice_under_different_event_ids_is_assessed_once() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let mut assessed = env.tap("payments.risk.assessed").await;
    let order_id = uuid::Uuid::new_v4().to_string();
    let event = placed(&order_id, "c-1", 1000, "DE");
    for _ in 0..2 {
        publish_direct(
            env.jetstream(),
            &env.subjects(),
            "ordercycle/orders",
            &event,
        )
        .await
        .unwrap();
    }
    // A later order proves both copies were processed before it.
    let later = uuid::Uuid::new_v4().to_string();
    publish_direct(
        env.jetstream(),
        &env.subjects(),
        "ordercycle/orders",
        &placed(&later, "c-1", 1000, "DE"),
    )
    .await
    .unwrap();

    let first: RiskAssessed = assessed.next().await;
    let second: RiskAssessed = assessed.next().await;
    assert_eq!(first.order_id, order_id);
    assert_eq!(
        second.order_id, later,
        "no second assessment of the same order"
    );
    // The returning customer's second order is not a first order.
    assert!(second.reasons.iter().all(|r| r.code != "first_order"));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM risk_assessments")
        .fetch_one(&payments.pool)
        .await
        .unwrap();
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn an_order_far_above_the_customers_usual_total_scores_above_usual_value() {
    // Four orders in an hour would also score velocity; this test is about value alone.
    let env = TestEnv::with(|s| {
        s.overrides
            .insert("OC_PAYMENTS_RISK_VELOCITY_PER_HOUR".into(), "10".into());
    })
    .await;
    let _payments = env.start(&payments::SERVICE).await;
    let mut assessed = env.tap("payments.risk.assessed").await;
    let mut place = async |total: i64| -> RiskAssessed {
        let order_id = uuid::Uuid::new_v4().to_string();
        publish_direct(
            env.jetstream(),
            &env.subjects(),
            "ordercycle/orders",
            &placed(&order_id, "c-usual", total, "DE"),
        )
        .await
        .unwrap();
        // One at a time, so each sees the ones before it.
        let event: RiskAssessed = assessed.next().await;
        assert_eq!(event.order_id, order_id);
        event
    };
    place(1_000).await;
    place(2_000).await;
    // Usual: 1 500; 4 499 is below three times that.
    let ordinary = place(4_499).await;
    assert!(ordinary.reasons.is_empty(), "{:?}", ordinary.reasons);
    // Usual now (1 000 + 2 000 + 4 499) / 3 = 2 499; 7 497 is three times that.
    let unusual = place(7_497).await;
    let codes: Vec<_> = unusual.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["above_usual_value"]);
    assert_eq!(unusual.score, 20);
    assert_eq!(
        unusual.reasons[0].description,
        "total 7497 EUR is at least 3× the customer's usual order (2499)"
    );
}
