//! Outages of the platform's dependencies under a running `ordercycle serve` process (issue
//! #15). PostgreSQL is reached through a loopback TCP proxy the test owns and cuts — every
//! open connection closed, every new one closed at once — never by touching the shared server.
//! While cut the service must say so (gRPC health NOT_SERVING, `/readyz` failing) and answer
//! RPCs with UNAVAILABLE, not INTERNAL or a leaked SQL message; once the proxy forwards again it
//! must serve again by itself, with no restart. NATS is a private `nats-server` the test stops
//! and starts again (`testkit::NatsServer`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::{GetOrderRequest, PlaceOrderRequest};
use runtime::config::StreamStorage;
use testkit::{NatsServer, TestEnv};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};
use tonic::Code;

use crate::processes::Processes;

/// Forwards loopback connections to `upstream` until cut.
struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let cut = Arc::new(AtomicBool::new(false));
        let links = Arc::new(Mutex::new(Vec::<AbortHandle>::new()));
        let accept = tokio::spawn({
            let (cut, links) = (cut.clone(), links.clone());
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        // Refused: closed before a byte is read.
                        drop(inbound);
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link.abort_handle());
                }
            }
        });
        Self {
            addr,
            cut,
            links,
            accept,
        }
    }

    /// Closes every forwarded connection and refuses new ones.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The gRPC health of the whole server (`""`): 1 SERVING, 2 NOT_SERVING; None if unreachable.
async fn health(grpc: &str) -> Option<i32> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}"))
        .ok()?
        .connect()
        .await
        .ok()?;
    Some(
        tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .ok()?
            .into_inner()
            .status,
    )
}

