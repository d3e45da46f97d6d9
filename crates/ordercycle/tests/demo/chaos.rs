//! Chaos across separate `ordercycle serve` processes (issue #15): while two hundred card orders
//! flow, each service in turn is killed with SIGKILL at a random moment and started again on its
//! database a random moment later. Afterwards every order has come to rest — IN_FULFILLMENT
//! (stock firm, money authorized; nobody plays the warehouse here) or CANCELLED for the scarce
//! cake — and the services agree exactly: no accepted order lost, no stock reserved twice, no
//! card authorized twice, no notification sent twice.
//!
//! The moments come from a seeded generator; the seed is printed first. Run one again with
//! `OC_CHAOS_SEED=<seed> cargo test -p ordercycle --test demo -- chaos --nocapture`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use contracts::common::{Address, Channel, Customer, FulfillmentMode, Money, PaymentMethod};
use contracts::inventory::inventory_service_client::InventoryServiceClient;
use contracts::inventory::{
    Bin, GetAvailabilityRequest, Item, ReceiveStockRequest, UpsertItemRequest,
    UpsertWarehouseRequest, Warehouse,
};
use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::{NewOrderLine, PaymentInstruction, PlaceOrderRequest};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::Mutex;
use tonic::Code;

use crate::ALL;
use crate::processes::Processes;

const BERLIN: &str = "WH-BER";
const TEA: &str = "TEA-CHAOS";
const TEA_PRICE: i64 = 1250;
/// Enough for every tea order (at most three each).
const TEA_UNITS: i32 = 1000;
const CAKE: &str = "CAKE-CHAOS";
const CAKE_PRICE: i64 = 3400;
/// Fewer cakes than cake orders: the rest are cancelled for the shortage.
const CAKE_UNITS: i32 = 10;
const ORDERS: usize = 200;
/// Every seventh order wants a cake (29 of them).
const CAKE_EVERY: usize = 7;
const PLACERS: usize = 4;

/// splitmix64: a few lines, reproducible from its seed, and no dependency for the test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Milliseconds in `low..high`.
    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

fn chaos_seed() -> u64 {
    std::env::var("OC_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(15)
        })
}

fn eur(amount_minor: i64) -> Money {
    Money {
        currency_code: "EUR".into(),
        amount_minor,
    }
}

pub(crate) async fn connect(addr: &str) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_lazy()
}

pub(crate) async fn seed_stock(platform: &Processes) {
    let mut inventory = InventoryServiceClient::new(connect(&platform.addr("inventory")).await);
    inventory
        .upsert_warehouse(UpsertWarehouseRequest {
            warehouse: Some(Warehouse {
                id: BERLIN.into(),
                name: "Berlin".into(),
                country_code: "DE".into(),
                region: "BE".into(),
                address: Some(Address {
                    recipient: "ordercycle Berlin".into(),
                    line1: "Lagerstraße 1".into(),
                    city: "Berlin".into(),
                    postal_code: "10115".into(),
                    country_code: "DE".into(),
                    ..Default::default()
                }),
                bins: vec![Bin {
                    code: "A-01".into(),
                    zone: "A".into(),
                    pick_sequence: 10,
                    pickable: Some(true),
                }],
                ..Default::default()
            }),
        })
        .await
        .expect("UpsertWarehouse");
    for (sku, name, price, units) in [
        (TEA, "Longjing green tea 250 g", TEA_PRICE, TEA_UNITS),
        (CAKE, "Rare cake", CAKE_PRICE, CAKE_UNITS),
    ] {
        inventory
            .upsert_item(UpsertItemRequest {
                item: Some(Item {
                    sku: sku.into(),
                    name: name.into(),
                    unit_price: Some(eur(price)),
                    weight_grams: 260,
                    reorder_point: 0,
                    ..Default::default()
                }),
            })
            .await
            .expect("UpsertItem");
        inventory
            .receive_stock(ReceiveStockRequest {
                request_id: format!("chaos-receive-{sku}"),
                sku: sku.into(),
                warehouse_id: BERLIN.into(),
                quantity: units,
                bin: "A-01".into(),
                ..Default::default()
            })
            .await
            .expect("ReceiveStock");
    }
}

