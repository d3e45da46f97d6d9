//! CustomerDataErased: a shipment's recipient, address and phone (and the outbox's payloads)
//! are pseudonymised once; the tracking number, status and weight stay.

use contracts::orders::CustomerDataErased;

use crate::helpers::{TestApp, create_request};

async fn publish(app: &TestApp, event: &CustomerDataErased) {
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
async fn an_erasure_pseudonymises_the_recipient_once_and_keeps_the_shipment() {
    let app = TestApp::start().await;
    let shipment = app.create(create_request("privacy-1")).await;
    let pool = &app.shipping.pool;
    let needles = ["Mei Lin", "Unter den Linden 1", "+4930123456"];
    assert!(!testkit::privacy::traces(pool, &needles).await.is_empty());

    let erasure = testkit::privacy::erasure(&["order-1"], "");
    publish(&app, &erasure).await;
    assert!(testkit::privacy::applied(pool, &erasure.erasure_id).await >= 1);
    publish(&app, &erasure).await;
    let other = testkit::privacy::erasure(&[], "someone-else");
    publish(&app, &other).await;
    testkit::privacy::applied(pool, &other.erasure_id).await;

    assert_eq!(
        testkit::privacy::traces(pool, &needles).await,
        Vec::<String>::new()
    );
    assert_eq!(app.count("SELECT count(*) FROM oc_erasures").await, 2);
    let after = app.create(create_request("privacy-1")).await;
    assert_eq!(after.tracking_number, shipment.tracking_number);
    assert_eq!(after.weight_grams, shipment.weight_grams);
}
