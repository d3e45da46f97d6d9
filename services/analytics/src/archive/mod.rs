//! The order archive: orders completed, cancelled or rejected longer ago than
//! `OC_ANALYTICS_ARCHIVE_AFTER_DAYS` leave the read models for Parquet files under
//! `OC_ANALYTICS_ARCHIVE_DIR`, one directory per month they were placed in
//! (`orders/month=YYYY-MM/part-<uuid>.parquet`), each row with the order's whole timeline.
//!
//! [`run`] archives what is due; the service runs it every `OC_ANALYTICS_ARCHIVE_EVERY_HOURS`
//! of its clock ([`Archiver`]) and `ordercycle analytics archive` runs it by hand. [`load`]
//! reads the archived orders of a range back for the questions that ask to include the archive.
//!
//! Crash safety: a file is written and fsynced (file and directory) first; then one
//! transaction records it in `archive_files`, lists its orders in `archived_orders` and
//! deletes their rows from the read models. If the process stops in between, the file has no
//! manifest row, its orders are still hot, and the next run deletes the file and writes them
//! again. Runs take a Postgres advisory lock, so replicas never archive at the same time.

pub mod figures;
pub mod file;

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Datelike as _, Months, NaiveDate, Utc};
use runtime::Clock;
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::domain::Range;
use crate::store::archive::{self as manifest, ArchiveFile, ArchivedOrder};

/// Orders per file at most: a month with more is written as several parts, each in its own
/// transaction, so no run holds more than this many orders' rows locked or in memory.
const FILE_ROWS: i64 = 50_000;

/// The advisory lock key of archive runs (any constant unique to this database will do).
const LOCK_KEY: i64 = 0x0a7c_417e;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error("archive file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("archive file {path}: {source}")]
    Format {
        path: String,
        source: file::FormatError,
    },
    #[error("archive file {0} does not match its recorded checksum")]
    Checksum(String),
    #[error("the archive writer stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Files written.
    pub files: u64,
    /// Orders moved from the read models into them.
    pub orders: u64,
    /// Files without a manifest row (left by an interrupted run) deleted.
    pub garbage_removed: u64,
    /// Archived orders found again in the read models (late events) and removed.
    pub stray_removed: u64,
}

/// Archives every order finished before `before` into `dir`.
pub async fn run(
    pool: &PgPool,
    dir: &Path,
    before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ArchiveReport, ArchiveError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let outcome = run_locked(&mut conn, dir, before, now).await;
    // The lock is the session's: release it before the connection goes back to the pool.
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await;
    if unlocked.is_err() {
        // A session that cannot unlock must not be reused with the lock held.
        conn.detach();
    }
    let report = outcome?;
    if report != ArchiveReport::default() {
        tracing::info!(
            files = report.files,
            orders = report.orders,
            garbage_removed = report.garbage_removed,
            stray_removed = report.stray_removed,
            "archived finished orders"
        );
    }
    Ok(report)
}

