//! Customer cohorts: customers by the month of their first order, and who ordered again in
//! each month after it, exactly.

use contracts::analytics::GetCustomerCohortsRequest;
use contracts::common::{Channel, PaymentMethod};

use crate::helpers::{TestApp, range, t, ts};
use crate::scenario::{self, Order, line};

fn order(id: &'static str, customer: &'static str, days: i64) -> Order {
    Order {
        id,
        channel: Channel::Web,
        customer,
        lines: vec![line("L1", "TEA", 1, 1250)],
        method: PaymentMethod::Card,
        country: "DE",
        placed: t(days, 9, 0),
    }
}

#[tokio::test]
async fn cohorts_count_first_orders_by_month_and_repeat_orders_by_month_after() {
    let app = TestApp::start().await;
    // March (the scenario): c1 orders A and C on the 2nd, c2 B, c3 D, c4 E.
    scenario::play(&app).await;
    // Later: c2 in April and May, c5 first in April then May, c3 in May, c1 in June (after
    // the range).
    for (id, customer, days) in [
        ("F", "c2", 39),
        ("G", "c5", 41),
        ("H", "c3", 64),
        ("I", "c2", 65),
        ("J", "c5", 79),
        ("K", "c1", 92),
    ] {
        app.publish(&order(id, customer, days).placed()).await;
    }
    app.settle().await;

    let june = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 6, 1, 0, 0, 0).unwrap();
    let march = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 1, 0, 0, 0).unwrap();
    let april = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 4, 1, 0, 0, 0).unwrap();
    let cohorts = app
        .client()
        .await
        .get_customer_cohorts(GetCustomerCohortsRequest {
            range: range(march, june),
        })
        .await
        .unwrap()
        .into_inner()
        .cohorts;
    assert_eq!(cohorts.len(), 2, "{cohorts:?}");
    let (m, a) = (&cohorts[0], &cohorts[1]);
    assert_eq!(m.month_start, ts(march));
    assert_eq!((m.customers, m.repeat_customers), (4, 3));
    assert_eq!(m.repeat_rate, 0.75);
    // March: c1's second order; April: c2; May: c2 and c3.
    assert_eq!(m.ordered_again, [1, 1, 2]);
    assert_eq!(a.month_start, ts(april));
    assert_eq!((a.customers, a.repeat_customers), (1, 1));
    assert_eq!(a.ordered_again, [0, 1]);

    // From April on, March's customers are not new: only c5.
    let later = app
        .client()
        .await
        .get_customer_cohorts(GetCustomerCohortsRequest {
            range: range(april, june),
        })
        .await
        .unwrap()
        .into_inner()
        .cohorts;
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].customers, 1);
}
