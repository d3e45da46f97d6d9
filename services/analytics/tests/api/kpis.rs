//! The known week of `scenario` gives known figures from every RPC, and a rebuild from the
//! kept events gives the same figures again.

use contracts::analytics::*;
use contracts::common::{CaseResolution, Channel, PaymentMethod, ReturnReason};
use contracts::orders::CancelReason;

use crate::helpers::{MANUAL_ROLLUPS, TestApp, minor, range, secs, t};
use crate::scenario;

const HOUR: f64 = 3_600.0;

/// Every answer the week gives, to compare before and after a rebuild.
#[derive(Debug, PartialEq)]
struct Answers {
    sales: GetSalesTrendsResponse,
    mix: GetChannelMixResponse,
    cycle: GetCycleTimesResponse,
    fulfillment: GetFulfillmentKpisResponse,
    returns: GetReturnStatsResponse,
    feedback: GetFeedbackSummaryResponse,
    orders: GetOrderKpisResponse,
    by_sku: GetSalesBreakdownResponse,
}

async fn ask(app: &TestApp) -> Answers {
    ask_in(
        app,
        range(t(0, 0, 0), t(2, 0, 0)),
        range(t(0, 0, 0), t(7, 0, 0)),
    )
    .await
}

/// Every answer, sales and channel mix for `days`, the rest for `week`.
async fn ask_in(app: &TestApp, days: Option<TimeRange>, week: Option<TimeRange>) -> Answers {
    let mut client = app.client().await;
    Answers {
        sales: client
            .get_sales_trends(GetSalesTrendsRequest {
                range: days,
                granularity: Granularity::Day as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner(),
        mix: client
            .get_channel_mix(GetChannelMixRequest {
                range: days,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner(),
        cycle: client
            .get_cycle_times(GetCycleTimesRequest {
                range: week,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner(),
        fulfillment: client
            .get_fulfillment_kpis(GetFulfillmentKpisRequest {
                range: week,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner(),
        returns: client
            .get_return_stats(GetReturnStatsRequest {
                range: week,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner(),
        feedback: client
            .get_feedback_summary(GetFeedbackSummaryRequest {
                range: week,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner(),
        orders: client
            .get_order_kpis(GetOrderKpisRequest {
                range: week,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner(),
        by_sku: client
            .get_sales_breakdown(GetSalesBreakdownRequest {
                range: week,
                dimension: SalesDimension::Sku as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner(),
    }
}

fn stage(cycle: &GetCycleTimesResponse, stage: CycleStage) -> &CycleTimeStat {
    cycle
        .stages
        .iter()
        .find(|s| s.stage == stage as i32)
        .unwrap_or_else(|| panic!("{stage:?} missing"))
}

#[tokio::test]
async fn a_known_week_gives_known_kpis_and_a_rebuild_reproduces_them() {
    let app = TestApp::start().await;
    scenario::play(&app).await;
    let answers = ask(&app).await;

    // Sales per day: A, B, C on day 0; D and E (both cancelled) on day 1.
    let sales = &answers.sales;
    assert_eq!(sales.currency_code, "EUR");
    assert_eq!(sales.buckets.len(), 2);
    let day0 = &sales.buckets[0];
    assert_eq!(day0.bucket_start, crate::helpers::ts(t(0, 0, 0)));
    assert_eq!(
        (day0.order_count, day0.cancelled_count, day0.units),
        (3, 0, 8)
    );
    assert_eq!(minor(day0.gross_sales.as_ref()), 9_500);
    assert_eq!(minor(day0.refunds.as_ref()), 2_500);
    assert_eq!(minor(day0.net_sales.as_ref()), 7_000);
    assert_eq!(minor(day0.average_order_value.as_ref()), 3_166);
    let day1 = &sales.buckets[1];
    assert_eq!(
        (day1.order_count, day1.cancelled_count, day1.units),
        (2, 2, 2)
    );
    assert_eq!(minor(day1.gross_sales.as_ref()), 2_250);
    assert_eq!(minor(day1.net_sales.as_ref()), 0);
    let totals = sales.totals.as_ref().unwrap();
    assert_eq!(
        (totals.order_count, totals.cancelled_count, totals.units),
        (5, 2, 10)
    );
    assert_eq!(minor(totals.gross_sales.as_ref()), 11_750);
    assert_eq!(minor(totals.average_order_value.as_ref()), 2_350);

    // Channel mix: web A, C, E; app B; phone D.
    let mix = &answers.mix.entries;
    assert_eq!(
        mix.iter()
            .map(|e| (e.channel, e.order_count))
            .collect::<Vec<_>>(),
        vec![
            (Channel::Web as i32, 3),
            (Channel::MobileApp as i32, 1),
            (Channel::Phone as i32, 1),
        ]
    );
    assert_eq!(minor(mix[0].revenue.as_ref()), 5_500);
    assert_eq!(mix[0].order_share, 0.6);
    assert_eq!(mix[0].revenue_share, 5_500.0 / 11_750.0);
    assert_eq!(mix[0].completion_rate, 1.0 / 3.0);
    assert_eq!(mix[0].cancellation_rate, 1.0 / 3.0);
    assert_eq!(mix[2].cancellation_rate, 1.0);

    // Cycle times: placed → confirmed took 30 min (A), 60 min (B), 150 min (C).
    let cycle = &answers.cycle;
    let confirmed = stage(cycle, CycleStage::PlacedToConfirmed);
    assert_eq!(confirmed.sample_count, 3);
    assert_eq!(secs(confirmed.mean.as_ref()), 4_800.0);
    assert_eq!(secs(confirmed.p50.as_ref()), 3_600.0);
    // percentile_cont interpolates: 3600 + 0.8 × (9000 − 3600).
    assert_eq!(secs(confirmed.p90.as_ref()), 7_920.0);
    assert_eq!(secs(confirmed.max.as_ref()), 9_000.0);
    assert_eq!(
        secs(stage(cycle, CycleStage::HeldToDecided).p50.as_ref()),
        2.0 * HOUR
    );
    let dispatched = stage(cycle, CycleStage::ConfirmedToDispatched);
    assert_eq!(
        (dispatched.sample_count, secs(dispatched.p90.as_ref())),
        (2, 2.0 * HOUR)
    );
    let transit = stage(cycle, CycleStage::HandedOverToDelivered);
    assert_eq!(secs(transit.p50.as_ref()), 34.5 * HOUR);
    assert_eq!(secs(transit.max.as_ref()), 45.0 * HOUR);
    assert_eq!(
        secs(stage(cycle, CycleStage::DeliveredToAccepted).p50.as_ref()),
        24.0 * HOUR
    );
    assert_eq!(
        secs(stage(cycle, CycleStage::PlacedToDelivered).p50.as_ref()),
        37.25 * HOUR
    );
    assert_eq!(
        secs(stage(cycle, CycleStage::PlacedToCompleted).p50.as_ref()),
        51.0 * HOUR
    );
    assert_eq!(
        secs(
            stage(cycle, CycleStage::ReturnRequestedToClosed)
                .p50
                .as_ref()
        ),
        6.0 * HOUR
    );
    assert!(
        cycle
            .stages
            .iter()
            .all(|s| s.stage != CycleStage::ReadyToPickedUp as i32)
    );
    assert!(
        cycle.stages.windows(2).all(|w| w[0].stage < w[1].stage),
        "cycle order"
    );

    // Warehouse W1 shipped A (on time) and B (late, after one failed attempt).
    let f = &answers.fulfillment;
    assert_eq!(f.warehouses.len(), 1);
    let w1 = &f.warehouses[0];
    assert_eq!(w1.warehouse_id, "W1");
    assert_eq!(
        (
            w1.fulfillments_created,
            w1.units_picked,
            w1.units_short_picked
        ),
        (2, 7, 0)
    );
    assert_eq!(
        (
            w1.parcels_packed,
            w1.parcels_handed_over,
            w1.average_parcel_weight_grams
        ),
        (2, 2, 1_000)
    );
    assert_eq!(secs(w1.dispatch_time_p50.as_ref()), 2.0 * HOUR);
    assert_eq!((w1.shipments_delivered, w1.delivery_failures), (2, 1));
    assert_eq!(w1.first_attempt_delivery_rate, 0.5);
    assert_eq!(w1.on_time_delivery_rate, 0.5);
    let overall = f.overall.as_ref().unwrap();
    assert_eq!(overall.warehouse_id, "");
    assert_eq!(overall.fulfillments_created, 2);
    assert_eq!(overall.on_time_delivery_rate, 0.5);

    // Returns: 2 of the 7 delivered units came back.
    let r = &answers.returns;
    assert_eq!(
        (r.return_count, r.returned_units, r.delivered_units),
        (1, 2, 7)
    );
    assert_eq!(r.return_rate, 2.0 / 7.0);
    assert_eq!(minor(r.refunded_amount.as_ref()), 2_500);
    assert_eq!(
        r.by_reason,
        vec![ReturnReasonStat {
            reason: ReturnReason::WrongSize as i32,
            return_count: 1,
            units: 2
        }]
    );
    assert_eq!(
        r.top_skus,
        vec![SkuReturnStat {
            sku: "TEA".into(),
            units_delivered: 6,
            units_returned: 2,
            return_rate: 2.0 / 6.0
        }]
    );

    // Customer voice.
    let fb = &answers.feedback;
    assert_eq!((fb.surveys_sent, fb.surveys_submitted), (2, 2));
    assert_eq!(fb.response_rate, 1.0);
    assert_eq!(fb.average_csat, 3.0);
    assert_eq!(
        (fb.promoters, fb.passives, fb.detractors, fb.nps),
        (1, 0, 1, 0.0)
    );
    assert_eq!((fb.reviews_published, fb.average_rating), (1, 5.0));
    assert_eq!(
        fb.rating_counts.iter().map(|r| r.count).collect::<Vec<_>>(),
        vec![0, 0, 0, 0, 1]
    );
    assert_eq!(
        (fb.cases_opened, fb.cases_resolved, fb.sla_breaches),
        (1, 1, 1)
    );
    assert_eq!(secs(fb.median_resolution_time.as_ref()), 6.0 * HOUR);
    assert_eq!(
        fb.resolutions,
        vec![ResolutionCount {
            resolution: CaseResolution::Refund as i32,
            count: 1
        }]
    );

    // Order-level rates.
    let o = &answers.orders;
    assert_eq!(
        (o.order_count, o.delivered_count, o.perfect_order_count),
        (5, 2, 1)
    );
    assert_eq!(o.perfect_order_rate, 0.5);
    assert_eq!((o.cancelled_count, o.cancellation_rate), (2, 0.4));
    assert_eq!(
        o.cancellations,
        vec![
            CancelReasonCount {
                reason: CancelReason::OutOfStock as i32,
                count: 1
            },
            CancelReasonCount {
                reason: CancelReason::PaymentDeclined as i32,
                count: 1
            },
        ]
    );
    assert_eq!((o.shortage_count, o.shortage_rate), (1, 0.2));
    assert_eq!(
        (
            o.held_count,
            o.hold_rate,
            o.approved_count,
            o.rejected_count
        ),
        (1, 0.2, 1, 0)
    );
    assert_eq!(secs(o.decision_time_p50.as_ref()), 2.0 * HOUR);
    assert_eq!(
        o.payment_methods,
        vec![
            PaymentMethodStat {
                method: PaymentMethod::Card as i32,
                order_count: 4,
                order_share: 0.8,
                authorized_count: 3,
                declined_count: 1,
                decline_rate: 0.25
            },
            PaymentMethodStat {
                method: PaymentMethod::CashOnDelivery as i32,
                order_count: 1,
                order_share: 0.2,
                authorized_count: 0,
                declined_count: 0,
                decline_rate: 0.0
            },
        ]
    );
    assert_eq!(o.decline_rate, 0.25);
    assert_eq!(
        (
            o.customer_count,
            o.repeat_customer_count,
            o.repeat_customer_rate
        ),
        (4, 1, 0.25)
    );

    // Sales by SKU: TEA 2 + 4 + 1 units, MUG 1 + 1 + 1.
    let skus = &answers.by_sku.entries;
    assert_eq!(
        skus.iter()
            .map(|e| (
                e.key.as_str(),
                e.order_count,
                e.units,
                minor(e.revenue.as_ref())
            ))
            .collect::<Vec<_>>(),
        vec![("TEA", 3, 7, 8_750), ("MUG", 3, 3, 3_000),]
    );

    // Rebuilt from the kept events, every answer is the same.
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM raw_events")
        .fetch_one(&app.analytics.pool)
        .await
        .unwrap();
    let report = analytics::rebuild(&app.analytics.pool).await.unwrap();
    assert_eq!(report.replayed, u64::try_from(kept).unwrap());
    assert_eq!(report.undecodable, 0);
    assert_eq!(ask(&app).await, answers);
    // And rebuilding twice changes nothing either.
    analytics::rebuild(&app.analytics.pool).await.unwrap();
    assert_eq!(ask(&app).await, answers);

    // Read from the stored rollups rather than the facts, every answer is the same.
    refresh_rollups(&app).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM rollup_sales")
        .fetch_one(&app.analytics.pool)
        .await
        .unwrap();
    assert!(stored > 0);
    assert_eq!(ask(&app).await, answers);
}

pub async fn stale_hours(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(DISTINCT hour) FROM rollup_stale")
        .fetch_one(&app.analytics.pool)
        .await
        .unwrap()
}

/// Recomputes every stale rollup bucket (waiting out the service's own refresher).
pub async fn refresh_rollups(app: &TestApp) {
    let pool = &app.analytics.pool;
    for _ in 0..100 {
        analytics::store::rollup::refresh_all(pool).await.unwrap();
        let stale: i64 = sqlx::query_scalar("SELECT count(*) FROM rollup_stale")
            .fetch_one(pool)
            .await
            .unwrap();
        if stale == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the rollups stayed stale");
}

#[tokio::test]
async fn ranges_cut_anywhere_get_the_same_answers_from_the_rollups_as_from_the_facts() {
    let app = TestApp::start_def(&MANUAL_ROLLUPS, |_| {}).await;
    scenario::play(&app).await;
    assert!(stale_hours(&app).await > 0);
    // Whole days; partial days at both ends; partial hours; inside one day; inside one hour.
    let ranges = [
        (t(0, 0, 0), t(7, 0, 0)),
        (t(0, 10, 0), t(3, 14, 0)),
        (t(0, 10, 30), t(3, 14, 15)),
        (t(0, 9, 15), t(0, 23, 45)),
        (t(0, 11, 5), t(0, 11, 55)),
        (t(1, 8, 59), t(6, 0, 1)),
    ];
    let mut from_facts = Vec::new();
    for (start, end) in ranges {
        from_facts.push(ask_in(&app, range(start, end), range(start, end)).await);
    }
    refresh_rollups(&app).await;
    for ((start, end), expected) in ranges.into_iter().zip(&from_facts) {
        let answers = ask_in(&app, range(start, end), range(start, end)).await;
        assert_eq!(&answers, expected, "{start} – {end}");
    }
    // The ranges do see different orders (a check that the comparison compares something).
    assert_ne!(
        from_facts[0].orders.order_count,
        from_facts[4].orders.order_count
    );
}

#[tokio::test]
async fn a_fact_changed_after_a_refresh_is_counted_before_the_next() {
    let app = TestApp::start_def(&MANUAL_ROLLUPS, |_| {}).await;
    scenario::play(&app).await;
    refresh_rollups(&app).await;
    let before = ask(&app).await;
    // Order B (day 0) gets a second refund: its hour is stale until the next refresh, and
    // the answer counts the refund at once.
    sqlx::query(
        "INSERT INTO money_moves (transaction_id, kind, payment_id, order_id, currency_code,
             amount_minor, occurred_at)
         SELECT 'late-refund', 'refunded', m.payment_id, m.order_id, m.currency_code, 100, now()
         FROM money_moves m WHERE m.order_id = 'B' LIMIT 1",
    )
    .execute(&app.analytics.pool)
    .await
    .unwrap();
    assert!(stale_hours(&app).await > 0);
    let after = ask(&app).await;
    let refunds = |a: &Answers| minor(a.sales.buckets[0].refunds.as_ref());
    assert_eq!(refunds(&after), refunds(&before) + 100);
    refresh_rollups(&app).await;
    assert_eq!(ask(&app).await, after);
}

/// An update that changes no fact (an event repeating what is known) rewrites nothing and
/// marks no hour stale; one that moves a time marks the hour it left and the hour it entered.
#[tokio::test]
async fn an_update_marks_the_hours_a_time_moved_between_and_one_changing_nothing_marks_none() {
    let app = TestApp::start_def(&MANUAL_ROLLUPS, |_| {}).await;
    scenario::play(&app).await;
    refresh_rollups(&app).await;
    let pool = &app.analytics.pool;
    let same = sqlx::query("UPDATE order_facts SET placed_at = placed_at, status = status")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(same.rows_affected(), 0);
    assert_eq!(stale_hours(&app).await, 0);

    // A payment of an order with no other facts: its own time is the only one it marks.
    sqlx::query(
        "INSERT INTO payment_facts (payment_id, order_id, authorized_at)
         VALUES ('moved', 'alone', '2031-05-04T10:20:00Z')",
    )
    .execute(pool)
    .await
    .unwrap();
    refresh_rollups(&app).await;
    sqlx::query("UPDATE payment_facts SET authorized_at = '2031-05-04T12:20:00Z' WHERE payment_id = 'moved'")
        .execute(pool)
        .await
        .unwrap();
    let marked: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT to_char(hour AT TIME ZONE 'UTC', 'HH24:MI') FROM rollup_stale ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(marked, ["10:00", "12:00"]);
}

/// The stale-mark triggers name the fact tables' time columns (migration
/// `20261231000001_stale_marks_by_column.sql`): generated again from the catalog they are the
/// same, and a time column added to a fact table is marked once they are.
#[tokio::test]
async fn the_stale_marks_follow_every_time_column_of_the_facts() {
    let app = TestApp::start_def(&MANUAL_ROLLUPS, |_| {}).await;
    let pool = &app.analytics.pool;
    let definitions = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT string_agg(pg_get_functiondef(oid), '' ORDER BY proname) FROM pg_proc
             WHERE proname LIKE 'rollup\\_mark\\_%'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let install = || async {
        sqlx::query("SELECT rollup_install_stale_marks()")
            .execute(pool)
            .await
            .unwrap();
    };
    let installed = definitions().await;
    assert!(installed.contains("rollup_mark_return_facts") && installed.contains("r.placed_at"));
    install().await;
    assert_eq!(definitions().await, installed);

    sqlx::query("ALTER TABLE payment_facts ADD COLUMN captured_at timestamptz")
        .execute(pool)
        .await
        .unwrap();
    install().await;
    assert!(definitions().await.contains("c.captured_at"));
    sqlx::query(
        "INSERT INTO payment_facts (payment_id, order_id, captured_at)
         VALUES ('late-capture', 'nobody', '2031-05-04T10:20:00Z')",
    )
    .execute(pool)
    .await
    .unwrap();
    let marked: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM rollup_stale WHERE hour = '2031-05-04T10:00:00Z')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(marked, "the new column's hour is marked");
}

#[tokio::test]
async fn many_durations_are_read_from_histograms_within_one_percent() {
    let app = TestApp::start_def(&MANUAL_ROLLUPS, |_| {}).await;
    let pool = &app.analytics.pool;
    // 12,000 orders confirmed 1 to 12,000 seconds after placement (more than the exact limit).
    sqlx::query(
        "INSERT INTO order_facts (order_id, customer_id, channel, currency_code, total_minor,
             units, placed_at, confirmed_at)
         SELECT 'h' || n, 'hc' || n, 1, 'EUR', 100, 1, $1::timestamptz + n * interval '1 minute',
             $1::timestamptz + n * interval '1 minute' + n * interval '1 second'
         FROM generate_series(1, 12000) n",
    )
    .bind(t(0, 0, 0))
    .execute(pool)
    .await
    .unwrap();
    const { assert!(12_000 > analytics::store::kpis::EXACT_SAMPLES) };
    for refreshed in [false, true] {
        if refreshed {
            refresh_rollups(&app).await;
        }
        let answer = app
            .client()
            .await
            .get_cycle_times(GetCycleTimesRequest {
                range: range(t(0, 0, 0), t(30, 0, 0)),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let s = stage(&answer, CycleStage::PlacedToConfirmed);
        assert_eq!(s.sample_count, 12_000);
        assert!((secs(s.mean.as_ref()) - 6_000.5).abs() < 1e-6);
        // percentile_cont over 1..=12000: p50 6000.5, p90 10800.1, p95 11400.05.
        for (read, exact) in [
            (secs(s.p50.as_ref()), 6_000.5),
            (secs(s.p90.as_ref()), 10_800.1),
            (secs(s.p95.as_ref()), 11_400.05),
            (secs(s.max.as_ref()), 12_000.0),
        ] {
            assert!(
                (read - exact).abs() <= exact * 0.01,
                "{read} s read for {exact} s (refreshed: {refreshed})"
            );
        }
    }
}

#[tokio::test]
async fn buckets_follow_the_requested_time_zone_and_filters() {
    let app = TestApp::start().await;
    scenario::play(&app).await;
    let mut client = app.client().await;
    // Berlin is UTC+1 in early March: its days start at 23:00 UTC.
    let berlin = client
        .get_sales_trends(GetSalesTrendsRequest {
            range: range(t(-1, 23, 0), t(1, 23, 0)),
            granularity: Granularity::Day as i32,
            time_zone: "Europe/Berlin".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        berlin
            .buckets
            .iter()
            .map(|b| (b.bucket_start, b.order_count))
            .collect::<Vec<_>>(),
        vec![
            (crate::helpers::ts(t(-1, 23, 0)), 3),
            (crate::helpers::ts(t(0, 23, 0)), 2),
        ]
    );
    // Weeks start on Monday (2026-03-02), and a SKU filter counts that SKU's lines only.
    let tea = client
        .get_sales_trends(GetSalesTrendsRequest {
            range: range(t(0, 0, 0), t(7, 0, 0)),
            granularity: Granularity::Week as i32,
            sku: "TEA".into(),
            channel: Channel::Web as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tea.buckets.len(), 1);
    assert_eq!(tea.buckets[0].bucket_start, crate::helpers::ts(t(0, 0, 0)));
    assert_eq!((tea.buckets[0].order_count, tea.buckets[0].units), (1, 2));
    assert_eq!(minor(tea.buckets[0].gross_sales.as_ref()), 2_500);
    // Another currency has no orders, but its buckets are all there.
    let usd = client
        .get_sales_trends(GetSalesTrendsRequest {
            range: range(t(0, 0, 0), t(2, 0, 0)),
            currency_code: "USD".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        usd.buckets
            .iter()
            .map(|b| b.order_count)
            .collect::<Vec<_>>(),
        vec![0, 0]
    );
    assert_eq!(usd.buckets[0].average_order_value, None);
    // Cycle times of web orders only: A and C.
    let web = client
        .get_cycle_times(GetCycleTimesRequest {
            range: range(t(0, 0, 0), t(7, 0, 0)),
            channel: Channel::Web as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let confirmed = stage(&web, CycleStage::PlacedToConfirmed);
    assert_eq!(
        (confirmed.sample_count, secs(confirmed.p50.as_ref())),
        (2, 5_400.0)
    );
}
