//! The `cases` and `case_messages` tables.

use std::collections::HashMap;

use chrono::{DateTime, Datelike as _, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::{StoreError, parse_text};
use crate::domain::case::{
    AuthorType, Case, CaseKind, CaseLine, CaseMessage, CasePriority, CaseStatus, ProblemKind,
    Refund, Resolution, case_number,
};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    case_number: String,
    order_id: Option<Uuid>,
    customer_id: String,
    kind: String,
    problem_kind: Option<String>,
    problem_id: Option<String>,
    subject: String,
    description: String,
    status: String,
    priority: String,
    lines: Json<Vec<CaseLine>>,
    assignee_id: Option<String>,
    first_response_due_at: DateTime<Utc>,
    resolve_due_at: DateTime<Utc>,
    first_responded_at: Option<DateTime<Utc>>,
    resolve_paused_at: Option<DateTime<Utc>>,
    first_response_breached: bool,
    resolution_breached: bool,
    resolution: Option<String>,
    refund_currency: Option<String>,
    refund_minor: Option<i64>,
    resolution_lines: Json<Vec<CaseLine>>,
    resolution_note: String,
    resolved_by: String,
    opened_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: Uuid,
    case_id: Uuid,
    author_id: String,
    author_type: String,
    body: String,
    internal: bool,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, case_number, order_id, customer_id, kind, problem_kind, problem_id,
    subject, description, status, priority, lines, assignee_id, first_response_due_at,
    resolve_due_at, first_responded_at, resolve_paused_at, first_response_breached,
    resolution_breached, resolution, refund_currency, refund_minor, resolution_lines,
    resolution_note, resolved_by, opened_at, updated_at, resolved_at";

impl TryFrom<Row> for Case {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        let what = format!("case {}", row.id);
        Ok(Self {
            id: row.id,
            number: row.case_number,
            order_id: row.order_id,
            customer_id: row.customer_id,
            kind: parse_text(&what, &row.kind, CaseKind::parse)?,
            problem_kind: row
                .problem_kind
                .as_deref()
                .map(|k| parse_text(&what, k, ProblemKind::parse))
                .transpose()?,
            problem_id: row.problem_id,
            subject: row.subject,
            description: row.description,
            status: parse_text(&what, &row.status, CaseStatus::parse)?,
            priority: parse_text(&what, &row.priority, CasePriority::parse)?,
            lines: row.lines.0,
            messages: Vec::new(),
            assignee_id: row.assignee_id,
            first_response_due_at: row.first_response_due_at,
            resolve_due_at: row.resolve_due_at,
            first_responded_at: row.first_responded_at,
            resolve_paused_at: row.resolve_paused_at,
            first_response_breached: row.first_response_breached,
            resolution_breached: row.resolution_breached,
            resolution: row
                .resolution
                .as_deref()
                .map(|r| parse_text(&what, r, Resolution::parse))
                .transpose()?,
            refund: match (row.refund_currency, row.refund_minor) {
                (Some(currency), Some(amount_minor)) => Some(Refund {
                    currency,
                    amount_minor,
                }),
                _ => None,
            },
            resolution_lines: row.resolution_lines.0,
            resolution_note: row.resolution_note,
            resolved_by: row.resolved_by,
            opened_at: row.opened_at,
            updated_at: row.updated_at,
            resolved_at: row.resolved_at,
        })
    }
}

/// The next case number, in the year of `now`.
pub async fn next_number(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<String, sqlx::Error> {
    let sequence: i64 = sqlx::query_scalar("SELECT nextval('case_number_seq')")
        .fetch_one(conn)
        .await?;
    Ok(case_number(now.year(), sequence))
}

/// Inserts a new case with its messages; false if a case for its problem id exists already.
pub async fn insert(conn: &mut PgConnection, case: &Case) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO cases (id, case_number, order_id, customer_id, kind, problem_kind, problem_id,
             subject, description, status, priority, lines, first_response_due_at,
             resolve_due_at, next_due_at, opened_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT (problem_id) DO NOTHING",
    )
    .bind(case.id)
    .bind(&case.number)
    .bind(case.order_id)
    .bind(&case.customer_id)
    .bind(case.kind.as_str())
    .bind(case.problem_kind.map(ProblemKind::as_str))
    .bind(case.problem_id.as_deref())
    .bind(&case.subject)
    .bind(&case.description)
    .bind(case.status.as_str())
    .bind(case.priority.as_str())
    .bind(Json(&case.lines))
    .bind(case.first_response_due_at)
    .bind(case.resolve_due_at)
    .bind(case.next_due_at())
    .bind(case.opened_at)
    .bind(case.updated_at)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    for message in &case.messages {
        insert_message(conn, case.id, message).await?;
    }
    Ok(true)
}

