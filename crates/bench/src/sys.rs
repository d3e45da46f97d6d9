//! Where the time goes, cheaply: PostgreSQL's durability settings, commits and WAL flushes
//! (`pg_stat_database`, `pg_stat_wal`), and CPU seconds per process group from `/proc`.

use std::collections::BTreeMap;

use sqlx::{Connection as _, PgConnection, Row as _};

pub async fn durability(server_url: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut conn =
        PgConnection::connect(&format!("{}/postgres", server_url.trim_end_matches('/'))).await?;
    let mut out = BTreeMap::new();
    for name in [
        "server_version",
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
        "full_page_writes",
        "commit_delay",
        "shared_buffers",
        "max_connections",
    ] {
        let value: String = sqlx::query_scalar(&format!("SHOW {name}"))
            .fetch_one(&mut conn)
            .await?;
        out.insert(name.to_owned(), value);
    }
    conn.close().await?;
    Ok(out)
}

/// Server-wide counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct PgCounters {
    pub xact_commit: i64,
    pub wal_records: i64,
    pub wal_bytes: i64,
    pub wal_write: i64,
    pub wal_sync: i64,
}

pub async fn pg_counters(server_url: &str) -> anyhow::Result<PgCounters> {
    let mut conn =
        PgConnection::connect(&format!("{}/postgres", server_url.trim_end_matches('/'))).await?;
    let commits: i64 = sqlx::query_scalar("SELECT sum(xact_commit)::bigint FROM pg_stat_database")
        .fetch_one(&mut conn)
        .await?;
    let wal = sqlx::query(
        "SELECT wal_records::bigint, wal_bytes::bigint, wal_write::bigint, wal_sync::bigint FROM pg_stat_wal",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(PgCounters {
        // Minus this query's own transaction, roughly; negligible either way.
        xact_commit: commits,
        wal_records: wal.try_get(0)?,
        wal_bytes: wal.try_get(1)?,
        wal_write: wal.try_get(2)?,
        wal_sync: wal.try_get(3)?,
    })
}

impl PgCounters {
    pub fn since(self, before: Self) -> Self {
        Self {
            xact_commit: self.xact_commit - before.xact_commit,
            wal_records: self.wal_records - before.wal_records,
            wal_bytes: self.wal_bytes - before.wal_bytes,
            wal_write: self.wal_write - before.wal_write,
            wal_sync: self.wal_sync - before.wal_sync,
        }
    }

    pub fn json(self, per: f64) -> serde_json::Value {
        let per = per.max(1.0);
        serde_json::json!({
            "commits": self.xact_commit,
            "wal_flushes": self.wal_sync,
            "wal_bytes": self.wal_bytes,
            "commits_per_order": round(self.xact_commit as f64 / per, 2),
            "wal_flushes_per_order": round(self.wal_sync as f64 / per, 3),
            "wal_bytes_per_order": round(self.wal_bytes as f64 / per, 0),
            "wal_records_per_order": round(self.wal_records as f64 / per, 1),
        })
    }
}

pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// CPU seconds (user + system) per process group: `postgres`, `nats-server`, the platform
/// (`ordercycle`) and this load generator; and each PostgreSQL backend's share by the database
/// it serves (`postgres/<database>`), the cheapest profile of which service costs what.
pub fn cpu_seconds() -> BTreeMap<String, f64> {
    let ticks = 100.0; // USER_HZ on Linux
    let me = std::process::id().to_string();
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // comm is in parentheses and may hold spaces; the fields after it are fixed.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) else {
            continue;
        };
        let secs =
            (utime.parse::<f64>().unwrap_or(0.0) + stime.parse::<f64>().unwrap_or(0.0)) / ticks;
        let group = if pid == me {
            "bench"
        } else if comm == "postgres" {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let title = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if let Some(database) = backend_database(&title) {
                *out.entry(format!("postgres/{database}")).or_default() += secs;
            }
            "postgres"
        } else if comm == "nats-server" {
            "nats-server"
        } else if comm == "ordercycle" {
            "ordercycle"
        } else {
            continue;
        };
        *out.entry(group.to_owned()).or_default() += secs;
    }
    out
}

/// The database a PostgreSQL backend serves, from the title it sets on its command line
/// (`postgres: 15/main: <user> <database> <client> <state>`); `None` for the server's own
/// processes (checkpointer, WAL writer…).
fn backend_database(cmdline: &str) -> Option<&str> {
    let title = cmdline.trim().strip_prefix("postgres: ")?;
    // The cluster name, when set, comes first and ends with a colon.
    let title = match title.split_once(": ") {
        Some((cluster, rest)) if !cluster.contains(' ') => rest,
        _ => title,
    };
    let mut words = title.split_whitespace();
    let (_user, database, client) = (words.next()?, words.next()?, words.next()?);
    // A client is an address (`127.0.0.1(40112)`, `[local]`); a server process has none.
    (client.contains('(') || client == "[local]").then_some(database)
}

pub fn cpu_since(
    after: &BTreeMap<String, f64>,
    before: &BTreeMap<String, f64>,
    secs: f64,
) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (group, t) in after {
        let used = t - before.get(group).copied().unwrap_or(0.0);
        out.insert(
            group.clone(),
            serde_json::json!(round(used / secs.max(0.001), 2)),
        );
    }
    serde_json::Value::Object(out)
}

/// Resident memory of `pid` in MiB: (current, peak).
pub fn rss_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| round(kb / 1024.0, 1))
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::backend_database;

    #[test]
    fn a_backend_is_attributed_to_its_database_and_server_processes_to_none() {
        let backend = "postgres: 15/main: postgres ordercycle_bench_orders 127.0.0.1(40112) idle";
        assert_eq!(backend_database(backend), Some("ordercycle_bench_orders"));
        let unnamed = "postgres: app shop [local] SELECT";
        assert_eq!(backend_database(unnamed), Some("shop"));
        for server in [
            "postgres: 15/main: checkpointer ",
            "postgres: 15/main: logical replication launcher ",
            "postgres: walwriter",
            "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main",
        ] {
            assert_eq!(backend_database(server), None, "{server}");
        }
    }
}
