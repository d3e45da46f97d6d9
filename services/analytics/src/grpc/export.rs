//! `ExportOrders`: the orders of a range as one file (CSV or JSON Lines) sent in chunks, one
//! page of orders per chunk, so an export of any size streams in bounded memory.

use chrono::{DateTime, SecondsFormat, Utc};
use contracts::analytics::{ExportFormat, ExportOrdersRequest, ExportOrdersResponse};
use contracts::common::{Channel, FulfillmentMode, PaymentMethod};
use contracts::orders::{CancelReason, OrderReturnStatus, OrderStatus};
use runtime::grpc::FieldViolations;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::{AnalyticsApi, convert, valid};
use crate::domain::Range;
use crate::error::Error;
use crate::store::export::{self, ExportFilter, OrderRow};

/// The columns of every format, in order (analytics.proto, `ExportFormat`).
pub const COLUMNS: [&str; 19] = [
    "order_id",
    "order_number",
    "status",
    "channel",
    "fulfillment_mode",
    "customer_id",
    "currency_code",
    "total_minor",
    "line_count",
    "units",
    "payment_method",
    "placed_at",
    "confirmed_at",
    "delivered_at",
    "completed_at",
    "cancelled_at",
    "cancel_reason",
    "return_status",
    "refunded_minor",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

pub struct Plan {
    range: Range,
    format: Format,
    filter: ExportFilter,
}

/// Checks the request; Parquet is refused as not available yet.
pub fn plan(api: &AnalyticsApi, req: &ExportOrdersRequest) -> Result<Plan, Error> {
    let mut v = FieldViolations::new();
    let asked = convert::range("range", req.range.as_ref(), api.clock.now(), &mut v);
    let channel = convert::channel("channel", req.channel, &mut v);
    let format = match ExportFormat::try_from(req.format) {
        Ok(ExportFormat::Unspecified | ExportFormat::Csv) => Some(Format::Csv),
        Ok(ExportFormat::JsonLines) => Some(Format::JsonLines),
        Ok(ExportFormat::Parquet) => None,
        Err(_) => {
            v.add("format", format!("unknown format {}", req.format));
            Some(Format::Csv)
        }
    };
    for (i, status) in req.statuses.iter().enumerate() {
        v.check(
            OrderStatus::try_from(*status).is_ok_and(|s| s != OrderStatus::Unspecified),
            format!("statuses[{i}]"),
            format!("unknown order status {status}"),
        );
    }
    let range = valid(v, asked.or_epoch())?;
    let Some(format) = format else {
        return Err(Error::Unimplemented(
            "Parquet export is not available yet; ask for CSV or JSON Lines".into(),
        ));
    };
    Ok(Plan {
        range,
        format,
        filter: ExportFilter {
            statuses: req.statuses.clone(),
            channel,
        },
    })
}

/// Sends the file page by page; the first chunk names it, the last counts its rows.
pub fn stream(
    api: AnalyticsApi,
    plan: Plan,
) -> ReceiverStream<Result<ExportOrdersResponse, Status>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        let (content_type, extension) = match plan.format {
            Format::Csv => ("text/csv", "csv"),
            Format::JsonLines => ("application/x-ndjson", "jsonl"),
        };
        let file_name = format!(
            "orders-{}-{}.{extension}",
            plan.range.start.format("%Y%m%d"),
            plan.range.end.format("%Y%m%d")
        );
        let mut data = match plan.format {
            Format::Csv => csv_line(COLUMNS.iter().map(|c| (*c).to_owned())),
            Format::JsonLines => String::new(),
        };
        let mut first = true;
        let mut rows = 0i64;
        let mut after = None;
        loop {
            let page = match export::page(
                &api.pool,
                &plan.range,
                &plan.filter,
                after.clone(),
                api.config.export_page_rows,
            )
            .await
            {
                Ok(page) => page,
                Err(err) => {
                    let _ = sender.send(Err(Status::from(Error::Store(err)))).await;
                    return;
                }
            };
            let last = i64::try_from(page.len()).unwrap_or(i64::MAX) < api.config.export_page_rows;
            for row in &page {
                data.push_str(&match plan.format {
                    Format::Csv => csv_line(fields(row).into_iter()),
                    Format::JsonLines => json_line(row),
                });
            }
            rows += i64::try_from(page.len()).unwrap_or(i64::MAX);
            after = page.last().map(|r| (r.placed_at, r.order_id.clone()));
            let chunk = ExportOrdersResponse {
                data: std::mem::take(&mut data).into_bytes(),
                content_type: if first {
                    content_type.to_owned()
                } else {
                    String::new()
                },
                file_name: if first {
                    file_name.clone()
                } else {
                    String::new()
                },
                row_count: if last { rows } else { 0 },
                last,
            };
            first = false;
            if sender.send(Ok(chunk)).await.is_err() || last {
                // Done, or the caller went away.
                return;
            }
        }
    });
    ReceiverStream::new(receiver)
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
        .unwrap_or_default()
}