/// Order `i`: a cake for every seventh, else one to three teas; a customer, token, phone and
/// address of its own, so no velocity rule holds it for review.
pub(crate) fn order_request(i: usize) -> PlaceOrderRequest {
    let (sku, quantity, price) = if i.is_multiple_of(CAKE_EVERY) {
        (CAKE, 1, CAKE_PRICE)
    } else {
        (TEA, (i % 3) as i32 + 1, TEA_PRICE)
    };
    PlaceOrderRequest {
        request_id: format!("chaos-{i}"),
        customer: Some(Customer {
            id: format!("chaos-customer-{i}"),
            name: "Mei Lin".into(),
            email: format!("mei{i}@example.com"),
            phone: format!("+49 30 {:07}", 1_000_000 + i),
        }),
        channel: Channel::Web.into(),
        fulfillment_mode: FulfillmentMode::Ship.into(),
        lines: vec![NewOrderLine {
            sku: sku.into(),
            quantity,
            unit_price: Some(eur(price)),
            ..Default::default()
        }],
        shipping_address: Some(Address {
            recipient: "Mei Lin".into(),
            line1: format!("Unter den Linden {i}"),
            city: "Berlin".into(),
            region: "BE".into(),
            postal_code: "10117".into(),
            country_code: "DE".into(),
            ..Default::default()
        }),
        payment: Some(PaymentInstruction {
            method: PaymentMethod::Card.into(),
            token: format!("tok_visa_chaos_{i}"),
            installment_count: 0,
        }),
        ..Default::default()
    }
}

