//! An event delivered twice, and a fact told twice under two event ids, count once.

use std::time::Duration;

use contracts::analytics::{GetOrderKpisRequest, GetReturnStatsRequest, GetSalesTrendsRequest};
use contracts::payments::PaymentRefunded;

use crate::helpers::{TestApp, minor, range, t, ts};
use crate::scenario::{self, eur};

#[tokio::test]
async fn the_same_event_id_twice_and_the_same_fact_under_two_ids_count_once() {
    // The stream's dedup window is tiny: the repeat reaches analytics, and its own inbox and
    // keys must hold.
    let app = TestApp::without_dedup_window().await;
    let [a, b, ..] = scenario::orders();
    let placed = a.placed();
    let id = app.publish(&placed).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.publish_as(id, &placed).await;
    // The same order placed again under a new event id (a relay that published twice after
    // losing its mark, a replay): the order id is the natural key.
    app.publish(&placed).await;
    app.publish(&b.placed()).await;
    // The same refund under two event ids: the provider transaction is the key.
    let refund = PaymentRefunded {
        payment_id: "pay-B".into(),
        order_id: "B".into(),
        transaction_id: "tx-1".into(),
        amount: eur(700),
        refunded_at: ts(t(1, 0, 0)),
        ..Default::default()
    };
    app.publish(&refund).await;
    app.publish(&refund).await;

    // Three distinct event ids are kept per fact-pair above: wait for all of them.
    let pool = app.analytics.pool.clone();
    testkit::eventually("every event kept", || {
        let pool = pool.clone();
        async move {
            let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM raw_events")
                .fetch_one(&pool)
                .await
                .unwrap();
            (kept == 5).then_some(())
        }
    })
    .await;
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM oc_inbox WHERE event_id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(inbox, 1);

    let mut client = app.client().await;
    let sales = client
        .get_sales_trends(GetSalesTrendsRequest {
            range: range(t(0, 0, 0), t(1, 0, 0)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let totals = sales.totals.unwrap();
    assert_eq!(totals.order_count, 2);
    assert_eq!(totals.units, 7);
    assert_eq!(minor(totals.gross_sales.as_ref()), 8_500);
    assert_eq!(minor(totals.refunds.as_ref()), 700);
    let lines: i64 = sqlx::query_scalar("SELECT count(*) FROM order_lines WHERE order_id = 'A'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(lines, 2);

    // Replaying all of it changes nothing.
    let before = client
        .get_order_kpis(GetOrderKpisRequest {
            range: range(t(0, 0, 0), t(1, 0, 0)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    analytics::rebuild(&pool).await.unwrap();
    let after = client
        .get_order_kpis(GetOrderKpisRequest {
            range: range(t(0, 0, 0), t(1, 0, 0)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before, after);
    assert_eq!(after.order_count, 2);
    let returns = client
        .get_return_stats(GetReturnStatsRequest {
            range: range(t(0, 0, 0), t(1, 0, 0)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(returns.return_count, 0);
}
