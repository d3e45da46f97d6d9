//! The raw baseline: the committed pgbench script `bench/order_tx.sql` against its own database,
//! with the tables created here, and the parser of pgbench's summary.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use sqlx::{Connection as _, Executor as _, PgConnection};

/// The database the baseline owns; dropped and recreated for every run.
pub const DATABASE: &str = "ordercycle_bench_baseline";

/// The copy of `bench/order_tx.sql` built into the binary, used when the file is not found.
pub const EMBEDDED_SCRIPT: &str = include_str!("../../../bench/order_tx.sql");

/// The columns and indexes of orders' `orders`, `order_lines` and `oc_outbox`, and a stock table
/// like inventory's, so the baseline writes what PlaceOrder writes.
const SCHEMA: &str = "
CREATE SEQUENCE order_number_seq;
CREATE TABLE orders (
    id uuid PRIMARY KEY,
    order_number text NOT NULL UNIQUE,
    request_id text NOT NULL UNIQUE,
    request_hash bytea NOT NULL,
    status text NOT NULL,
    customer_id text NOT NULL,
    customer jsonb NOT NULL,
    channel text NOT NULL,
    fulfillment_mode text NOT NULL,
    pickup_store_id text,
    shipping_address jsonb,
    billing_address jsonb,
    payment_method text NOT NULL,
    installment_count integer NOT NULL DEFAULT 0,
    payment_token text,
    currency text NOT NULL,
    total_minor bigint NOT NULL CHECK (total_minor >= 0),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id, created_at DESC);
CREATE INDEX orders_status ON orders (status, created_at DESC);
CREATE TABLE order_lines (
    order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_id text NOT NULL,
    position integer NOT NULL,
    sku text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
    name text NOT NULL DEFAULT '',
    PRIMARY KEY (order_id, line_id)
);
CREATE TABLE stock (
    sku text PRIMARY KEY,
    on_hand integer NOT NULL CHECK (on_hand >= 0),
    reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand)
);
CREATE TABLE outbox (
    id uuid PRIMARY KEY,
    seq bigserial NOT NULL,
    subject text NOT NULL,
    ce_type text NOT NULL,
    aggregate_id text NOT NULL,
    payload bytea NOT NULL,
    traceparent text,
    occurred_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
";

/// Drops and recreates the baseline database with its tables and `skus` stocked SKUs.
pub async fn prepare(server_url: &str, skus: u32) -> anyhow::Result<()> {
    let admin_url = format!("{}/postgres", server_url.trim_end_matches('/'));
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .with_context(|| format!("connecting to {admin_url}"))?;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)").as_str())
        .await?;
    admin
        .execute(format!("CREATE DATABASE {DATABASE}").as_str())
        .await?;
    admin.close().await?;
    let mut conn = PgConnection::connect(&database_url(server_url)).await?;
    conn.execute(SCHEMA).await?;
    sqlx::query(
        "INSERT INTO stock (sku, on_hand)
         SELECT 'BENCH-' || lpad(n::text, 4, '0'), 1000000000 FROM generate_series(1, $1) n",
    )
    .bind(i32::try_from(skus)?)
    .execute(&mut conn)
    .await?;
    conn.execute("VACUUM ANALYZE").await?;
    conn.close().await?;
    Ok(())
}

pub fn database_url(server_url: &str) -> String {
    format!("{}/{DATABASE}", server_url.trim_end_matches('/'))
}

/// How to run pgbench.
pub struct Run<'a> {
    pub pgbench: &'a Path,
    pub script: &'a Path,
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub clients: u32,
    pub threads: u32,
    pub duration: Duration,
    pub skus: u32,
}

impl Run<'_> {
    pub fn args(&self) -> Vec<String> {
        vec![
            "-n".into(),
            "-M".into(),
            "prepared".into(),
            "-c".into(),
            self.clients.to_string(),
            "-j".into(),
            self.threads.min(self.clients).to_string(),
            "-T".into(),
            self.duration.as_secs().max(1).to_string(),
            "-D".into(),
            format!("skus={}", self.skus),
            "-f".into(),
            self.script.display().to_string(),
            "-h".into(),
            self.host.into(),
            "-p".into(),
            self.port.to_string(),
            "-U".into(),
            self.user.into(),
            DATABASE.into(),
        ]
    }
}

