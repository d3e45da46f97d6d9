//! `ExportOrders`: the orders of a range as one file (CSV, JSON Lines or Parquet) sent in
//! chunks, one page of orders per chunk (a row group in Parquet), so an export of the read
//! models streams in bounded memory; archived orders, when asked for, are read from their files
//! and sent first.

use chrono::{DateTime, SecondsFormat, Utc};
use contracts::analytics::{ExportFormat, ExportOrdersRequest, ExportOrdersResponse};
use contracts::common::{Channel, FulfillmentMode, PaymentMethod};
use contracts::orders::{CancelReason, OrderReturnStatus, OrderStatus};
use runtime::grpc::FieldViolations;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::{AnalyticsApi, convert, valid};
use crate::archive::{
    self,
    file::{Encoder, FormatError},
};
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
    Parquet,
}

pub struct Plan {
    range: Range,
    format: Format,
    filter: ExportFilter,
    include_archive: bool,
}

/// Checks the request.
pub fn plan(api: &AnalyticsApi, req: &ExportOrdersRequest) -> Result<Plan, Error> {
    let mut v = FieldViolations::new();
    let asked = convert::range("range", req.range.as_ref(), api.clock.now(), &mut v);
    let channel = convert::channel("channel", req.channel, &mut v);
    let format = match ExportFormat::try_from(req.format) {
        Ok(ExportFormat::Unspecified | ExportFormat::Csv) => Format::Csv,
        Ok(ExportFormat::JsonLines) => Format::JsonLines,
        Ok(ExportFormat::Parquet) => Format::Parquet,
        Err(_) => {
            v.add("format", format!("unknown format {}", req.format));
            Format::Csv
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
    Ok(Plan {
        range,
        format,
        filter: ExportFilter {
            statuses: req.statuses.clone(),
            channel,
        },
        include_archive: req.include_archive,
    })
}

/// Turns pages of rows into the bytes of one file.
enum Writer {
    Csv,
    JsonLines,
    // Boxed: the Parquet writer's state is large and an export holds one writer.
    Parquet(Box<Encoder>),
}

impl Writer {
    fn new(format: Format) -> Result<(Self, Vec<u8>), FormatError> {
        Ok(match format {
            Format::Csv => (
                Self::Csv,
                csv_line(COLUMNS.iter().map(|c| (*c).to_owned())).into_bytes(),
            ),
            Format::JsonLines => (Self::JsonLines, Vec::new()),
            Format::Parquet => (Self::Parquet(Box::new(Encoder::new(false)?)), Vec::new()),
        })
    }

    fn page(&mut self, rows: &[OrderRow]) -> Result<Vec<u8>, FormatError> {
        let text =
            |line: fn(&OrderRow) -> String| rows.iter().map(line).collect::<String>().into_bytes();
        match self {
            Self::Csv => Ok(text(|r| csv_line(fields(r).into_iter()))),
            Self::JsonLines => Ok(text(json_line)),
            Self::Parquet(encoder) => encoder.write(rows, &[]),
        }
    }

    fn finish(self) -> Result<Vec<u8>, FormatError> {
        match self {
            Self::Csv | Self::JsonLines => Ok(Vec::new()),
            Self::Parquet(encoder) => encoder.finish(),
        }
    }
}

/// The archived orders of the plan, in the order the archive holds them.
async fn archived(api: &AnalyticsApi, plan: &Plan) -> Result<Vec<OrderRow>, Error> {
    if !plan.include_archive {
        return Ok(Vec::new());
    }
    let orders = archive::load(&api.pool, &api.config.archive_dir, &plan.range).await?;
    Ok(orders
        .into_iter()
        .map(|o| o.row)
        .filter(|r| {
            (plan.filter.statuses.is_empty() || plan.filter.statuses.contains(&r.status))
                && (plan.filter.channel == 0 || plan.filter.channel == r.channel)
        })
        .collect())
}

/// Sends the file page by page (archived orders first when asked); the first chunk names it,
/// the last counts its rows.
pub fn stream(
    api: AnalyticsApi,
    plan: Plan,
) -> ReceiverStream<Result<ExportOrdersResponse, Status>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        if let Err(err) = send(&api, &plan, &sender).await {
            let _ = sender.send(Err(Status::from(err))).await;
        }
    });
    ReceiverStream::new(receiver)
}

async fn send(
    api: &AnalyticsApi,
    plan: &Plan,
    sender: &tokio::sync::mpsc::Sender<Result<ExportOrdersResponse, Status>>,
) -> Result<(), Error> {
    let (content_type, extension) = match plan.format {
        Format::Csv => ("text/csv", "csv"),
        Format::JsonLines => ("application/x-ndjson", "jsonl"),
        Format::Parquet => ("application/vnd.apache.parquet", "parquet"),
    };
    let file_name = format!(
        "orders-{}-{}.{extension}",
        plan.range.start.format("%Y%m%d"),
        plan.range.end.format("%Y%m%d")
    );
    let page_rows = usize::try_from(api.config.export_page_rows).unwrap_or(usize::MAX);
    let mut archived = archived(api, plan).await?.into_iter();
    let (mut writer, mut data) = Writer::new(plan.format).map_err(format_error)?;
    let mut first = true;
    let mut rows = 0i64;
    let mut after = None;
    loop {
        let (page, last) = if archived.len() > 0 {
            (archived.by_ref().take(page_rows).collect::<Vec<_>>(), false)
        } else {
            let page = export::page(
                &api.pool,
                &plan.range,
                &plan.filter,
                after.clone(),
                api.config.export_page_rows,
            )
            .await?;
            after = page.last().map(|r| (r.placed_at, r.order_id.clone()));
            let last = page.len() < page_rows;
            (page, last)
        };
        data.extend(writer.page(&page).map_err(format_error)?);
        rows += i64::try_from(page.len()).unwrap_or(i64::MAX);
        if last {
            data.extend(
                std::mem::replace(&mut writer, Writer::Csv)
                    .finish()
                    .map_err(format_error)?,
            );
        }
        let chunk = ExportOrdersResponse {
            data: std::mem::take(&mut data),
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
            return Ok(());
        }
    }
}

fn format_error(source: FormatError) -> Error {
    Error::Archive(archive::ArchiveError::Format {
        path: "export".into(),
        source,
    })
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