async fn run_locked(
    conn: &mut sqlx::PgConnection,
    dir: &Path,
    before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ArchiveReport, ArchiveError> {
    let mut report = ArchiveReport::default();
    let known: HashSet<String> = manifest::paths(&mut *conn).await?.into_iter().collect();
    report.garbage_removed = remove_garbage(dir, &known).await?;
    let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
    report.stray_removed = manifest::purge_archived(&mut tx).await?;
    tx.commit().await?;
    for month in manifest::due_months(&mut *conn, before).await? {
        let Some(range) = month_range(month) else {
            continue;
        };
        loop {
            let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
            let orders = manifest::due_orders(&mut tx, &range, before, FILE_ROWS).await?;
            let (Some(first), Some(last)) = (orders.first(), orders.last()) else {
                break;
            };
            let path = format!(
                "orders/month={:04}-{:02}/part-{}.parquet",
                month.year(),
                month.month(),
                uuid::Uuid::now_v7()
            );
            let record = ArchiveFile {
                month,
                row_count: i64::try_from(orders.len()).unwrap_or(i64::MAX),
                byte_count: 0,
                sha256: String::new(),
                first_placed_at: first.row.placed_at,
                last_placed_at: last.row.placed_at,
                archived_at: now,
                path,
            };
            let ids: Vec<String> = orders.iter().map(|o| o.row.order_id.clone()).collect();
            let (bytes, sha256) = write_file(dir.join(&record.path), orders).await?;
            let record = ArchiveFile {
                byte_count: i64::try_from(bytes).unwrap_or(i64::MAX),
                sha256,
                ..record
            };
            manifest::record(&mut tx, &record, &ids).await?;
            if let Err(err) = tx.commit().await {
                // Not recorded: the file is garbage now rather than at the next run.
                let _ = tokio::fs::remove_file(dir.join(&record.path)).await;
                return Err(err.into());
            }
            report.files += 1;
            report.orders += ids.len() as u64;
        }
    }
    Ok(report)
}

/// `[first of month, first of next month)` in UTC.
fn month_range(month: NaiveDate) -> Option<Range> {
    let next = month.checked_add_months(Months::new(1))?;
    let start = month.and_hms_opt(0, 0, 0)?.and_utc();
    let end = next.and_hms_opt(0, 0, 0)?.and_utc();
    Range::new(start, end).ok()
}

/// Writes and fsyncs the file and its directory; returns its size and SHA-256.
async fn write_file(
    path: PathBuf,
    orders: Vec<ArchivedOrder>,
) -> Result<(usize, String), ArchiveError> {
    tokio::task::spawn_blocking(move || {
        let bytes = file::encode(&orders).map_err(|source| ArchiveError::Format {
            path: path.display().to_string(),
            source,
        })?;
        let io = |source| ArchiveError::Io {
            path: path.clone(),
            source,
        };
        let parent = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io)?;
        let mut out = std::fs::File::create(&path).map_err(io)?;
        out.write_all(&bytes).map_err(io)?;
        out.sync_all().map_err(io)?;
        // The new name must survive a crash too, or the manifest could name a missing file.
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok((bytes.len(), hex::encode(Sha256::digest(&bytes))))
    })
    .await?
}

/// Deletes the Parquet files under `dir/orders/` that the manifest does not name.
async fn remove_garbage(dir: &Path, known: &HashSet<String>) -> Result<u64, ArchiveError> {
    let root = dir.join("orders");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    };
    let mut months = match tokio::fs::read_dir(&root).await {
        Ok(months) => months,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(io(&root)(err)),
    };
    let mut removed = 0;
    while let Some(month) = months.next_entry().await.map_err(io(&root))? {
        if !month.file_type().await.map_err(io(&month.path()))?.is_dir() {
            continue;
        }
        let mut files = tokio::fs::read_dir(month.path())
            .await
            .map_err(io(&month.path()))?;
        while let Some(entry) = files.next_entry().await.map_err(io(&month.path()))? {
            let relative = format!(
                "orders/{}/{}",
                month.file_name().to_string_lossy(),
                entry.file_name().to_string_lossy()
            );
            if relative.ends_with(".parquet") && !known.contains(&relative) {
                tokio::fs::remove_file(entry.path())
                    .await
                    .map_err(io(&entry.path()))?;
                tracing::warn!(path = %relative, "removed an archive file no run recorded");
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// The archived orders placed in `range`, in file order, each file checked against its
/// recorded checksum.
pub async fn load(
    pool: &PgPool,
    dir: &Path,
    range: &Range,
) -> Result<Vec<ArchivedOrder>, ArchiveError> {
    let mut orders = Vec::new();
    for record in manifest::files_for(pool, range).await? {
        let path = dir.join(&record.path);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|source| ArchiveError::Io { path, source })?;
        if hex::encode(Sha256::digest(&bytes)) != record.sha256 {
            return Err(ArchiveError::Checksum(record.path));
        }
        let path = record.path;
        let decoded = tokio::task::spawn_blocking(move || file::decode(Bytes::from(bytes)))
            .await?
            .map_err(|source| ArchiveError::Format { path, source })?;
        orders.extend(
            decoded
                .into_iter()
                .filter(|o| range.contains(o.row.placed_at)),
        );
    }
    Ok(orders)
}

/// The service's periodic run on its clock.
pub struct Archiver {
    pub pool: PgPool,
    pub clock: Clock,
    pub dir: PathBuf,
    /// Orders finished longer ago than this are archived.
    pub after: chrono::Duration,
    /// Time between runs; the first run is one period after start.
    pub every: chrono::Duration,
}

impl Archiver {
    pub async fn run_every(self, token: CancellationToken) {
        loop {
            let next = self.clock.now() + self.every;
            tokio::select! {
                () = token.cancelled() => return,
                () = self.clock.sleep_until(next) => {}
            }
            let now = self.clock.now();
            if let Err(err) = run(&self.pool, &self.dir, now - self.after, now).await {
                tracing::error!(error = %err, "archive run failed; retrying next period");
            }
        }
    }
}