pub async fn insert_message(
    conn: &mut PgConnection,
    case_id: Uuid,
    message: &CaseMessage,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO case_messages (id, case_id, author_id, author_type, body, internal, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(message.id)
    .bind(case_id)
    .bind(&message.author_id)
    .bind(message.author_type.as_str())
    .bind(&message.body)
    .bind(message.internal)
    .bind(message.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the case's mutable state (messages are inserted one by one).
pub async fn save(conn: &mut PgConnection, case: &Case) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cases SET status = $2, assignee_id = $3, resolve_due_at = $4,
             first_responded_at = $5, resolve_paused_at = $6, first_response_breached = $7,
             resolution_breached = $8, resolution = $9, refund_currency = $10, refund_minor = $11,
             resolution_lines = $12, resolution_note = $13, resolved_by = $14, next_due_at = $15,
             updated_at = $16, resolved_at = $17
         WHERE id = $1",
    )
    .bind(case.id)
    .bind(case.status.as_str())
    .bind(case.assignee_id.as_deref())
    .bind(case.resolve_due_at)
    .bind(case.first_responded_at)
    .bind(case.resolve_paused_at)
    .bind(case.first_response_breached)
    .bind(case.resolution_breached)
    .bind(case.resolution.map(Resolution::as_str))
    .bind(case.refund.as_ref().map(|r| r.currency.as_str()))
    .bind(case.refund.as_ref().map(|r| r.amount_minor))
    .bind(Json(&case.resolution_lines))
    .bind(&case.resolution_note)
    .bind(&case.resolved_by)
    .bind(case.next_due_at())
    .bind(case.updated_at)
    .bind(case.resolved_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// How to find one case.
#[derive(Debug, Clone, Copy)]
pub enum CaseKey<'a> {
    Id(Uuid),
    Number(&'a str),
    ProblemId(&'a str),
}

async fn load(
    conn: &mut PgConnection,
    key: CaseKey<'_>,
    lock: bool,
) -> Result<Option<Case>, StoreError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let query = |column: &str| format!("SELECT {COLUMNS} FROM cases WHERE {column} = $1{lock}");
    let row: Option<Row> = match key {
        CaseKey::Id(id) => {
            sqlx::query_as(&query("id"))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
        }
        CaseKey::Number(number) => {
            sqlx::query_as(&query("case_number"))
                .bind(number)
                .fetch_optional(&mut *conn)
                .await?
        }
        CaseKey::ProblemId(problem) => {
            sqlx::query_as(&query("problem_id"))
                .bind(problem)
                .fetch_optional(&mut *conn)
                .await?
        }
    };
    let Some(row) = row else {
        return Ok(None);
    };
    let mut case = Case::try_from(row)?;
    case.messages = messages(conn, &[case.id])
        .await?
        .remove(&case.id)
        .unwrap_or_default();
    Ok(Some(case))
}

pub async fn get(conn: &mut PgConnection, key: CaseKey<'_>) -> Result<Option<Case>, StoreError> {
    load(conn, key, false).await
}

/// The case, locked until the end of the transaction.
pub async fn get_for_update(
    conn: &mut PgConnection,
    key: CaseKey<'_>,
) -> Result<Option<Case>, StoreError> {
    load(conn, key, true).await
}

async fn messages(
    conn: &mut PgConnection,
    case_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<CaseMessage>>, StoreError> {
    let rows: Vec<MessageRow> = sqlx::query_as(
        "SELECT id, case_id, author_id, author_type, body, internal, created_at
         FROM case_messages WHERE case_id = ANY($1) ORDER BY created_at, id",
    )
    .bind(case_ids)
    .fetch_all(conn)
    .await?;
    let mut by_case: HashMap<Uuid, Vec<CaseMessage>> = HashMap::new();
    for row in rows {
        let what = format!("message {}", row.id);
        by_case.entry(row.case_id).or_default().push(CaseMessage {
            id: row.id,
            author_id: row.author_id,
            author_type: parse_text(&what, &row.author_type, AuthorType::parse)?,
            body: row.body,
            internal: row.internal,
            created_at: row.created_at,
        });
    }
    Ok(by_case)
}

/// Which cases a listing wants; `None` and empty mean "any".
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub order_id: Option<Uuid>,
    pub customer_id: Option<String>,
    pub statuses: Vec<CaseStatus>,
    pub assignee_id: Option<String>,
    pub kind: Option<CaseKind>,
}

/// Where the previous page ended: open cases by their next deadline, then resolved ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseCursor {
    pub resolved: bool,
    pub next_due_at: DateTime<Utc>,
    pub id: Uuid,
}

impl CaseCursor {
    pub fn after(case: &Case) -> Self {
        Self {
            resolved: case.status == CaseStatus::Resolved,
            next_due_at: case.next_due_at(),
            id: case.id,
        }
    }
}

/// Up to `limit` cases after `after`, earliest deadline first, with their conversations.
pub async fn list(
    conn: &mut PgConnection,
    filter: &CaseFilter,
    after: Option<CaseCursor>,
    limit: i64,
) -> Result<Vec<Case>, StoreError> {
    let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM cases
         WHERE ($1::uuid IS NULL OR order_id = $1) AND ($2::text IS NULL OR customer_id = $2)
           AND (cardinality($3::text[]) = 0 OR status = ANY($3))
           AND ($4::text IS NULL OR assignee_id = $4) AND ($5::text IS NULL OR kind = $5)
           AND ($6::boolean IS NULL
                OR ((status = 'RESOLVED'), next_due_at, id) > ($6, $7::timestamptz, $8::uuid))
         ORDER BY (status = 'RESOLVED'), next_due_at, id LIMIT $9"
    ))
    .bind(filter.order_id)
    .bind(filter.customer_id.as_deref())
    .bind(statuses)
    .bind(filter.assignee_id.as_deref())
    .bind(filter.kind.map(CaseKind::as_str))
    .bind(after.map(|c| c.resolved))
    .bind(after.map(|c| c.next_due_at))
    .bind(after.map(|c| c.id))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut cases = rows
        .into_iter()
        .map(Case::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<Uuid> = cases.iter().map(|c| c.id).collect();
    let mut messages = messages(conn, &ids).await?;
    for case in &mut cases {
        case.messages = messages.remove(&case.id).unwrap_or_default();
    }
    Ok(cases)
}
