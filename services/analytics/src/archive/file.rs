//! The archive's file format, also `ExportOrders`' Parquet: one row per order with the export
//! columns (analytics.proto, `ExportFormat`) typed — text and enum names as UTF-8, money and
//! counts as integers, times as UTC microsecond timestamps — and, in archive files, the order's
//! whole timeline as a JSON `timeline` column. Snappy-compressed; any Parquet reader (DuckDB,
//! pandas, Spark) opens them.

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use contracts::common::{Channel, FulfillmentMode, PaymentMethod};
use contracts::orders::{CancelReason, OrderReturnStatus, OrderStatus};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use crate::grpc::export::{COLUMNS, fields};
use crate::store::archive::ArchivedOrder;
use crate::store::export::OrderRow;

/// The JSON timeline column of archive files.
pub const TIMELINE: &str = "timeline";

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error(transparent)]
    Parquet(#[from] ParquetError),
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    #[error("column {0} is missing or not of the archive's type")]
    Column(&'static str),
}

fn data_type(column: &str) -> DataType {
    match column {
        "total_minor" | "units" | "refunded_minor" => DataType::Int64,
        "line_count" => DataType::Int32,
        c if c.ends_with("_at") => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        _ => DataType::Utf8,
    }
}

fn nullable(column: &str) -> bool {
    matches!(
        column,
        "confirmed_at" | "delivered_at" | "completed_at" | "cancelled_at" | "cancel_reason"
    )
}

/// The columns, with [`TIMELINE`] last in archive files.
pub fn schema(with_timeline: bool) -> SchemaRef {
    let mut columns: Vec<Field> = COLUMNS
        .iter()
        .map(|c| Field::new(*c, data_type(c), nullable(c)))
        .collect();
    if with_timeline {
        columns.push(Field::new(TIMELINE, DataType::Utf8, false));
    }
    Arc::new(Schema::new(columns))
}

fn int64(row: &OrderRow, column: &str) -> i64 {
    match column {
        "total_minor" => row.total_minor,
        "units" => row.units,
        _ => row.refunded_minor,
    }
}

fn time(row: &OrderRow, column: &str) -> Option<DateTime<Utc>> {
    match column {
        "placed_at" => Some(row.placed_at),
        "confirmed_at" => row.confirmed_at,
        "delivered_at" => row.delivered_at,
        "completed_at" => row.completed_at,
        _ => row.cancelled_at,
    }
}

/// `rows` as one record batch; `timelines` is empty, or one per row for archive files.
pub fn batch(rows: &[OrderRow], timelines: &[String]) -> Result<RecordBatch, FormatError> {
    let texts: Vec<Vec<String>> = rows.iter().map(fields).collect();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(COLUMNS.len() + 1);
    for (i, column) in COLUMNS.iter().enumerate() {
        let array: ArrayRef = match data_type(column) {
            DataType::Int64 => Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| int64(r, column)),
            )),
            DataType::Int32 => Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|r| r.line_count),
            )),
            DataType::Timestamp(..) => Arc::new(
                TimestampMicrosecondArray::from_iter(
                    rows.iter()
                        .map(|r| time(r, column).map(|t| t.timestamp_micros())),
                )
                .with_timezone("UTC"),
            ),
            _ => Arc::new(StringArray::from_iter(texts.iter().map(|t| {
                let text = t[i].as_str();
                (!(nullable(column) && text.is_empty())).then_some(text)
            }))),
        };
        arrays.push(array);
    }
    if !timelines.is_empty() {
        arrays.push(Arc::new(StringArray::from_iter_values(timelines)));
    }
    Ok(RecordBatch::try_new(schema(!timelines.is_empty()), arrays)?)
}

/// Writes a Parquet file in pieces: each [`Encoder::write`] is a row group whose bytes can be
/// sent or stored at once, and [`Encoder::finish`] adds the footer. Concatenated, the pieces
/// are the file (the writer counts offsets itself, so taking its buffer does not upset them).
pub struct Encoder {
    writer: ArrowWriter<Vec<u8>>,
}

impl Encoder {
    pub fn new(with_timeline: bool) -> Result<Self, FormatError> {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        Ok(Self {
            writer: ArrowWriter::try_new(Vec::new(), schema(with_timeline), Some(props))?,
        })
    }

    /// Adds `rows` as a row group and returns the bytes written so far and not yet taken.
    pub fn write(
        &mut self,
        rows: &[OrderRow],
        timelines: &[String],
    ) -> Result<Vec<u8>, FormatError> {
        if !rows.is_empty() {
            self.writer.write(&batch(rows, timelines)?)?;
            self.writer.flush()?;
        }
        self.take()
    }

    /// Ends the file and returns its last bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, FormatError> {
        self.writer.finish()?;
        self.take()
    }

    fn take(&mut self) -> Result<Vec<u8>, FormatError> {
        self.writer.sync().map_err(ParquetError::from)?;
        Ok(std::mem::take(self.writer.inner_mut()))
    }
}

/// A whole archive file's bytes for `orders`.
pub fn encode(orders: &[ArchivedOrder]) -> Result<Vec<u8>, FormatError> {
    let (rows, timelines): (Vec<OrderRow>, Vec<String>) = orders
        .iter()
        .map(|o| (o.row.clone(), o.timeline.clone()))
        .unzip();
    let mut encoder = Encoder::new(true)?;
    let mut file = encoder.write(&rows, &timelines)?;
    file.extend(encoder.finish()?);
    Ok(file)
}

