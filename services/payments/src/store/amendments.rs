//! `payment_amendments`: the outcome of each amendment of a payment, once per (payment,
//! update, compensation), so a repeated request is answered the same and changes nothing.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

pub const AMENDED: &str = "AMENDED";
pub const DECLINED: &str = "DECLINED";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AmendmentRow {
    pub payment_id: Uuid,
    pub update_id: String,
    pub compensation: bool,
    pub outcome: String,
    pub currency: String,
    pub amount_minor: i64,
    pub previous_amount_minor: i64,
    pub decline_reason: Option<String>,
    pub message: String,
    pub provider_reference: String,
    pub transaction_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "payment_id, update_id, compensation, outcome, currency, amount_minor,
    previous_amount_minor, decline_reason, message, provider_reference, transaction_id,
    created_at";

pub async fn find(
    conn: &mut PgConnection,
    payment_id: Uuid,
    update_id: &str,
    compensation: bool,
) -> Result<Option<AmendmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payment_amendments
         WHERE payment_id = $1 AND update_id = $2 AND compensation = $3"
    ))
    .bind(payment_id)
    .bind(update_id)
    .bind(compensation)
    .fetch_optional(conn)
    .await
}

/// Records an outcome; the caller holds the payment's lock, so no other one races it.
pub async fn insert(conn: &mut PgConnection, a: &AmendmentRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO payment_amendments ({COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(a.payment_id)
    .bind(&a.update_id)
    .bind(a.compensation)
    .bind(&a.outcome)
    .bind(&a.currency)
    .bind(a.amount_minor)
    .bind(a.previous_amount_minor)
    .bind(&a.decline_reason)
    .bind(&a.message)
    .bind(&a.provider_reference)
    .bind(a.transaction_id)
    .bind(a.created_at)
    .execute(conn)
    .await?;
    Ok(())
}
