//! CustomerDataErased: the customer and ship-to kept with a fulfillment, and the outbox's
//! payloads that carried them, are pseudonymised once; the lines and quantities stay.

use crate::helpers::{Warehouse, allocation, line, request};

#[tokio::test]
async fn an_erasure_pseudonymises_the_customer_and_ship_to_once_and_keeps_the_lines() {
    let w = Warehouse::start().await;
    let order_id = uuid::Uuid::new_v4().to_string();
    w.publish(&request(
        &order_id,
        vec![line("L1", "TEA-001", 3)],
        vec![allocation("L1", "TEA-001", "WH-BER", 3, "B-07", 70)],
    ))
    .await;
    let pool = &w.fulfillment.pool;
    let count = |sql: &'static str| async move {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        n
    };
    testkit::eventually("the fulfillment", || async {
        (count("SELECT count(*) FROM fulfillments").await == 1).then_some(())
    })
    .await;
    let needles = [
        "mei@example.com",
        "Mei Lin",
        "+49 30 1234567",
        "Unter den Linden 1",
    ];
    assert!(!testkit::privacy::traces(pool, &needles).await.is_empty());
    let lines = count("SELECT COALESCE(sum(quantity), 0)::bigint FROM fulfillment_lines").await;

    let erasure = testkit::privacy::erasure(&[&order_id], "c-1");
    w.publish(&erasure).await;
    let rows = testkit::privacy::applied(pool, &erasure.erasure_id).await;
    assert!(rows >= 1, "the fulfillment rewritten: {rows}");
    w.publish(&erasure).await;
    let other = testkit::privacy::erasure(&[], "someone-else");
    w.publish(&other).await;
    testkit::privacy::applied(pool, &other.erasure_id).await;

    assert_eq!(
        testkit::privacy::traces(pool, &needles).await,
        Vec::<String>::new()
    );
    assert_eq!(count("SELECT count(*) FROM oc_erasures").await, 2);
    assert_eq!(
        count("SELECT COALESCE(sum(quantity), 0)::bigint FROM fulfillment_lines").await,
        lines
    );
}