/// Places `request` until orders answers OK (the same request_id each time, so a retry after a
/// lost answer returns the first order); returns the order id and the failed attempts' codes.
async fn place_until_ok(
    orders: &OrderServiceClient<tonic::transport::Channel>,
    request: PlaceOrderRequest,
) -> (String, Vec<Code>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let mut failures = Vec::new();
    loop {
        let mut call = tonic::Request::new(request.clone());
        call.set_timeout(Duration::from_secs(15));
        match orders.clone().place_order(call).await {
            Ok(answer) => {
                let order = answer.into_inner().order.expect("order");
                return (order.id, failures);
            }
            Err(status)
                if matches!(
                    status.code(),
                    Code::InvalidArgument | Code::FailedPrecondition | Code::AlreadyExists
                ) =>
            {
                panic!("{} refused: {status:?}", request.request_id)
            }
            Err(status) => failures.push(status.code()),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} never accepted: {failures:?}",
            request.request_id
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn small_pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("connect to a service database")
}

/// (on hand, reserved) of `sku` in Berlin.
async fn level(platform: &Processes, sku: &str) -> Option<(i32, i32)> {
    let levels = InventoryServiceClient::new(connect(&platform.addr("inventory")).await)
        .get_availability(GetAvailabilityRequest {
            sku: sku.into(),
            warehouse_id: BERLIN.into(),
        })
        .await
        .ok()?
        .into_inner()
        .levels;
    levels
        .into_iter()
        .find(|l| l.warehouse_id == BERLIN)
        .map(|l| (l.on_hand, l.reserved))
}

pub(crate) struct Databases {
    orders: PgPool,
    inventory: PgPool,
    payments: PgPool,
    notifications: PgPool,
}

/// Everything that does not hold yet, empty once the services agree with `placed`
/// (request_id → order id as PlaceOrder answered).
async fn violations(
    platform: &Processes,
    db: &Databases,
    placed: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut bad = Vec::new();

    // Orders: each accepted order exactly once, and every one at rest.
    let rows: Vec<(String, String, String, i64, String, i32)> = sqlx::query_as(
        "SELECT o.id::text, o.request_id, o.status, o.total_minor, l.sku, l.quantity
           FROM orders o JOIN order_lines l ON l.order_id = o.id",
    )
    .fetch_all(&db.orders)
    .await
    .expect("orders");
    if rows.len() != placed.len() {
        bad.push(format!(
            "orders holds {} order lines for {} accepted orders",
            rows.len(),
            placed.len()
        ));
    }
    let mut confirmed = HashMap::new();
    let mut cancelled = Vec::new();
    let mut reserved = BTreeMap::<&str, i64>::new();
    for (id, request_id, status, total, sku, quantity) in &rows {
        if placed.get(request_id) != Some(id) {
            bad.push(format!(
                "{request_id} is {id} in orders, not as PlaceOrder answered"
            ));
        }
        match status.as_str() {
            "IN_FULFILLMENT" => {
                confirmed.insert(id.clone(), *total);
                *reserved.entry(sku.as_str()).or_default() += i64::from(*quantity);
            }
            "CANCELLED" if sku == CAKE => cancelled.push(id.clone()),
            _ => bad.push(format!("{request_id} ({sku}) rests in {status}")),
        }
    }
    for (id, _) in placed
        .iter()
        .filter(|(_, id)| !rows.iter().any(|r| &r.0 == *id))
    {
        bad.push(format!("accepted order {id} is missing"));
    }
    let confirmed_cakes = reserved.get(CAKE).copied().unwrap_or(0);
    if confirmed_cakes != i64::from(CAKE_UNITS) {
        bad.push(format!(
            "{confirmed_cakes} cake orders went through, not {CAKE_UNITS}"
        ));
    }
    let repeated: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT order_id::text, kind, count(*) FROM order_timeline
          WHERE kind LIKE 'orders.%' GROUP BY 1, 2 HAVING count(*) > 1",
    )
    .fetch_all(&db.orders)
    .await
    .expect("timeline");
    bad.extend(
        repeated
            .iter()
            .map(|(id, kind, n)| format!("order {id} published {kind} {n} times")),
    );

    // Inventory: on hand untouched, reserved exactly what the confirmed orders hold.
    for (sku, on_hand) in [(TEA, TEA_UNITS), (CAKE, CAKE_UNITS)] {
        let want = (on_hand, reserved.get(sku).copied().unwrap_or(0) as i32);
        match level(platform, sku).await {
            Some(got) if got == want => {}
            got => bad.push(format!("{sku}: (on hand, reserved) {got:?}, want {want:?}")),
        }
    }
    let firm: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT order_id, status, count(*) FROM reservations
          WHERE status IN ('RESERVED', 'FIRM') GROUP BY 1, 2",
    )
    .fetch_all(&db.inventory)
    .await
    .expect("reservations");
    for (order, status, n) in &firm {
        if !confirmed.contains_key(order) || status != "FIRM" || *n != 1 {
            bad.push(format!("order {order} holds {n} {status} reservations"));
        }
    }
    if firm.len() != confirmed.len() {
        bad.push(format!(
            "{} orders hold stock, {} went through",
            firm.len(),
            confirmed.len()
        ));
    }

    // Payments: one authorization of the total per confirmed order, at the provider too.
    let payments: Vec<(String, String, i64, i64, i64, i64, String)> = sqlx::query_as(
        "SELECT p.order_id::text, p.status, p.amount_minor, p.authorized_minor,
                p.captured_minor,
                (SELECT count(*) FROM payment_transactions t
                  WHERE t.payment_id = p.id AND t.kind = 'AUTHORIZATION'),
                coalesce(p.token, '')
           FROM payments p",
    )
    .fetch_all(&db.payments)
    .await
    .expect("payments");
    for (order, status, amount, authorized, captured, authorizations, _) in &payments {
        match confirmed.get(order) {
            Some(total)
                if status == "AUTHORIZED"
                    && amount == total
                    && authorized == total
                    && *captured == 0
                    && *authorizations == 1 => {}
            _ => bad.push(format!(
                "payment of {order}: {status}, amount {amount}, authorized {authorized}, \
                 captured {captured}, {authorizations} authorizations"
            )),
        }
    }
    if payments.len() != confirmed.len() {
        bad.push(format!(
            "{} payments for {} confirmed orders",
            payments.len(),
            confirmed.len()
        ));
    }
    let charged: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT token, count(*), sum(amount_minor)::bigint FROM sim_provider_operations
          WHERE operation = 'authorize' AND approved GROUP BY token",
    )
    .fetch_all(&db.payments)
    .await
    .expect("provider operations");
    let charged_total: i64 = charged.iter().map(|(_, _, sum)| sum).sum();
    let confirmed_total: i64 = confirmed.values().sum();
    if charged.len() != confirmed.len()
        || charged.iter().any(|(_, n, _)| *n != 1)
        || charged_total != confirmed_total
    {
        bad.push(format!(
            "the provider authorized {} tokens for {charged_total} (confirmed: {} for \
             {confirmed_total}); repeated: {:?}",
            charged.len(),
            confirmed.len(),
            charged
                .iter()
                .filter(|(_, n, _)| *n != 1)
                .collect::<Vec<_>>()
        ));
    }

    // Notifications: each message once per order and channel; every milestone told.
    let doubled: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT order_id, template, channel, count(*) FROM notifications
          GROUP BY 1, 2, 3 HAVING count(*) > 1",
    )
    .fetch_all(&db.notifications)
    .await
    .expect("notifications");
    bad.extend(
        doubled
            .iter()
            .map(|(o, t, c, n)| format!("{t} by {c} for {o} {n} times")),
    );
    for (template, want) in [
        ("order.received", placed.len()),
        ("order.confirmed", confirmed.len()),
        ("order.cancelled", cancelled.len()),
    ] {
        let told: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT order_id) FROM notifications WHERE template = $1",
        )
        .bind(template)
        .fetch_one(&db.notifications)
        .await
        .expect("notifications");
        if told != want as i64 {
            bad.push(format!("{template} told for {told} orders, want {want}"));
        }
    }
    bad
}

