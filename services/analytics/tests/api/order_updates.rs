//! Order updates (`orders.order.updated`): the order's total and lines in the read models become
//! the newest update's — whatever arrives late, twice, or before the order's placement — and
//! the stored rollups follow.

use std::time::Duration;

use contracts::analytics::analytics_service_client::AnalyticsServiceClient;
use contracts::analytics::{
    GetSalesBreakdownRequest, GetSalesBreakdownResponse, GetSalesTrendsRequest, SalesDimension,
};
use contracts::common::{Address, Customer};
use contracts::orders::{OrderLine, OrderUpdated};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::helpers::{MANUAL_ROLLUPS, TestApp, minor, range, t, ts};
use crate::kpis::{refresh_rollups, stale_hours};
use crate::scenario::{self, eur, line};

/// What the sales questions say about day 0: (orders, units, gross), and by SKU and region.
#[derive(Debug, PartialEq)]
struct Figures {
    totals: (i64, i64, i64),
    by_sku: Vec<(String, i64, i64, i64)>,
    by_region: Vec<(String, i64, i64, i64)>,
}

async fn figures(app: &TestApp) -> Figures {
    let mut client = app.client().await;
    let totals = client
        .get_sales_trends(GetSalesTrendsRequest {
            range: range(t(0, 0, 0), t(1, 0, 0)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .totals
        .unwrap();
    let by_sku = breakdown(&mut client, SalesDimension::Sku).await;
    let by_region = breakdown(&mut client, SalesDimension::Region).await;
    Figures {
        totals: (
            totals.order_count,
            totals.units,
            minor(totals.gross_sales.as_ref()),
        ),
        by_sku,
        by_region,
    }
}

/// A sales breakdown of day 0 as (key, orders, units, revenue), sorted by key.
async fn breakdown(
    client: &mut AnalyticsServiceClient<Channel>,
    dimension: SalesDimension,
) -> Vec<(String, i64, i64, i64)> {
    let r: GetSalesBreakdownResponse = client
        .get_sales_breakdown(GetSalesBreakdownRequest {
            range: range(t(0, 0, 0), t(1, 0, 0)),
            dimension: dimension as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut entries: Vec<_> = r
        .entries
        .into_iter()
        .map(|e| (e.key, e.order_count, e.units, minor(e.revenue.as_ref())))
        .collect();
    entries.sort();
    entries
}

fn row(key: &str, orders: i64, units: i64, revenue: i64) -> (String, i64, i64, i64) {
    (key.into(), orders, units, revenue)
}

/// Order A of the scenario (2 x TEA 1250 + 1 x MUG 1000 = 3500, DE/R1) updated to `lines`.
fn update(version: i64, lines: Vec<OrderLine>, total_before: i64) -> OrderUpdated {
    let total = lines
        .iter()
        .map(|l| l.line_total.as_ref().unwrap().amount_minor)
        .sum();
    OrderUpdated {
        order_id: "A".into(),
        order_number: "OC-A".into(),
        update_id: Uuid::new_v4().to_string(),
        customer: Some(Customer {
            id: "c1".into(),
            ..Default::default()
        }),
        lines,
        total_before: eur(total_before),
        total: eur(total),
        lines_changed: true,
        version,
        updated_at: ts(t(0, 10, 45)),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_update_replaces_the_orders_figures_once_and_an_older_one_arriving_after_is_ignored() {
    // Rollups refreshed only when the test says, and a stream that lets a repeated id through.
    let app = TestApp::start_def(&MANUAL_ROLLUPS, |s| {
        s.streams.duplicate_window = Duration::from_millis(100);
    })
    .await;
    let [a, ..] = scenario::orders();
    app.publish(&a.placed()).await;
    app.publish(&a.confirmed(t(0, 10, 30))).await;
    app.settle().await;
    refresh_rollups(&app).await;
    assert_eq!(
        figures(&app).await,
        Figures {
            totals: (1, 3, 3_500),
            by_sku: vec![row("MUG", 1, 1, 1_000), row("TEA", 1, 2, 2_500)],
            by_region: vec![row("DE/R1", 1, 3, 3_500)],
        }
    );

    // Version 2: TEA lowered to one, two SPOONs added.
    let v2 = update(
        2,
        vec![
            line("L1", "TEA", 1, 1250),
            line("L2", "MUG", 1, 1000),
            line("L3", "SPOON", 2, 300),
        ],
        3_500,
    );
    let v2_id = app.publish(&v2).await;
    app.settle().await;
    // The stored rollups are out of date until the refresher runs: the update marked them.
    assert!(stale_hours(&app).await > 0);
    let expected = Figures {
        totals: (1, 4, 2_850),
        by_sku: vec![
            row("MUG", 1, 1, 1_000),
            row("SPOON", 1, 2, 600),
            row("TEA", 1, 1, 1_250),
        ],
        by_region: vec![row("DE/R1", 1, 4, 2_850)],
    };
    assert_eq!(figures(&app).await, expected);
    refresh_rollups(&app).await;
    assert_eq!(figures(&app).await, expected, "from the stored rollups");

    // Version 1 arrives late: older than what is applied, it changes nothing.
    app.publish(&update(1, vec![line("L1", "TEA", 5, 1250)], 3_500))
        .await;
    // Version 2 again under its own id (past the dedup window), and under a new one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.publish_as(v2_id, &v2).await;
    app.publish(&v2).await;
    // The order's confirmation again, with the lines from before the update.
    app.publish(&a.confirmed(t(0, 10, 30))).await;
    // The repeat is handled before the later copy under a new id (one consumer, in order).
    app.settle().await;
    let pool = &app.analytics.pool;
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM oc_inbox WHERE event_id = $1")
        .bind(v2_id)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(inbox, 1);
    assert_eq!(figures(&app).await, expected);
    let version: i64 = sqlx::query_scalar("SELECT version FROM order_facts WHERE order_id = 'A'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(version, 2);

    // Rebuilt from the kept events (in time order), the figures are the same.
    analytics::rebuild(pool).await.unwrap();
    assert_eq!(figures(&app).await, expected);
    refresh_rollups(&app).await;
    assert_eq!(figures(&app).await, expected);
}

#[tokio::test]
async fn an_update_arriving_before_the_orders_placement_is_kept_and_its_figures_win() {
    let app = TestApp::start_def(&MANUAL_ROLLUPS, |_| {}).await;
    let [a, ..] = scenario::orders();
    // MUG dropped, TEA lowered, SPOONs added, and the parcel goes to another region.
    let moved = OrderUpdated {
        address_changed: true,
        shipping_address: Some(Address {
            country_code: "DE".into(),
            region: "R2".into(),
            ..Default::default()
        }),
        ..update(
            1,
            vec![line("L1", "TEA", 1, 1250), line("L3", "SPOON", 2, 300)],
            3_500,
        )
    };
    app.publish(&moved).await;
    app.settle().await;
    // Not placed yet: in no placement hour, so in no figure.
    assert_eq!(figures(&app).await.totals, (0, 0, 0));

    app.publish(&a.placed()).await;
    app.publish(&a.confirmed(t(0, 10, 30))).await;
    app.settle().await;
    let expected = Figures {
        totals: (1, 3, 1_850),
        by_sku: vec![row("SPOON", 1, 2, 600), row("TEA", 1, 1, 1_250)],
        by_region: vec![row("DE/R2", 1, 3, 1_850)],
    };
    assert_eq!(figures(&app).await, expected);
    refresh_rollups(&app).await;
    assert_eq!(figures(&app).await, expected, "from the stored rollups");
    let (number, customer): (String, String) =
        sqlx::query_as("SELECT order_number, customer_id FROM order_facts WHERE order_id = 'A'")
            .fetch_one(&app.analytics.pool)
            .await
            .unwrap();
    assert_eq!((number.as_str(), customer.as_str()), ("OC-A", "c1"));

    analytics::rebuild(&app.analytics.pool).await.unwrap();
    assert_eq!(figures(&app).await, expected);
}

#[tokio::test]
async fn an_erasure_masks_the_contact_and_address_an_update_gave() {
    let app = TestApp::start().await;
    let [a, ..] = scenario::orders();
    app.publish(&a.placed()).await;
    let new_contact = OrderUpdated {
        customer: Some(Customer {
            id: "c1".into(),
            name: "Mei Lin-Wagner".into(),
            email: "mei.wagner@example.com".into(),
            phone: "+49 30 7654321".into(),
        }),
        contact_changed: true,
        address_changed: true,
        shipping_address: Some(Address {
            recipient: "Mei Lin-Wagner".into(),
            line1: "Friedrichstrasse 7".into(),
            city: "Berlin".into(),
            country_code: "DE".into(),
            region: "R1".into(),
            ..Default::default()
        }),
        ..update(1, vec![line("L1", "TEA", 1, 1250)], 3_500)
    };
    app.publish(&new_contact).await;
    app.settle().await;
    let pool = &app.analytics.pool;
    let needles = [
        "mei.wagner@example.com",
        "+49 30 7654321",
        "Mei Lin-Wagner",
        "Friedrichstrasse",
    ];
    assert_eq!(testkit::privacy::traces(pool, &needles).await.len(), 4);

    let erasure = testkit::privacy::erasure(&["A"], "c1");
    messaging::envelope::publish_direct(
        app.env.jetstream(),
        &app.env.subjects(),
        "ordercycle/orders",
        &erasure,
    )
    .await
    .unwrap();
    testkit::privacy::applied(pool, &erasure.erasure_id).await;
    assert_eq!(
        testkit::privacy::traces(pool, &needles).await,
        Vec::<String>::new()
    );
    // The masked update still decodes and a rebuild still gives its figures.
    analytics::rebuild(pool).await.unwrap();
    assert_eq!(figures(&app).await.totals, (1, 1, 1_250));
}