/// The HTTP status code of `GET /readyz` on the admin port.
async fn readyz(http: &str) -> Option<u16> {
    let answer = testkit::admin_get(http, "/readyz").await.ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// A tea order of a customer, token, phone and address of its own for each `n`, so that no
/// velocity rule holds it.
fn order_request(n: usize, request_id: &str) -> PlaceOrderRequest {
    let mut request = crate::chaos::order_request(7 * n + 1);
    request.request_id = request_id.into();
    request
}

/// No driver, SQL or network detail reaches the caller.
fn assert_nothing_leaked(status: &tonic::Status) {
    let message = status.message().to_lowercase();
    for word in [
        "sqlx",
        "pool",
        "select",
        "insert",
        "postgres",
        "127.0.0.1",
        "io error",
        "relation",
    ] {
        assert!(!message.contains(word), "{word} leaked: {status:?}");
    }
}

#[tokio::test]
async fn orders_reports_not_serving_and_unavailable_while_postgres_is_cut_and_recovers_alone() {
    let proxy = Proxy::start("127.0.0.1:5432").await;
    // Orders alone: the catalog check would wait for inventory's events.
    let mut platform = Processes::prepare(
        &["orders"],
        TestEnv::new().await,
        vec![("OC_ORDERS_CATALOG_CHECK", "false".into())],
    )
    .await;
    let direct = platform.database("orders");
    let proxied = direct.replace("127.0.0.1:5432", &proxy.addr.to_string());
    assert_ne!(
        direct, proxied,
        "the database URL names 127.0.0.1:5432: {direct}"
    );
    // Migrations run at start-up through the open proxy.
    platform
        .start_service("orders", &[("OC_ORDERS_DATABASE_URL", proxied)])
        .await;
    let grpc = platform.addr("orders");
    let http = platform.http_addr("orders");
    let orders = OrderServiceClient::new(
        tonic::transport::Channel::from_shared(format!("http://{grpc}"))
            .expect("uri")
            .connect_lazy(),
    );
    let before = orders
        .clone()
        .place_order(order_request(1, "before-the-cut"))
        .await
        .expect("PlaceOrder before the cut")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(readyz(&http).await, Some(200));

    proxy.cut();
    testkit::eventually("health to turn NOT_SERVING", || async {
        (health(&grpc).await == Some(2)).then_some(())
    })
    .await;
    testkit::eventually("/readyz to fail", || async {
        (readyz(&http).await.is_some_and(|code| code != 200)).then_some(())
    })
    .await;
    for status in [
        orders
            .clone()
            .get_order(GetOrderRequest {
                id: before.id.clone(),
            })
            .await
            .expect_err("GetOrder while cut"),
        orders
            .clone()
            .place_order(order_request(2, "during-the-cut"))
            .await
            .expect_err("PlaceOrder while cut"),
    ] {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert_nothing_leaked(&status);
    }

    proxy.restore();
    testkit::eventually("health to turn SERVING again", || async {
        (health(&grpc).await == Some(1)).then_some(())
    })
    .await;
    assert_eq!(readyz(&http).await, Some(200));
    let after = orders
        .clone()
        .place_order(order_request(3, "after-the-cut"))
        .await
        .expect("PlaceOrder after the cut")
        .into_inner()
        .order
        .expect("order");
    assert_ne!(after.id, before.id);
    // The refused request was never half-written: retried now, it makes one new order.
    let retried = orders
        .clone()
        .place_order(order_request(2, "during-the-cut"))
        .await
        .expect("the refused PlaceOrder, retried")
        .into_inner()
        .order
        .expect("order");
    assert_ne!(retried.id, after.id);
    assert!(
        platform.running("orders"),
        "orders recovered without a restart"
    );
}

/// Statuses of the orders with these request ids, from orders' database.
async fn statuses(pool: &sqlx::PgPool, request_ids: &[String]) -> Vec<String> {
    sqlx::query_scalar("SELECT status FROM orders WHERE request_id = ANY($1) ORDER BY request_id")
        .bind(request_ids)
        .fetch_all(pool)
        .await
        .expect("orders")
}

#[tokio::test]
async fn orders_placed_while_nats_is_down_are_accepted_and_confirmed_once_it_is_back() {
    // A private server (the shared one is never stopped), declared first so that it outlives
    // the platform and its clean-up; file storage survives its restart.
    let mut nats = NatsServer::start().await;
    let url = nats.url();
    let env = TestEnv::with(|s| {
        s.nats_url = url.clone();
        s.streams.storage = StreamStorage::File;
    })
    .await;
    let names = crate::ALL.map(|d| d.name);
    let mut platform = Processes::prepare(
        &names,
        env,
        vec![
            ("OC_NATS_URL", url),
            ("OC_STREAM_STORAGE", "file".into()),
            // Nothing lapses on the hour-per-second clock during the outage.
            ("OC_ORDERS_RESERVATION_TTL_SECS", (30 * 86_400).to_string()),
            ("OC_PAYMENTS_AUTHORIZATION_TTL_HOURS", (30 * 24).to_string()),
        ],
    )
    .await;
    for name in names {
        platform.start_service(name, &[]).await;
    }
    crate::chaos::seed_stock(&platform).await;
    let orders = OrderServiceClient::new(crate::chaos::connect(&platform.addr("orders")).await);
    let first = testkit::eventually("orders to know the catalog", || {
        let mut orders = orders.clone();
        async move {
            orders
                .place_order(order_request(10, "before-the-outage"))
                .await
                .ok()
        }
    })
    .await;
    let pool = sqlx::PgPool::connect(&platform.database("orders"))
        .await
        .expect("orders database");
    let before = vec!["before-the-outage".to_owned()];
    testkit::eventually("the first order to reach fulfillment", || async {
        (statuses(&pool, &before).await == ["IN_FULFILLMENT"]).then_some(())
    })
    .await;
    drop(first);

    nats.stop();
    let grpc = platform.addr("orders");
    let http = platform.http_addr("orders");
    testkit::eventually("health to show the NATS outage", || async {
        (health(&grpc).await == Some(2)).then_some(())
    })
    .await;
    assert_eq!(readyz(&http).await, Some(503));
    // Accepted with NATS down: the order and its event wait in Postgres (the outbox).
    let during: Vec<String> = (0..5).map(|i| format!("during-the-outage-{i}")).collect();
    for (n, request_id) in during.iter().enumerate() {
        orders
            .clone()
            .place_order(order_request(11 + n, request_id))
            .await
            .expect("PlaceOrder while NATS is down");
    }
    assert!(
        statuses(&pool, &during)
            .await
            .iter()
            .all(|s| s == "PENDING"),
        "nothing moves without NATS: {:?}",
        statuses(&pool, &during).await
    );

    nats.restart().await;
    testkit::eventually("health to be SERVING again", || async {
        (health(&grpc).await == Some(1)).then_some(())
    })
    .await;
    testkit::eventually("the outage's orders to reach fulfillment", || async {
        statuses(&pool, &during)
            .await
            .iter()
            .all(|s| s == "IN_FULFILLMENT")
            .then_some(())
    })
    .await;
    assert_eq!(readyz(&http).await, Some(200));
    for name in names {
        assert!(platform.running(name), "{name} rode out the outage");
    }
}
