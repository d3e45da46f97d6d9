//! `installment_plans` and their `installments`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub status: String,
    pub count: i32,
    pub currency: String,
    pub total_minor: i64,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstallmentRow {
    pub plan_id: Uuid,
    pub number: i32,
    pub amount_minor: i64,
    pub due_at: DateTime<Utc>,
    pub status: String,
    pub captured_at: Option<DateTime<Utc>>,
    pub transaction_id: Option<Uuid>,
    pub failed_attempts: i32,
}

pub async fn insert(
    conn: &mut PgConnection,
    plan: &PlanRow,
    installments: &[InstallmentRow],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO installment_plans (id, payment_id, order_id, status, count, currency,
             total_minor, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(plan.id)
    .bind(plan.payment_id)
    .bind(plan.order_id)
    .bind(&plan.status)
    .bind(plan.count)
    .bind(&plan.currency)
    .bind(plan.total_minor)
    .bind(plan.created_at)
    .execute(&mut *conn)
    .await?;
    for i in installments {
        sqlx::query(
            "INSERT INTO installments (plan_id, number, amount_minor, due_at, status)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(i.plan_id)
        .bind(i.number)
        .bind(i.amount_minor)
        .bind(i.due_at)
        .bind(&i.status)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

const PLAN_COLUMNS: &str =
    "id, payment_id, order_id, status, count, currency, total_minor, created_at, closed_at";

/// By plan id, or (when `by_order`) by order id.
pub async fn get(
    conn: &mut PgConnection,
    id: Uuid,
    by_order: bool,
) -> Result<Option<PlanRow>, sqlx::Error> {
    let column = if by_order { "order_id" } else { "id" };
    sqlx::query_as(&format!(
        "SELECT {PLAN_COLUMNS} FROM installment_plans WHERE {column} = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn for_payment(
    conn: &mut PgConnection,
    payment_id: Uuid,
) -> Result<Option<PlanRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PLAN_COLUMNS} FROM installment_plans WHERE payment_id = $1"
    ))
    .bind(payment_id)
    .fetch_optional(conn)
    .await
}

pub async fn installments(
    conn: &mut PgConnection,
    plan_id: Uuid,
) -> Result<Vec<InstallmentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT plan_id, number, amount_minor, due_at, status, captured_at, transaction_id,
             failed_attempts
         FROM installments WHERE plan_id = $1 ORDER BY number",
    )
    .bind(plan_id)
    .fetch_all(conn)
    .await
}

pub async fn set_status(
    conn: &mut PgConnection,
    plan_id: Uuid,
    status: &str,
    closed_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE installment_plans SET status = $2, closed_at = $3 WHERE id = $1")
        .bind(plan_id)
        .bind(status)
        .bind(closed_at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn update_installment(
    conn: &mut PgConnection,
    i: &InstallmentRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE installments SET status = $3, captured_at = $4, transaction_id = $5,
             failed_attempts = $6
         WHERE plan_id = $1 AND number = $2",
    )
    .bind(i.plan_id)
    .bind(i.number)
    .bind(&i.status)
    .bind(i.captured_at)
    .bind(i.transaction_id)
    .bind(i.failed_attempts)
    .execute(conn)
    .await?;
    Ok(())
}

/// Cancels every installment not yet captured.
pub async fn cancel_open(conn: &mut PgConnection, plan_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE installments SET status = 'CANCELLED'
         WHERE plan_id = $1 AND status IN ('SCHEDULED', 'OVERDUE')",
    )
    .bind(plan_id)
    .execute(conn)
    .await?;
    Ok(())
}