/// What pgbench reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub tps: f64,
    pub transactions: Option<u64>,
    pub failed: Option<u64>,
    pub latency_avg_ms: Option<f64>,
    pub command: String,
}

pub async fn run(run: &Run<'_>) -> anyhow::Result<Outcome> {
    let args = run.args();
    let command = format!("{} {}", run.pgbench.display(), args.join(" "));
    let output = tokio::process::Command::new(run.pgbench)
        .args(&args)
        .output()
        .await
        .with_context(|| format!("running {command}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("pgbench failed ({}): {stderr}{stdout}", output.status);
    }
    let mut outcome = parse(&stdout)
        .with_context(|| format!("no tps in pgbench's output:\n{stdout}\n{stderr}"))?;
    outcome.command = command;
    Ok(outcome)
}

/// Parses pgbench's summary: `tps = 1234.5 (without initial connection time)` (PostgreSQL 14+)
/// or `(excluding connections establishing)` (older); the first such line wins.
pub fn parse(stdout: &str) -> Option<Outcome> {
    let mut tps = None;
    let mut transactions = None;
    let mut failed = None;
    let mut latency = None;
    for line in stdout.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("tps = ") {
            let value = rest.split_whitespace().next()?.parse::<f64>().ok()?;
            let preferred = rest.contains("without initial") || rest.contains("excluding");
            if tps.is_none() || preferred {
                tps = Some((value, preferred));
            }
            if preferred {
                break;
            }
        } else if let Some(rest) = line.strip_prefix("number of transactions actually processed:") {
            transactions = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if let Some(rest) = line.strip_prefix("number of failed transactions:") {
            failed = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if let Some(rest) = line.strip_prefix("latency average = ") {
            latency = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    Some(Outcome {
        tps: tps?.0,
        transactions,
        failed,
        latency_avg_ms: latency,
        command: String::new(),
    })
}

/// `pgbench` on the PATH, else the newest `/usr/lib/postgresql/*/bin/pgbench`.
pub fn find_pgbench() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("pgbench");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin/pgbench"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

/// The committed script when it is there, else the embedded copy written to a temp file.
pub fn script_path(requested: &Path) -> anyhow::Result<PathBuf> {
    if requested.is_file() {
        return Ok(requested.to_path_buf());
    }
    let path = std::env::temp_dir().join(format!("ordercycle-bench-{}.sql", std::process::id()));
    std::fs::write(&path, EMBEDDED_SCRIPT)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG15: &str = "pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: bench/order_tx.sql
scaling factor: 1
query mode: prepared
number of clients: 16
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 12345
number of failed transactions: 0 (0.000%)
latency average = 12.960 ms
initial connection time = 20.150 ms
tps = 1234.567890 (without initial connection time)
";

    #[test]
    fn parses_the_postgres_15_summary() {
        let outcome = parse(PG15).unwrap();
        assert!((outcome.tps - 1234.56789).abs() < 1e-9);
        assert_eq!(outcome.transactions, Some(12345));
        assert_eq!(outcome.failed, Some(0));
        assert_eq!(outcome.latency_avg_ms, Some(12.960));
    }

    #[test]
    fn prefers_the_tps_without_connection_time_in_older_output() {
        let old = "tps = 900.1 (including connections establishing)\n\
                   tps = 950.2 (excluding connections establishing)\n";
        assert!((parse(old).unwrap().tps - 950.2).abs() < 1e-9);
    }

    #[test]
    fn output_without_tps_is_none() {
        assert!(parse("pgbench: error: connection refused\n").is_none());
    }

    #[test]
    fn runs_prepared_with_the_given_concurrency() {
        let run = Run {
            pgbench: Path::new("/usr/bin/pgbench"),
            script: Path::new("bench/order_tx.sql"),
            host: "127.0.0.1",
            port: 5432,
            user: "postgres",
            clients: 16,
            threads: 2,
            duration: Duration::from_secs(20),
            skus: 50,
        };
        let args = run.args().join(" ");
        assert!(args.starts_with("-n -M prepared -c 16 -j 2 -T 20 -D skus=50"));
        assert!(args.ends_with(DATABASE));
    }
}
