//! CustomerDataErased: raw events lose the customer's values byte for byte and still decode;
//! the read models (which never held them) keep every figure.

use contracts::common::{Address, Customer, Money};
use contracts::orders::OrderPlaced;
use prost::Message as _;

use crate::helpers::{TestApp, t, ts};

/// Published directly: `TestApp::publish` counts events that analytics keeps as raw events, which
/// erasures are not.
async fn publish(app: &TestApp, event: &contracts::orders::CustomerDataErased) {
    messaging::envelope::publish_direct(
        app.env.jetstream(),
        &app.env.subjects(),
        "ordercycle/orders",
        event,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_erasure_masks_raw_events_once_and_keeps_the_facts() {
    let app = TestApp::start().await;
    let order_id = uuid::Uuid::new_v4().to_string();
    let placed = OrderPlaced {
        order_id: order_id.clone(),
        order_number: "OC-PRIV".into(),
        customer: Some(Customer {
            id: "cust-privacy".into(),
            name: "Mei Lin".into(),
            email: "mei@example.com".into(),
            phone: "+49 30 1234567".into(),
        }),
        shipping_address: Some(Address {
            recipient: "Mei Lin".into(),
            line1: "Unter den Linden 1".into(),
            city: "Berlin".into(),
            country_code: "DE".into(),
            ..Default::default()
        }),
        total: Some(Money {
            currency_code: "EUR".into(),
            amount_minor: 2500,
        }),
        placed_at: ts(t(0, 10, 0)),
        ..Default::default()
    };
    app.publish(&placed).await;
    app.settle().await;
    let pool = &app.analytics.pool;
    let needles = [
        "mei@example.com",
        "+49 30 1234567",
        "Mei Lin",
        "Unter den Linden",
    ];
    assert!(!testkit::privacy::traces(pool, &needles).await.is_empty());
    let total = |pool| async move {
        let v: i64 =
            sqlx::query_scalar("SELECT COALESCE(sum(total_minor), 0)::bigint FROM order_facts")
                .fetch_one(pool)
                .await
                .unwrap();
        v
    };
    let before = total(pool).await;

    let erasure = testkit::privacy::erasure(&[&order_id], "cust-privacy");
    publish(&app, &erasure).await;
    assert_eq!(
        testkit::privacy::applied(pool, &erasure.erasure_id).await,
        1
    );
    publish(&app, &erasure).await;
    let second = testkit::privacy::erasure(&[], "someone-else");
    publish(&app, &second).await;
    testkit::privacy::applied(pool, &second.erasure_id).await;

    assert_eq!(
        testkit::privacy::traces(pool, &needles).await,
        Vec::<String>::new()
    );
    let body: Vec<u8> = sqlx::query_scalar("SELECT body FROM raw_events WHERE aggregate_id = $1")
        .bind(&order_id)
        .fetch_one(pool)
        .await
        .unwrap();
    let masked = OrderPlaced::decode(body.as_slice()).unwrap();
    assert_eq!(masked.total, placed.total);
    assert_eq!(masked.customer.as_ref().unwrap().id, "cust-privacy");
    assert!(masked.customer.unwrap().email.ends_with("@invalid"));
    assert_eq!(total(pool).await, before);
}
