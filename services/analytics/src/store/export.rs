//! The hot orders as rows for `ExportOrders`: one row per order, paged by (placed_at,
//! order_id) so a long export never holds a transaction or loads the range at once.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::Range;

/// One exported order; enums are protobuf numbers, converted to names at the edge.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: String,
    pub order_number: String,
    pub status: i32,
    pub channel: i32,
    pub fulfillment_mode: i32,
    pub customer_id: String,
    pub currency_code: String,
    pub total_minor: i64,
    pub line_count: i32,
    pub units: i64,
    pub payment_method: i32,
    pub placed_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<i32>,
    pub return_status: i32,
    pub refunded_minor: i64,
}

#[derive(Debug, Clone)]
pub struct ExportFilter {
    /// Empty for every status.
    pub statuses: Vec<i32>,
    /// 0 for every channel.
    pub channel: i32,
}

/// The select list of an [`OrderRow`] from `order_facts f` (the archiver reads the same).
///
/// The return status is the one orders reported at completion, else what the returns seen so
/// far say (OrderReturnStatus: 1 none, 2 requested, 3 in progress, 4 partially returned,
/// 6 exchanged, 7 rejected).
pub const ORDER_ROW: &str = "f.order_id, f.order_number, f.status, f.channel, f.fulfillment_mode, f.customer_id,
     f.currency_code, f.total_minor, f.line_count, f.units, f.payment_method, f.placed_at,
     f.confirmed_at, f.delivered_at, f.completed_at, f.cancelled_at, f.cancel_reason,
     CASE WHEN f.return_status <> 0 THEN f.return_status
          WHEN NOT EXISTS (SELECT 1 FROM return_facts r WHERE r.order_id = f.order_id) THEN 1
          WHEN EXISTS (SELECT 1 FROM return_facts r WHERE r.order_id = f.order_id AND r.outcome = 2) THEN 6
          WHEN EXISTS (SELECT 1 FROM return_facts r WHERE r.order_id = f.order_id AND r.outcome = 1) THEN 4
          WHEN EXISTS (SELECT 1 FROM return_facts r WHERE r.order_id = f.order_id
              AND r.approved_at IS NOT NULL AND r.closed_at IS NULL) THEN 3
          WHEN EXISTS (SELECT 1 FROM return_facts r WHERE r.order_id = f.order_id
              AND r.rejected_at IS NULL AND r.closed_at IS NULL) THEN 2
          WHEN NOT EXISTS (SELECT 1 FROM return_facts r WHERE r.order_id = f.order_id
              AND r.rejected_at IS NULL) THEN 7
          ELSE 1 END AS return_status,
     (SELECT COALESCE(sum(m.amount_minor), 0) FROM money_moves m
         WHERE m.order_id = f.order_id AND m.kind = 'refunded')::bigint AS refunded_minor";

/// Up to `limit` orders placed in the range after `after`, oldest first.
pub async fn page(
    pool: &PgPool,
    range: &Range,
    filter: &ExportFilter,
    after: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> Result<Vec<OrderRow>, sqlx::Error> {
    let (after_time, after_id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {ORDER_ROW}
         FROM order_facts f
         WHERE f.placed_at >= $1 AND f.placed_at < $2
           AND (cardinality($3::int4[]) = 0 OR f.status = ANY($3))
           AND ($4 = 0 OR f.channel = $4)
           AND ($5::timestamptz IS NULL OR (f.placed_at, f.order_id) > ($5, $6))
         ORDER BY f.placed_at, f.order_id
         LIMIT $7"
    ))
    .bind(range.start)
    .bind(range.end)
    .bind(&filter.statuses)
    .bind(filter.channel)
    .bind(after_time)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}
