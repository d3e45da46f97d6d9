//! The analytics service's own settings, `OC_ANALYTICS_…`, with defaults for a developer
//! machine.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `OC_ANALYTICS_REPORTING_CURRENCY` | `EUR` | the currency of money figures when a request names none |
//! | `OC_ANALYTICS_REPORT_DAYS` | `30` | the range of `/report.html` and `/report.svg` when the query gives no `from` |
//! | `OC_ANALYTICS_EXPORT_PAGE_ROWS` | `500` | orders per chunk of `ExportOrders` |
//! | `OC_ANALYTICS_ARCHIVE_DIR` | `./.ordercycle/archive` | where the archive's Parquet files live (keep it on durable storage shared by every replica) |
//! | `OC_ANALYTICS_ARCHIVE_AFTER_DAYS` | `365` | orders completed, cancelled or rejected longer ago are archived |
//! | `OC_ANALYTICS_ARCHIVE_EVERY_HOURS` | `24` | service-clock hours between archive runs (the first one period after start); `0` turns the periodic run off |

use runtime::config::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Config {
    pub reporting_currency: String,
    pub report_range: chrono::Duration,
    pub export_page_rows: i64,
    pub archive_dir: std::path::PathBuf,
    pub archive_after: chrono::Duration,
    /// `None`: no periodic run.
    pub archive_every: Option<chrono::Duration>,
    /// How often the rollups' stale buckets are recomputed.
    pub rollup_refresh_every: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            reporting_currency: "EUR".into(),
            report_range: chrono::Duration::days(30),
            export_page_rows: 500,
            archive_dir: ".ordercycle/archive".into(),
            archive_after: chrono::Duration::days(365),
            archive_every: Some(chrono::Duration::hours(24)),
            rollup_refresh_every: std::time::Duration::from_secs(2),
        }
    }
}

impl Config {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let reporting_currency = env
            .get("OC_ANALYTICS_REPORTING_CURRENCY")
            .map_or(d.reporting_currency, |c| c.trim().to_owned());
        if !crate::domain::is_currency_code(&reporting_currency) {
            return Err(ConfigError {
                var: "OC_ANALYTICS_REPORTING_CURRENCY".into(),
                reason: "must be an ISO 4217 code such as EUR".into(),
            });
        }
        let days: i64 = parse(env, "OC_ANALYTICS_REPORT_DAYS", 30)?;
        let rows: i64 = parse(env, "OC_ANALYTICS_EXPORT_PAGE_ROWS", d.export_page_rows)?;
        if days < 1 || rows < 1 {
            return Err(ConfigError {
                var: "OC_ANALYTICS_REPORT_DAYS / OC_ANALYTICS_EXPORT_PAGE_ROWS".into(),
                reason: "must be at least 1".into(),
            });
        }
        let after_days: i64 = parse(env, "OC_ANALYTICS_ARCHIVE_AFTER_DAYS", 365)?;
        if after_days < 1 {
            return Err(ConfigError {
                var: "OC_ANALYTICS_ARCHIVE_AFTER_DAYS".into(),
                reason: "must be at least 1".into(),
            });
        }
        let every_hours: i64 = parse(env, "OC_ANALYTICS_ARCHIVE_EVERY_HOURS", 24)?;
        let refresh_ms: i64 = parse(env, "OC_ANALYTICS_ROLLUP_REFRESH_MS", 2_000)?;
        let rollup_refresh_every = u64::try_from(refresh_ms)
            .ok()
            .filter(|ms| *ms > 0)
            .map(std::time::Duration::from_millis)
            .ok_or_else(|| ConfigError {
                var: "OC_ANALYTICS_ROLLUP_REFRESH_MS".into(),
                reason: "must be at least 1".into(),
            })?;
        Ok(Self {
            reporting_currency,
            report_range: chrono::Duration::days(days),
            export_page_rows: rows,
            archive_dir: env
                .get("OC_ANALYTICS_ARCHIVE_DIR")
                .map_or(d.archive_dir, |dir| dir.trim().into()),
            archive_after: chrono::Duration::days(after_days),
            archive_every: (every_hours > 0).then(|| chrono::Duration::hours(every_hours)),
            rollup_refresh_every,
        })
    }
}

fn parse(env: &Env<'_>, key: &str, default: i64) -> Result<i64, ConfigError> {
    match env.get(key) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|err: std::num::ParseIntError| ConfigError {
                var: key.to_owned(),
                reason: err.to_string(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_a_bad_currency_is_refused() {
        let config = Config::from_env(&Env::from_fn(|_| None)).unwrap();
        assert_eq!(config.reporting_currency, "EUR");
        let bad = Config::from_env(&Env::from_fn(|key| {
            (key == "OC_ANALYTICS_REPORTING_CURRENCY").then(|| "euro".to_owned())
        }));
        assert!(bad.is_err());
    }
}
