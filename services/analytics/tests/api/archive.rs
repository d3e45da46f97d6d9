//! The archive: orders finished before the cutoff move with their timeline to a monthly
//! Parquet file, leave the read models (and so every hot question), and come back — with the
//! same figures — when a question or an export includes the archive.

use std::path::PathBuf;

use analytics::grpc::export::{csv_line, fields};
use contracts::analytics::{
    ExportFormat, ExportOrdersRequest, GetChannelMixRequest, GetChannelMixResponse,
    GetSalesTrendsRequest, GetSalesTrendsResponse, Granularity,
};
use tokio_stream::StreamExt as _;

use crate::helpers::{TestApp, range, t};
use crate::scenario;

/// A fresh archive directory under the temp dir, removed with everything in it at the end.
struct ArchiveDir(PathBuf);

impl ArchiveDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("oc-archive-{}", uuid::Uuid::now_v7())))
    }
}

impl Drop for ArchiveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn mix(app: &TestApp, include_archive: bool) -> GetChannelMixResponse {
    app.client()
        .await
        .get_channel_mix(GetChannelMixRequest {
            range: range(t(0, 0, 0), t(7, 0, 0)),
            include_archive,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

async fn trend(app: &TestApp, include_archive: bool, sku: &str) -> GetSalesTrendsResponse {
    app.client()
        .await
        .get_sales_trends(GetSalesTrendsRequest {
            range: range(t(0, 0, 0), t(3, 0, 0)),
            granularity: Granularity::Day as i32,
            sku: sku.into(),
            include_archive,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

/// The export's bytes.
async fn export(app: &TestApp, format: ExportFormat, include_archive: bool) -> Vec<u8> {
    let mut stream = app
        .client()
        .await
        .export_orders(ExportOrdersRequest {
            range: range(t(0, 0, 0), t(7, 0, 0)),
            format: format as i32,
            include_archive,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        data.extend(chunk.unwrap().data);
    }
    data
}

/// The CSV export's data lines, sorted.
async fn csv_rows(app: &TestApp, include_archive: bool) -> Vec<String> {
    let csv = String::from_utf8(export(app, ExportFormat::Csv, include_archive).await).unwrap();
    let mut rows: Vec<String> = csv
        .split_inclusive("\r\n")
        .skip(1)
        .map(str::to_owned)
        .collect();
    rows.sort();
    rows
}

async fn hot_orders(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT order_id FROM order_facts ORDER BY order_id")
        .fetch_all(&app.analytics.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn archive_files_round_trip_and_are_excluded_from_hot_queries() {
    let dir = ArchiveDir::new();
    let app = TestApp::start_def(&analytics::SERVICE, |s| {
        s.overrides.insert(
            "OC_ANALYTICS_ARCHIVE_DIR".into(),
            dir.0.display().to_string(),
        );
    })
    .await;
    scenario::play(&app).await;
    let pool = app.analytics.pool.clone();
    let (mix_before, trend_before, tea_before, csv_before) = (
        mix(&app, false).await,
        trend(&app, false, "").await,
        trend(&app, false, "TEA").await,
        csv_rows(&app, false).await,
    );

    // Finished before day 3: A (completed 2d13:00), D and E (cancelled on day 1); B was
    // delivered but never completed, C is in progress.
    let report = analytics::archive::run(&pool, &dir.0, t(3, 0, 0), t(400, 0, 0))
        .await
        .unwrap();
    assert_eq!((report.files, report.orders), (1, 3));
    let (path, rows): (String, i64) = sqlx::query_as("SELECT path, row_count FROM archive_files")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(path.starts_with("orders/month=2026-03/part-"), "{path}");
    assert!(path.ends_with(".parquet"));
    assert_eq!(rows, 3);

    // The file holds exactly what the read models said about those orders, and their timeline.
    let file = std::fs::read(dir.0.join(&path)).unwrap();
    let archived = analytics::archive::file::decode(file.into()).unwrap();
    let ids: Vec<&str> = archived.iter().map(|o| o.row.order_id.as_str()).collect();
    assert_eq!(ids, ["A", "D", "E"]);
    for order in &archived {
        let line = csv_line(fields(&order.row).into_iter());
        assert!(csv_before.contains(&line), "{line} not in {csv_before:?}");
    }
    let a: serde_json::Value = serde_json::from_str(&archived[0].timeline).unwrap();
    assert_eq!(a["order"]["order_id"], "A");
    assert_eq!(a["order_lines"].as_array().unwrap().len(), 2);
    assert_eq!(a["shipment_facts"].as_array().unwrap().len(), 1);
    assert_eq!(a["survey_facts"].as_array().unwrap().len(), 1);

    // Hot questions no longer see them …
    assert_eq!(hot_orders(&app).await, ["B", "C"]);
    let hot = mix(&app, false).await;
    let counts: Vec<(i32, i64)> = hot
        .entries
        .iter()
        .map(|e| (e.channel, e.order_count))
        .collect();
    assert_eq!(
        counts,
        [
            (contracts::common::Channel::Web as i32, 1),
            (contracts::common::Channel::MobileApp as i32, 1)
        ]
    );
    assert_eq!(trend(&app, false, "").await.totals.unwrap().order_count, 2);
    assert_eq!(csv_rows(&app, false).await.len(), 2);
    // … and including the archive gives back every figure.
    assert_eq!(mix(&app, true).await, mix_before);
    assert_eq!(trend(&app, true, "").await, trend_before);
    assert_eq!(trend(&app, true, "TEA").await, tea_before);
    assert_eq!(csv_rows(&app, true).await, csv_before);
    let parquet = export(&app, ExportFormat::Parquet, true).await;
    let mut lines: Vec<String> = analytics::archive::file::decode(parquet.into())
        .unwrap()
        .iter()
        .map(|o| csv_line(fields(&o.row).into_iter()))
        .collect();
    lines.sort();
    assert_eq!(lines, csv_before);

    // A rebuild replays every kept event, archived orders' too, and leaves those out again.
    analytics::rebuild(&pool).await.unwrap();
    assert_eq!(hot_orders(&app).await, ["B", "C"]);
    assert_eq!(mix(&app, true).await, mix_before);

    // Nothing is archived twice; a file no run recorded (a crash before the commit) is
    // deleted by the next run, and the recorded one stays.
    let stray = dir.0.join("orders/month=2026-03/part-stray.parquet");
    std::fs::write(&stray, b"half a file").unwrap();
    let again = analytics::archive::run(&pool, &dir.0, t(3, 0, 0), t(401, 0, 0))
        .await
        .unwrap();
    assert_eq!(
        (again.files, again.orders, again.garbage_removed),
        (0, 0, 1)
    );
    assert!(!stray.exists());
    assert!(dir.0.join(&path).exists());
}
