//! `ExportOrders` streams the orders of a range as CSV or JSON Lines, page by page.

use contracts::analytics::{ExportFormat, ExportOrdersRequest, ExportOrdersResponse};
use contracts::common::Channel;
use contracts::orders::OrderStatus;
use tokio_stream::StreamExt as _;

use crate::helpers::{SMALL_PAGES, TestApp, range, t};
use crate::scenario;

async fn export(app: &TestApp, request: ExportOrdersRequest) -> Vec<ExportOrdersResponse> {
    let mut stream = app
        .client()
        .await
        .export_orders(request)
        .await
        .unwrap()
        .into_inner();
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk.unwrap());
    }
    chunks
}

fn text(chunks: &[ExportOrdersResponse]) -> String {
    String::from_utf8(chunks.iter().flat_map(|c| c.data.clone()).collect()).unwrap()
}

#[tokio::test]
async fn orders_export_as_csv_in_chunks_and_as_json_lines() {
    let app = TestApp::start_def(&SMALL_PAGES, |_| {}).await;
    scenario::play(&app).await;
    let chunks = export(
        &app,
        ExportOrdersRequest {
            range: range(t(0, 0, 0), t(2, 0, 0)),
            ..Default::default()
        },
    )
    .await;
    // Five orders, two per chunk.
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[0].content_type, "text/csv");
    assert_eq!(chunks[0].file_name, "orders-20260302-20260304.csv");
    assert!(chunks[1].content_type.is_empty() && !chunks[1].last);
    let last = chunks.last().unwrap();
    assert!(last.last);
    assert_eq!(last.row_count, 5);
    let csv = text(&chunks);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0], analytics::grpc::export::COLUMNS.join(","));
    assert_eq!(
        lines[1],
        "A,OC-A,ORDER_STATUS_COMPLETED,CHANNEL_WEB,FULFILLMENT_MODE_SHIP,c1,EUR,3500,2,3,PAYMENT_METHOD_CARD,\
         2026-03-02T10:00:00.000000Z,2026-03-02T10:30:00.000000Z,2026-03-03T12:30:00.000000Z,\
         2026-03-04T13:00:00.000000Z,,,ORDER_RETURN_STATUS_UNSPECIFIED,0"
            .replace("ORDER_RETURN_STATUS_UNSPECIFIED", "ORDER_RETURN_STATUS_NONE")
    );
    assert!(lines[2].starts_with("B,OC-B,ORDER_STATUS_DELIVERED,CHANNEL_MOBILE_APP,"));
    assert!(
        lines[2].ends_with(",ORDER_RETURN_STATUS_PARTIALLY_RETURNED,2500"),
        "{}",
        lines[2]
    );
    assert!(
        lines[4].contains(",ORDER_STATUS_CANCELLED,")
            && lines[4].contains(",CANCEL_REASON_OUT_OF_STOCK,")
    );

    // Filters, and JSON Lines.
    let chunks = export(
        &app,
        ExportOrdersRequest {
            range: range(t(0, 0, 0), t(2, 0, 0)),
            format: ExportFormat::JsonLines as i32,
            statuses: vec![OrderStatus::Cancelled as i32],
            channel: Channel::Web as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(chunks[0].content_type, "application/x-ndjson");
    let rows: Vec<serde_json::Value> = text(&chunks)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["order_id"], "E");
    assert_eq!(rows[0]["total_minor"], 1000);
    assert_eq!(rows[0]["cancel_reason"], "CANCEL_REASON_PAYMENT_DECLINED");
    assert_eq!(chunks.last().unwrap().row_count, 1);

    // An empty range is a file with its header only.
    let chunks = export(
        &app,
        ExportOrdersRequest {
            range: range(t(-9, 0, 0), t(-8, 0, 0)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].last);
    assert_eq!(chunks[0].row_count, 0);
    assert_eq!(text(&chunks).lines().count(), 1);
}
