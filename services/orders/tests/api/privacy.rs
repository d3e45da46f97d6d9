//! PrivacyService: erasure requests pseudonymise orders' own rows at once and publish
//! CustomerDataErased; open orders are refused; the retention job erases finished orders.

use contracts::orders::privacy_service_client::PrivacyServiceClient;
use contracts::orders::{
    CancelOrderRequest, CancelReason, CustomerDataErased, EraseCustomerDataRequest, OrderStatus,
};
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, valid_request};

async fn privacy(app: &TestApp) -> PrivacyServiceClient<tonic::transport::Channel> {
    PrivacyServiceClient::new(app.orders.channel().await)
}

async fn cancelled(app: &TestApp, request_id: &str) -> contracts::orders::Order {
    let order = app.place(valid_request(request_id)).await;
    app.client()
        .await
        .cancel_order(CancelOrderRequest {
            request_id: format!("cancel-{request_id}"),
            order_id: order.id.clone(),
            reason: CancelReason::CustomerRequest.into(),
            note: "Mei Lin called from +49 30 1234567".into(),
        })
        .await
        .unwrap();
    app.wait_for_status(&order.id, OrderStatus::Cancelled).await
}

/// Rows of orders' database whose text holds `needle`, by table (outbox payloads included).
async fn holding(app: &TestApp, needle: &str) -> Vec<String> {
    let pool = &app.orders.pool;
    let mut found = Vec::new();
    for table in [
        "orders",
        "order_timeline",
        "order_returns",
        "discount_redemptions",
    ] {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} t WHERE strpos(t::text, $1) > 0"
        ))
        .bind(needle)
        .fetch_one(pool)
        .await
        .unwrap();
        if n > 0 {
            found.push(table.to_owned());
        }
    }
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM oc_outbox WHERE position(convert_to($1, 'UTF8') IN payload) > 0",
    )
    .bind(needle)
    .fetch_one(pool)
    .await
    .unwrap();
    if n > 0 {
        found.push("oc_outbox".to_owned());
    }
    found
}

#[tokio::test]
async fn an_erasure_request_is_validated_field_by_field() {
    let app = TestApp::start().await;
    let err = privacy(&app)
        .await
        .erase_customer_data(EraseCustomerDataRequest {
            phone: "12".into(),
            email: "not-an-email".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut fields: Vec<String> = err
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    fields.sort();
    assert_eq!(fields, ["email", "phone", "reason", "request_id"]);
}

#[tokio::test]
async fn an_open_order_cannot_be_erased_yet() {
    let app = TestApp::start().await;
    let order = app.place(valid_request("privacy-open")).await;
    let err = privacy(&app)
        .await
        .erase_customer_data(EraseCustomerDataRequest {
            request_id: "erase-open".into(),
            email: "mei@example.com".into(),
            reason: "ticket 1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains(&order.order_number),
        "{}",
        err.message()
    );
    assert_eq!(
        app.order(&order.id).await.customer.unwrap().email,
        "mei@example.com"
    );
}

#[tokio::test]
async fn a_guest_found_by_phone_is_erased_once_with_the_figures_kept() {
    let app = TestApp::start().await;
    let order = cancelled(&app, "privacy-guest").await;
    assert!(!holding(&app, "mei@example.com").await.is_empty());
    let mut erased = app.env.tap("orders.customer.erased").await;

    let request = EraseCustomerDataRequest {
        request_id: "erase-guest".into(),
        phone: "+49 (30) 123-4567".into(),
        reason: "ticket 2".into(),
        ..Default::default()
    };
    let first = privacy(&app)
        .await
        .erase_customer_data(request.clone())
        .await
        .unwrap()
        .into_inner()
        .erasure
        .unwrap();
    assert_eq!(first.order_ids, [order.id.as_str()]);
    let again = privacy(&app)
        .await
        .erase_customer_data(request)
        .await
        .unwrap()
        .into_inner()
        .erasure
        .unwrap();
    assert_eq!(again.id, first.id, "the same request is the same erasure");

    for needle in [
        "mei@example.com",
        "Mei Lin",
        "+49 30 1234567",
        "Unter den Linden",
    ] {
        assert_eq!(
            holding(&app, needle).await,
            Vec::<String>::new(),
            "{needle}"
        );
    }
    let after = app.order(&order.id).await;
    assert_eq!(after.total, order.total);
    assert_eq!(after.lines, order.lines);
    assert_eq!(after.status(), OrderStatus::Cancelled);
    assert!(after.customer.unwrap().email.ends_with("@invalid"));

    // One event, with ids and fingerprints only.
    let event: CustomerDataErased = erased.next().await;
    assert_eq!(event.erasure_id, first.id);
    assert_eq!(event.order_ids, [order.id.as_str()]);
    assert!(event.phone_fingerprint.starts_with("fp_"));
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM oc_outbox WHERE subject = 'orders.customer.erased'",
    )
    .fetch_one(&app.orders.pool)
    .await
    .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn finished_orders_past_the_retention_period_are_erased_by_the_job() {
    let env = testkit::TestEnv::with(|s| {
        s.overrides.insert(
            "OC_ORDERS_PERSONAL_DATA_RETENTION_DAYS".into(),
            "0.00001".into(),
        );
        s.overrides
            .insert("OC_ORDERS_RETENTION_POLL_SECS".into(), "0.2".into());
    })
    .await;
    let app = TestApp::start_in(env).await;
    let order = cancelled(&app, "privacy-retention").await;
    let pool = app.orders.pool.clone();
    testkit::eventually("the retention job to erase the order", || {
        let (pool, id) = (pool.clone(), order.id.clone());
        async move {
            let trigger: Option<String> = sqlx::query_scalar(
                "SELECT trigger FROM erasure_requests WHERE $1 = ANY(order_ids)",
            )
            .bind(&id)
            .fetch_optional(&pool)
            .await
            .ok()?;
            trigger.filter(|t| t == "RETENTION")
        }
    })
    .await;
    assert_eq!(holding(&app, "mei@example.com").await, Vec::<String>::new());
    assert_eq!(app.order(&order.id).await.total, order.total);
}
