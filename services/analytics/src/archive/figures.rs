//! The figures [`crate::store::kpis`] computes over the read models, computed again over
//! archived orders so a question that includes the archive adds them in: the same rules, read
//! from each order's archived row and timeline instead of SQL.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use contracts::orders::OrderStatus;
use serde_json::Value;

use crate::store::archive::ArchivedOrder;
use crate::store::kpis::{ChannelRow, SalesFilter, SalesRow};

fn cancelled(order: &ArchivedOrder) -> bool {
    order.row.cancelled_at.is_some() || order.row.status == OrderStatus::Rejected as i32
}

/// The rows of one read-model table in an archived timeline.
fn timeline_rows<'a>(timeline: &'a Value, table: &str) -> impl Iterator<Item = &'a Value> {
    timeline[table].as_array().into_iter().flatten()
}

fn int(row: &Value, field: &str) -> i64 {
    row[field].as_i64().unwrap_or(0)
}

/// Adds the archived orders in `currency` to a channel mix, keeping its order (most orders
/// first, then by channel).
pub fn add_channel_mix(rows: &mut Vec<ChannelRow>, archived: &[ArchivedOrder], currency: &str) {
    let mut by_channel: BTreeMap<i32, ChannelRow> =
        rows.drain(..).map(|r| (r.channel, r)).collect();
    for order in archived.iter().filter(|o| o.row.currency_code == currency) {
        let row = by_channel
            .entry(order.row.channel)
            .or_insert_with(|| ChannelRow {
                channel: order.row.channel,
                order_count: 0,
                revenue_minor: 0,
                completed_count: 0,
                cancelled_count: 0,
            });
        row.order_count += 1;
        row.revenue_minor += order.row.total_minor;
        row.completed_count += i64::from(order.row.completed_at.is_some());
        row.cancelled_count += i64::from(cancelled(order));
    }
    rows.extend(by_channel.into_values());
    rows.sort_by_key(|r| (std::cmp::Reverse(r.order_count), r.channel));
}

/// One archived order's part of a sales trend, `None` when the filter leaves it out.
pub fn sales_part(order: &ArchivedOrder, filter: &SalesFilter<'_>) -> Option<SalesRow> {
    let row = &order.row;
    if row.currency_code != filter.currency
        || (filter.channel != 0 && row.channel != filter.channel)
    {
        return None;
    }
    let timeline: Value = serde_json::from_str(&order.timeline).unwrap_or(Value::Null);
    let (units, gross) = if filter.sku.is_empty() {
        (row.units, row.total_minor)
    } else {
        let lines: Vec<&Value> = timeline_rows(&timeline, "order_lines")
            .filter(|l| l["sku"] == filter.sku)
            .collect();
        if lines.is_empty() {
            return None;
        }
        (
            lines.iter().map(|l| int(l, "quantity")).sum(),
            lines.iter().map(|l| int(l, "line_total_minor")).sum(),
        )
    };
    let refunds = timeline_rows(&timeline, "money_moves")
        .filter(|m| m["kind"] == "refunded" && m["currency_code"] == row.currency_code.as_str())
        .map(|m| int(m, "amount_minor"))
        .sum();
    let cancelled = cancelled(order);
    Some(SalesRow {
        bucket_start: Some(row.placed_at),
        order_count: 1,
        cancelled_count: i64::from(cancelled),
        units,
        gross_minor: gross,
        refunds_minor: refunds,
        kept_gross_minor: if cancelled { 0 } else { gross },
    })
}

/// Adds `part` into the bucket starting at `bucket` (buckets cover the whole range, so it is
/// there).
pub fn add_to_bucket(rows: &mut [SalesRow], bucket: DateTime<Utc>, part: &SalesRow) {
    if let Some(row) = rows.iter_mut().find(|r| r.bucket_start == Some(bucket)) {
        row.order_count += part.order_count;
        row.cancelled_count += part.cancelled_count;
        row.units += part.units;
        row.gross_minor += part.gross_minor;
        row.refunds_minor += part.refunds_minor;
        row.kept_gross_minor += part.kept_gross_minor;
    }
}
