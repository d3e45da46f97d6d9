//! Every RPC refuses what it cannot answer, naming every bad field.

use contracts::analytics::*;
use tokio_stream::StreamExt as _;

use crate::helpers::{TestApp, range, t, violations};

#[tokio::test]
async fn every_rpc_names_its_bad_fields() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let backwards = range(t(1, 0, 0), t(0, 0, 0));

    let status = client
        .get_sales_trends(GetSalesTrendsRequest {
            range: backwards,
            granularity: 99,
            currency_code: "euro".into(),
            channel: 77,
            time_zone: "Mars/Olympus_Mons".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let mut fields = violations(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "channel",
            "currency_code",
            "granularity",
            "range.end",
            "time_zone"
        ]
    );

    // Hours over twenty years are too many buckets.
    let status = client
        .get_sales_trends(GetSalesTrendsRequest {
            range: range(t(-7_300, 0, 0), t(0, 0, 0)),
            granularity: Granularity::Hour as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["granularity"]);

    let status = client
        .get_channel_mix(GetChannelMixRequest {
            range: backwards,
            currency_code: "E".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["range.end", "currency_code"]);

    let status = client
        .get_cycle_times(GetCycleTimesRequest {
            range: backwards,
            channel: 9,
            fulfillment_mode: 9,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&status),
        ["range.end", "channel", "fulfillment_mode"]
    );

    let status = client
        .get_fulfillment_kpis(GetFulfillmentKpisRequest {
            range: backwards,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["range.end"]);

    let status = client
        .get_return_stats(GetReturnStatsRequest {
            range: backwards,
            top_sku_count: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["range.end", "top_sku_count"]);

    let status = client
        .get_feedback_summary(GetFeedbackSummaryRequest {
            range: backwards,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["range.end"]);

    let status = client
        .get_order_kpis(GetOrderKpisRequest {
            range: backwards,
            channel: 12,
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["range.end", "channel"]);

    let status = client
        .get_sales_breakdown(GetSalesBreakdownRequest {
            range: backwards,
            dimension: 0,
            limit: 5_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["range.end", "dimension", "limit"]);

    let status = client
        .export_orders(ExportOrdersRequest {
            range: backwards,
            format: 42,
            statuses: vec![0, 99],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&status),
        ["range.end", "format", "statuses[0]", "statuses[1]"]
    );

    // A time outside what can be stored is refused, not clamped.
    let status = client
        .get_channel_mix(GetChannelMixRequest {
            range: Some(TimeRange {
                start: Some(prost_types::Timestamp {
                    seconds: -99_999_999_999,
                    nanos: 0,
                }),
                end: None,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["range.start"]);
}

#[tokio::test]
async fn empty_data_answers_empty_and_its_parquet_export_is_a_file_without_rows() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let mut parquet = client
        .export_orders(ExportOrdersRequest {
            format: ExportFormat::Parquet as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let only = parquet.next().await.unwrap().unwrap();
    assert!(only.last);
    assert_eq!(only.content_type, "application/vnd.apache.parquet");
    let rows = analytics::archive::file::decode(only.data.into()).unwrap();
    assert!(rows.is_empty());

    // No orders yet, range open at the start: no buckets rather than an error.
    let sales = client
        .get_sales_trends(GetSalesTrendsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(sales.buckets.is_empty());
    assert_eq!(sales.currency_code, "EUR");
    let kpis = client
        .get_fulfillment_kpis(GetFulfillmentKpisRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(kpis.warehouses.is_empty());
    assert_eq!(kpis.overall.unwrap().shipments_delivered, 0);
    let mut export = client
        .export_orders(ExportOrdersRequest::default())
        .await
        .unwrap()
        .into_inner();
    let only = export.next().await.unwrap().unwrap();
    assert!(only.last);
    assert_eq!(only.row_count, 0);
}
