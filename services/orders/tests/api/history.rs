//! Reading orders back: ListOrders with its filters and pages, and GetOrderTimeline.

use contracts::common::Channel;
use contracts::orders::{
    ActorType, CancelOrderRequest, CancelReason, GetOrderTimelineRequest, ListOrdersRequest, Order,
    OrderStatus,
};
use tonic::Code;

use crate::helpers::{TestApp, valid_request};

async fn list(app: &TestApp, request: ListOrdersRequest) -> (Vec<String>, String) {
    let response = app
        .client()
        .await
        .list_orders(request)
        .await
        .unwrap()
        .into_inner();
    (
        response.orders.into_iter().map(|o| o.id).collect(),
        response.next_page_token,
    )
}

#[tokio::test]
async fn list_orders_filters_by_customer_status_channel_and_time_and_pages_newest_first() {
    let app = TestApp::start().await;
    let mut placed: Vec<Order> = Vec::new();
    for (i, (customer, channel)) in [
        ("cust-1", Channel::Web),
        ("cust-2", Channel::MobileApp),
        ("cust-1", Channel::Store),
        ("cust-1", Channel::Web),
        ("cust-3", Channel::Phone),
    ]
    .into_iter()
    .enumerate()
    {
        let mut request = valid_request(&format!("list-{i}"));
        request.customer.as_mut().unwrap().id = customer.into();
        request.channel = channel.into();
        request.channel_ref = "desk-1".into();
        placed.push(app.place(request).await);
    }
    // One order moves on to AWAITING_STOCK.
    app.assess_risk(&placed[3], 10, &[]).await;
    let newest_first: Vec<String> = placed.iter().rev().map(|o| o.id.clone()).collect();
    let ids =
        |idx: &[usize]| -> Vec<String> { idx.iter().map(|i| placed[*i].id.clone()).collect() };

    let (all, token) = list(&app, ListOrdersRequest::default()).await;
    assert_eq!(all, newest_first);
    assert!(token.is_empty());

    let (mine, _) = list(
        &app,
        ListOrdersRequest {
            customer_id: "cust-1".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(mine, ids(&[3, 2, 0]));

    let (moving, _) = list(
        &app,
        ListOrdersRequest {
            statuses: vec![OrderStatus::AwaitingStock.into()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(moving, ids(&[3]));
    let (pending_web, _) = list(
        &app,
        ListOrdersRequest {
            statuses: vec![OrderStatus::Pending.into(), OrderStatus::Cancelled.into()],
            channel: Channel::Web.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(pending_web, ids(&[0]));

    let (store, _) = list(
        &app,
        ListOrdersRequest {
            channel: Channel::Store.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(store, ids(&[2]));

    let (from_third, _) = list(
        &app,
        ListOrdersRequest {
            created_after: placed[2].created_at,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(from_third, ids(&[4, 3, 2]));
    let (before_third, _) = list(
        &app,
        ListOrdersRequest {
            created_before: placed[2].created_at,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(before_third, ids(&[1, 0]));

    // Two at a time: three pages, every order once, in the same order.
    let mut paged = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let (page, next) = list(
            &app,
            ListOrdersRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await;
        pages += 1;
        assert!(page.len() <= 2);
        paged.extend(page);
        if next.is_empty() {
            break;
        }
        token = next;
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, newest_first);

    let mut client = app.client().await;
    let bad = client
        .list_orders(ListOrdersRequest {
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let bad = client
        .list_orders(ListOrdersRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn the_timeline_lists_every_status_change_with_its_actor_and_reason() {
    let app = TestApp::start().await;
    let order = app.confirmed(valid_request("timeline")).await;
    app.client()
        .await
        .cancel_order(CancelOrderRequest {
            request_id: "cancel-timeline".into(),
            order_id: order.id.clone(),
            reason: CancelReason::Operator.into(),
            note: "customer called to cancel".into(),
        })
        .await
        .unwrap();

    let mut client = app.client().await;
    let timeline = client
        .get_order_timeline(GetOrderTimelineRequest {
            order_id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(timeline.next_page_token.is_empty());
    let entries = timeline.entries;
    assert_eq!(entries[0].kind, "order.placed");
    assert_eq!(entries[0].status_after(), OrderStatus::Pending);
    assert!(!entries[0].event_id.is_empty());

    let changes: Vec<(OrderStatus, OrderStatus, ActorType, &str, &str)> = entries
        .iter()
        .filter(|e| e.kind == "status.changed")
        .map(|e| {
            (
                e.status_before(),
                e.status_after(),
                e.actor_type(),
                e.actor_id.as_str(),
                e.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (
                OrderStatus::Pending,
                OrderStatus::AwaitingStock,
                ActorType::Service,
                "payments",
                "risk score 10"
            ),
            (
                OrderStatus::AwaitingStock,
                OrderStatus::AwaitingPayment,
                ActorType::Service,
                "inventory",
                "stock reserved in wh-berlin"
            ),
            (
                OrderStatus::AwaitingPayment,
                OrderStatus::Confirmed,
                ActorType::Service,
                "payments",
                ""
            ),
            (
                OrderStatus::Confirmed,
                OrderStatus::Cancelled,
                ActorType::Operator,
                "dev-operator",
                "customer called to cancel"
            ),
        ]
    );
    // Every event orders published is on the timeline with its id.
    for subject in [
        "orders.reservation.requested",
        "orders.payment.requested",
        "orders.order.confirmed",
        "orders.reservation.release_requested",
        "orders.payment.void_requested",
        "orders.fulfillment.cancel_requested",
        "orders.order.cancelled",
    ] {
        let entry = entries
            .iter()
            .find(|e| e.kind == subject)
            .unwrap_or_else(|| panic!("{subject} missing from the timeline"));
        assert!(!entry.event_id.is_empty(), "{subject}");
        assert!(entry.occurred_at.is_some());
    }
    let times: Vec<_> = entries
        .iter()
        .map(|e| {
            let t = e.occurred_at.unwrap();
            (t.seconds, t.nanos)
        })
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");

    // Paged, the same entries in the same order.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .get_order_timeline(GetOrderTimelineRequest {
                order_id: order.id.clone(),
                page_size: 3,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.entries.len() <= 3);
        paged.extend(page.entries);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(paged, entries);

    let missing = client
        .get_order_timeline(GetOrderTimelineRequest {
            order_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}
