//! CustomerDataErased: the contact kept per order and every message's recipient and rendered
//! text are pseudonymised, once; the delivery log keeps its rows and statuses.

use crate::harness::{TestApp, customer, order_placed};

#[tokio::test]
async fn an_erasure_pseudonymises_recipients_and_rendered_messages_once() {
    let app = TestApp::start().await;
    let who = customer("privacy");
    let placed = order_placed(&who);
    app.publish(&placed).await;
    let before = testkit::eventually("the order-received messages", || async {
        let log = app.log_of_order(&placed.order_id).await;
        (!log.is_empty()).then_some(log)
    })
    .await;
    let needles = [who.email.as_str(), who.phone.as_str(), "Mei Lin"];
    let pool = &app.service.pool;
    assert!(!testkit::privacy::traces(pool, &needles).await.is_empty());

    let erasure = testkit::privacy::erasure(&[&placed.order_id], &who.id);
    app.publish(&erasure).await;
    testkit::privacy::applied(pool, &erasure.erasure_id).await;
    app.publish(&erasure).await;
    app.publish(&testkit::privacy::erasure(&[], "someone-else"))
        .await;
    testkit::eventually("the later erasures to be applied", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM oc_erasures")
            .fetch_one(pool)
            .await
            .ok()?;
        (n == 2).then_some(())
    })
    .await;

    assert_eq!(
        testkit::privacy::traces(pool, &needles).await,
        Vec::<String>::new()
    );
    let after = app.log_of_order(&placed.order_id).await;
    assert_eq!(after.len(), before.len());
}
