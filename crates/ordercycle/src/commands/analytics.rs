//! Analytics from the command line, straight from analytics' own database (so they work with
//! the service down, and on the whole history): `ordercycle analytics rebuild` replays the
//! kept events into fresh read models; `ordercycle analytics archive` moves orders finished long
//! ago into the Parquet archive; `ordercycle report --out report.html` writes the visual
//! report (the page analytics serves on `/report.html`) to a file.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use runtime::config::{Env, Settings};

use super::Out;

#[derive(Subcommand, Debug)]
pub enum AnalyticsCmd {
    /// Empty the read models and replay every kept event into them (one transaction).
    Rebuild,
    /// Move the orders finished longer ago than `OC_ANALYTICS_ARCHIVE_AFTER_DAYS` (or
    /// `--after-days`) out of the read models into the monthly Parquet files under
    /// `OC_ANALYTICS_ARCHIVE_DIR` (what the service also does on its own schedule).
    Archive {
        /// Archive orders finished more than this many days ago.
        #[arg(long)]
        after_days: Option<u32>,
    },
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Start of the range (RFC 3339, e.g. 2026-11-01T00:00:00Z); default the last
    /// `OC_ANALYTICS_REPORT_DAYS` days.
    #[arg(long)]
    pub from: Option<String>,
    /// End of the range (RFC 3339); default now.
    #[arg(long)]
    pub to: Option<String>,
    /// Only money in this currency (ISO 4217).
    #[arg(long)]
    pub currency: Option<String>,
    /// Write the self-contained HTML report (charts as inline SVG, findings) here instead of
    /// printing the KPI tables.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Analytics' database, as `ordercycle serve analytics` would open it.
async fn analytics_api() -> anyhow::Result<analytics::grpc::AnalyticsApi> {
    // Reading the database needs no caller authentication.
    let env = Env::from_fn(
        |key| match std::env::var(key).ok().filter(|v| !v.is_empty()) {
            None if key == "OC_AUTH" => Some("off".to_owned()),
            other => other,
        },
    );
    let settings = Settings::from(&env)?;
    let service = settings.service_from(&env, analytics::SERVICE.name)?;
    let pool = runtime::db::pool(&service.database_url, 2)
        .await
        .context("opening analytics' database")?;
    let config = analytics::config::Config::from_env(&env)?;
    Ok(analytics::grpc::AnalyticsApi {
        pool,
        clock: settings.clock.clone(),
        config: std::sync::Arc::new(config),
    })
}

pub async fn analytics(out: &Out, cmd: AnalyticsCmd) -> anyhow::Result<()> {
    match cmd {
        AnalyticsCmd::Rebuild => {
            let api = analytics_api().await?;
            let done = analytics::rebuild(&api.pool).await?;
            // The replay left every hour it touched stale: recompute the dashboard's rollups
            // now rather than leave the questions reading the facts until the refresher catches up.
            let hours = analytics::store::rollup::refresh_all(&api.pool).await?;
            out.rows(
                &["replayed", "undecodable", "rollup_hours"],
                vec![vec![
                    ("replayed", done.replayed.into()),
                    ("undecodable", done.undecodable.into()),
                    ("rollup_hours", hours.into()),
                ]],
            );
            out.note("read models rebuilt from the kept events, rollups recomputed");
            Ok(())
        }
        AnalyticsCmd::Archive { after_days } => {
            let api = analytics_api().await?;
            let after = after_days.map_or(api.config.archive_after, |days| {
                chrono::Duration::days(i64::from(days))
            });
            let now = api.clock.now();
            let dir = &api.config.archive_dir;
            let done = analytics::archive::run(&api.pool, dir, now - after, now).await?;
            out.rows(
                &["files", "orders", "garbage_removed", "stray_removed"],
                vec![vec![
                    ("files", done.files.into()),
                    ("orders", done.orders.into()),
                    ("garbage_removed", done.garbage_removed.into()),
                    ("stray_removed", done.stray_removed.into()),
                ]],
            );
            out.note(&format!("archive: {}", dir.display()));
            Ok(())
        }
    }
}

/// Writes the HTML report for the range to `path`.
pub async fn report_file(out: &Out, args: &ReportArgs, path: &PathBuf) -> anyhow::Result<()> {
    let api = analytics_api().await?;
    let query: Vec<String> = [
        ("from", &args.from),
        ("to", &args.to),
        ("currency", &args.currency),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={v}")))
    .collect();
    let query = query.join("&");
    let report = analytics::report::build(&api, Some(query.as_str()).filter(|q| !q.is_empty()))
        .await
        .map_err(|err| anyhow::anyhow!("building the report: {err}"))?;
    std::fs::write(path, analytics::report::html(&report))
        .with_context(|| format!("writing {}", path.display()))?;
    out.note(&format!(
        "report with {} charts and {} findings written to {}",
        report.charts.len(),
        report.findings.len(),
        path.display()
    ));
    Ok(())
}
