//! The archive's bookkeeping in Postgres: which orders are due, their whole timeline as JSON,
//! the manifest of written files (`archive_files`, `archived_orders`) and the removal of
//! archived orders from the read models.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};

use super::export::{ORDER_ROW, OrderRow};
use crate::domain::Range;

/// Read models with an `order_id` column; `return_lines` and `sla_breaches` hang off
/// `return_facts` and `case_facts` and go with them.
const ORDER_TABLES: &[&str] = &[
    "order_lines",
    "payment_facts",
    "money_moves",
    "fulfillment_facts",
    "parcel_facts",
    "shipment_facts",
    "delivery_failures",
    "return_facts",
    "problem_facts",
    "survey_facts",
    "review_facts",
    "case_facts",
];

/// An order leaving the read models: its export row and every read-model row about it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ArchivedOrder {
    #[sqlx(flatten)]
    pub row: OrderRow,
    /// JSON: `{"order": {…order_facts…}, "order_lines": […], …, "return_lines": […],
    /// "sla_breaches": […]}`, each row as Postgres' `to_jsonb` writes it.
    pub timeline: String,
}

/// One written file, as the manifest keeps it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ArchiveFile {
    pub path: String,
    pub month: NaiveDate,
    pub row_count: i64,
    pub byte_count: i64,
    pub sha256: String,
    pub first_placed_at: DateTime<Utc>,
    pub last_placed_at: DateTime<Utc>,
    pub archived_at: DateTime<Utc>,
}

/// The first day (UTC) of each month with orders finished before `before`, oldest first.
pub async fn due_months(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<Vec<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT date_trunc('month', placed_at AT TIME ZONE 'UTC')::date AS month
         FROM order_facts
         WHERE placed_at IS NOT NULL
           AND COALESCE(completed_at, cancelled_at, rejected_at) < $1
         ORDER BY month",
    )
    .bind(before)
    .fetch_all(conn)
    .await
}

/// Up to `limit` orders placed in `month` and finished before `before`, oldest first, locked
/// until the transaction ends so a late event for one waits for the archiver's decision.
pub async fn due_orders(
    conn: &mut PgConnection,
    month: &Range,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ArchivedOrder>, sqlx::Error> {
    let children = ORDER_TABLES
        .iter()
        .map(|t| {
            format!(
                "'{t}', COALESCE((SELECT jsonb_agg(to_jsonb(x)) FROM {t} x
                     WHERE x.order_id = f.order_id), '[]'::jsonb)"
            )
        })
        .collect::<Vec<_>>()
        .join(",\n");
    sqlx::query_as(&format!(
        "SELECT {ORDER_ROW},
             jsonb_build_object('order', to_jsonb(f),
                 {children},
                 'return_lines', COALESCE((SELECT jsonb_agg(to_jsonb(x)) FROM return_lines x
                     JOIN return_facts r USING (return_id) WHERE r.order_id = f.order_id), '[]'::jsonb),
                 'sla_breaches', COALESCE((SELECT jsonb_agg(to_jsonb(x)) FROM sla_breaches x
                     JOIN case_facts c USING (case_id) WHERE c.order_id = f.order_id), '[]'::jsonb)
             )::text AS timeline
         FROM order_facts f
         WHERE f.placed_at >= $1 AND f.placed_at < $2
           AND COALESCE(f.completed_at, f.cancelled_at, f.rejected_at) < $3
         ORDER BY f.placed_at, f.order_id
         LIMIT $4
         FOR UPDATE OF f"
    ))
    .bind(month.start)
    .bind(month.end)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Records `file` and its orders in the manifest and removes those orders from the read
/// models — in the caller's transaction, so the file counts exactly when its orders leave.
pub async fn record(
    conn: &mut PgConnection,
    file: &ArchiveFile,
    order_ids: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO archive_files (path, month, row_count, byte_count, sha256, first_placed_at,
             last_placed_at, archived_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&file.path)
    .bind(file.month)
    .bind(file.row_count)
    .bind(file.byte_count)
    .bind(&file.sha256)
    .bind(file.first_placed_at)
    .bind(file.last_placed_at)
    .bind(file.archived_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO archived_orders (order_id, path) SELECT unnest($1::text[]), $2")
        .bind(order_ids)
        .bind(&file.path)
        .execute(&mut *conn)
        .await?;
    remove_hot(conn, "SELECT unnest($1::text[])", Some(order_ids)).await
}

/// Removes from the read models every row of an archived order: rows a rebuild replayed, or a
/// late event projected after the order left. Returns how many orders had such rows.
pub async fn purge_archived(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let stray: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM order_facts f JOIN archived_orders a USING (order_id)",
    )
    .fetch_one(&mut *conn)
    .await?;
    remove_hot(conn, "SELECT order_id FROM archived_orders", None).await?;
    Ok(u64::try_from(stray).unwrap_or(0))
}

/// Deletes the rows of the orders `ids_sql` selects (bound to `ids` as `$1` when given).
async fn remove_hot(
    conn: &mut PgConnection,
    ids_sql: &str,
    ids: Option<&[String]>,
) -> Result<(), sqlx::Error> {
    let mut statements = vec![
        format!(
            "DELETE FROM return_lines x USING return_facts r
             WHERE x.return_id = r.return_id AND r.order_id IN ({ids_sql})"
        ),
        format!(
            "DELETE FROM sla_breaches x USING case_facts c
             WHERE x.case_id = c.case_id AND c.order_id IN ({ids_sql})"
        ),
    ];
    statements.extend(
        ORDER_TABLES
            .iter()
            .chain(&["order_facts"])
            .map(|t| format!("DELETE FROM {t} WHERE order_id IN ({ids_sql})")),
    );
    for sql in &statements {
        let query = sqlx::query(sql);
        let query = match ids {
            Some(ids) => query.bind(ids),
            None => query,
        };
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The manifest's paths (every file that counts).
pub async fn paths(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT path FROM archive_files")
        .fetch_all(conn)
        .await
}

/// The files holding orders placed in `range`, oldest first.
pub async fn files_for(pool: &PgPool, range: &Range) -> Result<Vec<ArchiveFile>, sqlx::Error> {
    sqlx::query_as(
        "SELECT path, month, row_count, byte_count, sha256, first_placed_at, last_placed_at,
             archived_at
         FROM archive_files
         WHERE first_placed_at < $2 AND last_placed_at >= $1
         ORDER BY first_placed_at, path",
    )
    .bind(range.start)
    .bind(range.end)
    .fetch_all(pool)
    .await
}

/// When the first archived order was placed.
pub async fn earliest(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT min(first_placed_at) FROM archive_files")
        .fetch_one(pool)
        .await
}