fn column<'a, T: Array + 'static>(
    batch: &'a RecordBatch,
    name: &'static str,
) -> Result<&'a T, FormatError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or(FormatError::Column(name))
}

fn number<E>(name: &str, from_name: impl Fn(&str) -> Option<E>, code: impl Fn(E) -> i32) -> i32 {
    from_name(name).map_or(0, code)
}

/// Reads the orders of a Parquet file written by [`encode`] (or an export: timelines empty).
pub fn decode(file: Bytes) -> Result<Vec<ArchivedOrder>, FormatError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let mut orders = Vec::new();
    for batch in reader {
        let batch = batch?;
        let text = |name: &'static str| column::<StringArray>(&batch, name);
        let at = |name: &'static str| column::<TimestampMicrosecondArray>(&batch, name);
        let int = |name: &'static str| column::<Int64Array>(&batch, name);
        let (order_id, order_number, status, channel) = (
            text("order_id")?,
            text("order_number")?,
            text("status")?,
            text("channel")?,
        );
        let (mode, customer, currency, method) = (
            text("fulfillment_mode")?,
            text("customer_id")?,
            text("currency_code")?,
            text("payment_method")?,
        );
        let (cancel_reason, return_status) = (text("cancel_reason")?, text("return_status")?);
        let (total, units, refunded) = (int("total_minor")?, int("units")?, int("refunded_minor")?);
        let line_count = column::<Int32Array>(&batch, "line_count")?;
        let (placed, confirmed, delivered, completed, cancelled) = (
            at("placed_at")?,
            at("confirmed_at")?,
            at("delivered_at")?,
            at("completed_at")?,
            at("cancelled_at")?,
        );
        let timeline = batch
            .column_by_name(TIMELINE)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>());
        let when = |a: &TimestampMicrosecondArray, i: usize| {
            (!a.is_null(i))
                .then(|| DateTime::from_timestamp_micros(a.value(i)))
                .flatten()
        };
        for i in 0..batch.num_rows() {
            orders.push(ArchivedOrder {
                row: OrderRow {
                    order_id: order_id.value(i).to_owned(),
                    order_number: order_number.value(i).to_owned(),
                    status: number(status.value(i), OrderStatus::from_str_name, |e| e as i32),
                    channel: number(channel.value(i), Channel::from_str_name, |e| e as i32),
                    fulfillment_mode: number(mode.value(i), FulfillmentMode::from_str_name, |e| {
                        e as i32
                    }),
                    customer_id: customer.value(i).to_owned(),
                    currency_code: currency.value(i).to_owned(),
                    total_minor: total.value(i),
                    line_count: line_count.value(i),
                    units: units.value(i),
                    payment_method: number(method.value(i), PaymentMethod::from_str_name, |e| {
                        e as i32
                    }),
                    placed_at: when(placed, i).ok_or(FormatError::Column("placed_at"))?,
                    confirmed_at: when(confirmed, i),
                    delivered_at: when(delivered, i),
                    completed_at: when(completed, i),
                    cancelled_at: when(cancelled, i),
                    cancel_reason: (!cancel_reason.is_null(i)).then(|| {
                        number(cancel_reason.value(i), CancelReason::from_str_name, |e| {
                            e as i32
                        })
                    }),
                    return_status: number(
                        return_status.value(i),
                        OrderReturnStatus::from_str_name,
                        |e| e as i32,
                    ),
                    refunded_minor: refunded.value(i),
                },
                timeline: timeline.map(|t| t.value(i).to_owned()).unwrap_or_default(),
            });
        }
    }
    Ok(orders)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn order(id: &str, cancelled: bool) -> ArchivedOrder {
        let at = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
        ArchivedOrder {
            row: OrderRow {
                order_id: id.into(),
                order_number: format!("OC-{id}"),
                status: if cancelled { 14 } else { 13 },
                channel: 1,
                fulfillment_mode: 1,
                customer_id: "c, \"1\"".into(),
                currency_code: "EUR".into(),
                total_minor: 12_345,
                line_count: 2,
                units: 3,
                payment_method: 1,
                placed_at: at,
                confirmed_at: Some(at + chrono::Duration::microseconds(1)),
                delivered_at: None,
                completed_at: (!cancelled).then_some(at + chrono::Duration::days(3)),
                cancelled_at: cancelled.then_some(at + chrono::Duration::hours(1)),
                cancel_reason: cancelled.then_some(2),
                return_status: 1,
                refunded_minor: 0,
            },
            timeline: format!("{{\"order\":{{\"order_id\":\"{id}\"}}}}"),
        }
    }

    #[test]
    fn archive_files_decode_to_what_was_encoded() {
        let orders = vec![order("A", false), order("B", true)];
        let file = encode(&orders).unwrap();
        assert_eq!(&file[..4], b"PAR1");
        assert_eq!(decode(Bytes::from(file)).unwrap(), orders);
    }

    #[test]
    fn a_file_written_in_pieces_is_one_file_with_a_row_group_per_piece() {
        let orders = [order("A", false), order("B", true), order("C", false)];
        let rows: Vec<OrderRow> = orders.iter().map(|o| o.row.clone()).collect();
        let mut encoder = Encoder::new(false).unwrap();
        let mut file = encoder.write(&rows[..2], &[]).unwrap();
        file.extend(encoder.write(&rows[2..], &[]).unwrap());
        file.extend(encoder.finish().unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(file.clone())).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 2);
        let back: Vec<OrderRow> = decode(Bytes::from(file))
            .unwrap()
            .into_iter()
            .map(|o| o.row)
            .collect();
        assert_eq!(back, rows);
    }
}