fn name<E>(
    value: i32,
    convert: impl Fn(i32) -> Option<E>,
    as_str: impl Fn(&E) -> &'static str,
) -> String {
    convert(value)
        .map(|e| as_str(&e).to_owned())
        .unwrap_or_default()
}

/// The row's values as text, in [`COLUMNS`] order.
pub fn fields(r: &OrderRow) -> Vec<String> {
    vec![
        r.order_id.clone(),
        r.order_number.clone(),
        name(
            r.status,
            |v| OrderStatus::try_from(v).ok(),
            OrderStatus::as_str_name,
        ),
        name(
            r.channel,
            |v| Channel::try_from(v).ok(),
            Channel::as_str_name,
        ),
        name(
            r.fulfillment_mode,
            |v| FulfillmentMode::try_from(v).ok(),
            FulfillmentMode::as_str_name,
        ),
        r.customer_id.clone(),
        r.currency_code.clone(),
        r.total_minor.to_string(),
        r.line_count.to_string(),
        r.units.to_string(),
        name(
            r.payment_method,
            |v| PaymentMethod::try_from(v).ok(),
            PaymentMethod::as_str_name,
        ),
        time(Some(r.placed_at)),
        time(r.confirmed_at),
        time(r.delivered_at),
        time(r.completed_at),
        time(r.cancelled_at),
        r.cancel_reason
            .map(|c| {
                name(
                    c,
                    |v| CancelReason::try_from(v).ok(),
                    CancelReason::as_str_name,
                )
            })
            .unwrap_or_default(),
        name(
            r.return_status,
            |v| OrderReturnStatus::try_from(v).ok(),
            OrderReturnStatus::as_str_name,
        ),
        r.refunded_minor.to_string(),
    ]
}

/// One RFC 4180 record: fields with a comma, quote or line break are quoted, quotes doubled.
pub fn csv_line(fields: impl Iterator<Item = String>) -> String {
    let mut line = fields
        .map(|f| {
            if f.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

fn json_line(r: &OrderRow) -> String {
    let numeric = ["total_minor", "line_count", "units", "refunded_minor"];
    let object: serde_json::Map<String, serde_json::Value> = COLUMNS
        .iter()
        .zip(fields(r))
        .map(|(column, value)| {
            let value = match value.parse::<i64>() {
                Ok(n) if numeric.contains(column) => serde_json::Value::from(n),
                _ => serde_json::Value::from(value),
            };
            ((*column).to_owned(), value)
        })
        .collect();
    let mut line = serde_json::Value::Object(object).to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let line =
            csv_line(["a".to_owned(), "b,c".to_owned(), "say \"hi\"".to_owned()].into_iter());
        assert_eq!(line, "a,\"b,c\",\"say \"\"hi\"\"\"\r\n");
    }
}
