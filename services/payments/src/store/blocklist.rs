//! The `blocklist` table.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub kind: String,
    pub value: String,
    pub reason: String,
    pub active: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub updated_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "kind, value, reason, active, expires_at, updated_by, created_at, updated_at";

/// Creates or replaces the entry keyed by (kind, value); keeps the first `created_at`.
pub async fn upsert(conn: &mut PgConnection, e: &EntryRow) -> Result<EntryRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO blocklist ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT (kind, value) DO UPDATE
         SET reason = EXCLUDED.reason, active = EXCLUDED.active,
             expires_at = EXCLUDED.expires_at, updated_by = EXCLUDED.updated_by,
             updated_at = EXCLUDED.updated_at
         RETURNING {COLUMNS}"
    ))
    .bind(&e.kind)
    .bind(&e.value)
    .bind(&e.reason)
    .bind(e.active)
    .bind(e.expires_at)
    .bind(&e.updated_by)
    .bind(e.updated_at)
    .fetch_one(conn)
    .await
}

/// Entries in force at `now` that match one of (kind, value).
pub async fn matching(
    conn: &mut PgConnection,
    candidates: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let (kinds, values): (Vec<String>, Vec<String>) = candidates.iter().cloned().unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM blocklist
         WHERE (kind, value) IN (SELECT * FROM unnest($1::text[], $2::text[]))
           AND active AND (expires_at IS NULL OR expires_at > $3)
         ORDER BY kind, value"
    ))
    .bind(kinds)
    .bind(values)
    .bind(now)
    .fetch_all(conn)
    .await
}

/// A page ordered by (kind, value), after the key `after` of the previous page's last row.
pub async fn list(
    conn: &mut PgConnection,
    kind: Option<&str>,
    include_inactive: bool,
    now: DateTime<Utc>,
    after: Option<(String, String)>,
    limit: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM blocklist WHERE true"));
    if let Some(kind) = kind {
        q.push(" AND kind = ").push_bind(kind.to_owned());
    }
    if !include_inactive {
        q.push(" AND active AND (expires_at IS NULL OR expires_at > ")
            .push_bind(now)
            .push(")");
    }
    if let Some((k, v)) = after {
        q.push(" AND (kind, value) > (")
            .push_bind(k)
            .push(", ")
            .push_bind(v)
            .push(")");
    }
    q.push(" ORDER BY kind, value LIMIT ").push_bind(limit);
    q.build_query_as().fetch_all(conn).await
}