#[tokio::test]
async fn killing_each_service_at_random_moments_loses_and_doubles_nothing() {
    let seed = chaos_seed();
    eprintln!("chaos seed: {seed} (OC_CHAOS_SEED={seed} repeats this run)");
    let mut rng = Rng(seed);

    let mut platform = Processes::start_with(vec![
        // Nothing may lapse on the hour-per-second clock while services are down: the
        // reservation TTL and authorization hold are 30 days (12 minutes here).
        ("OC_ORDERS_RESERVATION_TTL_SECS", (30 * 86_400).to_string()),
        ("OC_PAYMENTS_AUTHORIZATION_TTL_HOURS", (30 * 24).to_string()),
        // Short, so that republished events after a crash reach the inboxes.
        ("OC_STREAM_DUPLICATE_WINDOW_MS", "500".into()),
    ])
    .await;
    seed_stock(&platform).await;
    let orders = OrderServiceClient::new(connect(&platform.addr("orders")).await);
    // Orders learns the catalog from inventory's events: the first order waits for it.
    let first = order_request(ORDERS);
    let first_id = testkit::eventually("orders to know the catalog", || {
        let mut orders = orders.clone();
        let request = first.clone();
        async move {
            Some(
                orders
                    .place_order(request)
                    .await
                    .ok()?
                    .into_inner()
                    .order?
                    .id,
            )
        }
    })
    .await;

    let placed = Arc::new(Mutex::new(BTreeMap::from([(
        first.request_id.clone(),
        first_id,
    )])));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut placers = tokio::task::JoinSet::new();
    for worker in 0..PLACERS {
        let (orders, placed, failures, next) = (
            orders.clone(),
            placed.clone(),
            failures.clone(),
            next.clone(),
        );
        let mut rng = Rng(seed ^ (worker as u64 + 1));
        placers.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= ORDERS {
                    return;
                }
                let request = order_request(i);
                let request_id = request.request_id.clone();
                let (id, failed) = place_until_ok(&orders, request).await;
                placed.lock().await.insert(request_id, id);
                failures.lock().await.extend(failed);
                // Spread the orders over the whole round of kills.
                tokio::time::sleep(rng.millis(100, 700)).await;
            }
        });
    }

    for service in ALL.map(|d| d.name) {
        let before = rng.millis(300, 2500);
        let down = rng.millis(100, 2000);
        tokio::time::sleep(before).await;
        eprintln!("chaos: SIGKILL {service}, down for {down:?}");
        platform.kill(service).await;
        tokio::time::sleep(down).await;
        platform.restart(service).await;
    }
    while let Some(done) = placers.join_next().await {
        done.expect("a placer");
    }
    let placed = placed.lock().await.clone();
    assert_eq!(placed.len(), ORDERS + 1, "every order accepted");
    eprintln!(
        "chaos: every order accepted; failed attempts before that: {:?}",
        failures.lock().await
    );

    let db = Databases {
        orders: small_pool(&platform.database("orders")).await,
        inventory: small_pool(&platform.database("inventory")).await,
        payments: small_pool(&platform.database("payments")).await,
        notifications: small_pool(&platform.database("notifications")).await,
    };
    // The services agree eventually (a liveness bound, not a speed assertion); anything
    // doubled never heals, so it is still there when the deadline passes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(420);
    loop {
        let bad = violations(&platform, &db, &placed).await;
        if bad.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "seed {seed}: {} violations:\n{}",
            bad.len(),
            bad.join("\n")
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // At rest, and still so a moment later: nothing arrives late to double anything.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bad = violations(&platform, &db, &placed).await;
    assert!(bad.is_empty(), "seed {seed}: {}", bad.join("\n"));
}
