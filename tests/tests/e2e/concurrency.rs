//! Races across the whole platform (DESIGN §6a): many buyers for the last units, and one
//! request retried in parallel. The answer must be exact, not "about right".

use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::{CancelReason, GetOrderRequest, ListOrdersRequest, Order, OrderStatus};
use futures::future::join_all;

use crate::cycle::{available, order_request, place, platform, stock};

/// Confirmed (or past it) — the order got its stock and its money.
fn went_through(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::Confirmed | OrderStatus::InFulfillment)
}

#[tokio::test]
async fn fifty_buyers_for_the_last_ten_units_confirm_exactly_ten_orders() {
    let p = platform().await;
    stock(&p, 10).await;
    // The first order also proves orders knows the catalog before the rush.
    let mut first = order_request("rush-0", 1, "tok_visa_0");
    first.customer.as_mut().unwrap().id = "buyer-0".into();
    let first = place(&p, first).await;

    let orders = OrderServiceClient::new(p.service("orders").channel().await);
    let placed: Vec<Order> = join_all((1..50).map(|i| {
        let mut orders = orders.clone();
        let mut request = order_request(&format!("rush-{i}"), 1, &format!("tok_visa_{i}"));
        request.customer.as_mut().unwrap().id = format!("buyer-{i}");
        async move {
            orders
                .place_order(request)
                .await
                .unwrap()
                .into_inner()
                .order
                .unwrap()
        }
    }))
    .await;
    let mut ids: Vec<String> = placed.into_iter().map(|o| o.id).collect();
    ids.push(first.id);

    // Every order settles one way or the other: stock and money, or out of stock.
    let settled = testkit::eventually("all fifty orders to be decided", || {
        let orders = orders.clone();
        let ids = ids.clone();
        async move {
            let got: Vec<Order> = join_all(ids.into_iter().map(|id| {
                let mut orders = orders.clone();
                async move {
                    orders
                        .get_order(GetOrderRequest { id })
                        .await
                        .ok()?
                        .into_inner()
                        .order
                }
            }))
            .await
            .into_iter()
            .collect::<Option<_>>()?;
            got.iter()
                .all(|o| went_through(o.status()) || o.status() == OrderStatus::Cancelled)
                .then_some(got)
        }
    })
    .await;
    let confirmed = settled.iter().filter(|o| went_through(o.status())).count();
    assert_eq!(confirmed, 10);
    for o in settled
        .iter()
        .filter(|o| o.status() == OrderStatus::Cancelled)
    {
        assert_eq!(
            o.cancel_reason(),
            CancelReason::OutOfStock,
            "{}",
            o.order_number
        );
    }
    assert_eq!(
        available(&p).await,
        (10, 10, 0),
        "all ten reserved, none twice"
    );
}

#[tokio::test]
async fn one_request_sent_twenty_times_at_once_makes_one_order() {
    let p = platform().await;
    stock(&p, 10).await;
    // Orders must know the catalog before the burst (place() waits for it).
    place(&p, order_request("warm-up", 1, "tok_visa")).await;

    let orders = OrderServiceClient::new(p.service("orders").channel().await);
    let request = order_request("same-request", 2, "tok_visa");
    let answers: Vec<Order> = join_all((0..20).map(|_| {
        let mut orders = orders.clone();
        let request = request.clone();
        async move {
            orders
                .place_order(request)
                .await
                .unwrap()
                .into_inner()
                .order
                .unwrap()
        }
    }))
    .await;
    let id = &answers[0].id;
    assert!(answers.iter().all(|o| &o.id == id), "one order id for all");

    let listed = orders
        .clone()
        .list_orders(ListOrdersRequest {
            customer_id: "cust-e2e".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .orders;
    assert_eq!(
        listed.len(),
        2,
        "the warm-up and one order for twenty calls"
    );
    testkit::eventually("the one order's stock to be reserved once", || async {
        (available(&p).await == (10, 3, 7)).then_some(())
    })
    .await;
}
