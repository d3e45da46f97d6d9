//! CustomerDataErased: the address and phone fingerprints that link an erased order to others
//! are removed, once; scores and totals stay.

use contracts::common::{Address, Customer, Money};
use contracts::orders::OrderPlaced;
use testkit::TestEnv;

use crate::helpers::publish;

const PHONE: &str = "+49 30 1234567";

fn placed(order_id: &str) -> OrderPlaced {
    let address = Address {
        recipient: "Mei Lin".into(),
        line1: "Unter den Linden 1".into(),
        city: "Berlin".into(),
        postal_code: "10117".into(),
        country_code: "DE".into(),
        phone: PHONE.into(),
        ..Default::default()
    };
    OrderPlaced {
        order_id: order_id.into(),
        order_number: "OC-1".into(),
        customer: Some(Customer {
            id: "cust-privacy".into(),
            name: "Mei Lin".into(),
            email: "mei@example.com".into(),
            phone: PHONE.into(),
        }),
        total: Some(Money {
            currency_code: "EUR".into(),
            amount_minor: 2500,
        }),
        shipping_address: Some(address.clone()),
        billing_address: Some(address),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_erasure_removes_the_orders_fingerprints_and_its_phone_from_other_orders_once() {
    let env = TestEnv::new().await;
    let payments = env.start(&payments::SERVICE).await;
    let pool = &payments.pool;
    let (erased, other) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    publish(&env, &placed(&erased)).await;
    publish(&env, &placed(&other)).await;
    let keys = |id: String| async move {
        let row: (i32, i32, i32) = sqlx::query_as(
            "SELECT cardinality(address_keys), cardinality(phone_keys), score
             FROM risk_assessments WHERE order_id::text = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
        row
    };
    testkit::eventually("both assessments", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM risk_assessments")
            .fetch_one(pool)
            .await
            .ok()?;
        (n == 2).then_some(())
    })
    .await;
    let (addresses, phones, score) = keys(erased.clone()).await;
    assert!(addresses > 0 && phones > 0);
    let (other_addresses, _, other_score) = keys(other.clone()).await;

    let mut erasure = testkit::privacy::erasure(&[&erased], "");
    erasure.phone_fingerprint = messaging::privacy::phone_fingerprint(PHONE);
    publish(&env, &erasure).await;
    assert_eq!(
        testkit::privacy::applied(pool, &erasure.erasure_id).await,
        2
    );
    publish(&env, &erasure).await;
    let later = testkit::privacy::erasure(&[], "someone-else");
    publish(&env, &later).await;
    testkit::privacy::applied(pool, &later.erasure_id).await;

    assert_eq!(keys(erased).await, (0, 0, score));
    assert_eq!(keys(other).await, (other_addresses, 0, other_score));
}
