//! The `payments` table: one row per order, with its balances.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::money::{Currency, Money};
use crate::domain::payment::{Balances, DeclineReason, Method, Status};

/// What bank transfer instructions say (stored as JSON on the payment).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Instructions {
    pub beneficiary_name: String,
    pub iban: String,
    pub bic: String,
    pub reference: String,
    pub pay_by: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub order_number: String,
    pub customer_id: String,
    pub method: String,
    pub status: String,
    pub currency: String,
    pub amount_minor: i64,
    pub authorized_minor: i64,
    pub authorized_total_minor: i64,
    pub captured_minor: i64,
    pub voided_minor: i64,
    pub refunded_minor: i64,
    pub written_off_minor: i64,
    pub voided_in_amount_minor: i64,
    pub installment_count: i32,
    /// The provider token; never leaves the service.
    pub token: Option<String>,
    pub provider: String,
    pub provider_reference: String,
    pub authorization_expires_at: Option<DateTime<Utc>>,
    pub reauthorizations: i32,
    pub authorization_flag: Option<String>,
    pub bank_transfer: Option<Json<Instructions>>,
    pub transfer_reference: Option<String>,
    pub settled_at: Option<DateTime<Utc>>,
    pub decline_reason: Option<String>,
    pub decline_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PaymentRow {
    pub fn method(&self) -> Method {
        // Only Method::as_str values are ever written.
        Method::parse(&self.method).unwrap_or(Method::Card)
    }

    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Pending)
    }

    pub fn decline_reason(&self) -> Option<DeclineReason> {
        self.decline_reason
            .as_deref()
            .and_then(DeclineReason::parse)
    }

    pub fn currency(&self) -> Currency {
        // Only validated currency codes are ever written.
        Currency::parse(&self.currency).unwrap_or(Currency::UNKNOWN)
    }

    pub fn money(&self, minor: i64) -> Money {
        Money::new(self.currency(), minor)
    }

    pub fn balances(&self) -> Balances {
        Balances {
            amount: self.amount_minor,
            authorized: self.authorized_minor,
            authorized_total: self.authorized_total_minor,
            captured: self.captured_minor,
            voided: self.voided_minor,
            refunded: self.refunded_minor,
            written_off: self.written_off_minor,
            voided_in_amount: self.voided_in_amount_minor,
        }
    }

    pub fn set_balances(&mut self, b: Balances) {
        self.amount_minor = b.amount;
        self.authorized_minor = b.authorized;
        self.authorized_total_minor = b.authorized_total;
        self.captured_minor = b.captured;
        self.voided_minor = b.voided;
        self.refunded_minor = b.refunded;
        self.written_off_minor = b.written_off;
        self.voided_in_amount_minor = b.voided_in_amount;
        if !matches!(self.status(), Status::Pending | Status::Declined) {
            self.status = b.status().as_str().to_owned();
        }
    }
}

const COLUMNS: &str = "id, order_id, order_number, customer_id, method, status, currency,
    amount_minor, authorized_minor, authorized_total_minor, captured_minor, voided_minor,
    refunded_minor, written_off_minor, voided_in_amount_minor, installment_count, token, provider, provider_reference,
    authorization_expires_at, reauthorizations, authorization_flag, bank_transfer,
    transfer_reference, settled_at, decline_reason, decline_message, created_at, updated_at";

/// Inserts a new payment; false if the order already has one (the first stands).
pub async fn insert(conn: &mut PgConnection, p: &PaymentRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO payments (id, order_id, order_number, customer_id, method, status, currency,
             amount_minor, installment_count, token, provider, transfer_reference, bank_transfer,
             created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(p.id)
    .bind(p.order_id)
    .bind(&p.order_number)
    .bind(&p.customer_id)
    .bind(&p.method)
    .bind(&p.status)
    .bind(&p.currency)
    .bind(p.amount_minor)
    .bind(p.installment_count)
    .bind(&p.token)
    .bind(&p.provider)
    .bind(&p.transfer_reference)
    .bind(&p.bank_transfer)
    .bind(p.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes back everything that changes after creation (the amount changes by amendment).
pub async fn update(conn: &mut PgConnection, p: &PaymentRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET status = $2, authorized_minor = $3, authorized_total_minor = $4,
             captured_minor = $5, voided_minor = $6, refunded_minor = $7, written_off_minor = $8,
             provider_reference = $9, authorization_expires_at = $10, reauthorizations = $11,
             authorization_flag = $12, settled_at = $13, decline_reason = $14,
             decline_message = $15, updated_at = $16, amount_minor = $17,
             voided_in_amount_minor = $18
         WHERE id = $1",
    )
    .bind(p.id)
    .bind(&p.status)
    .bind(p.authorized_minor)
    .bind(p.authorized_total_minor)
    .bind(p.captured_minor)
    .bind(p.voided_minor)
    .bind(p.refunded_minor)
    .bind(p.written_off_minor)
    .bind(&p.provider_reference)
    .bind(p.authorization_expires_at)
    .bind(p.reauthorizations)
    .bind(&p.authorization_flag)
    .bind(p.settled_at)
    .bind(&p.decline_reason)
    .bind(&p.decline_message)
    .bind(p.updated_at)
    .bind(p.amount_minor)
    .bind(p.voided_in_amount_minor)
    .execute(conn)
    .await?;
    Ok(())
}

/// Which payment to read.
#[derive(Debug, Clone)]
pub enum Key<'a> {
    Id(Uuid),
    Order(Uuid),
    TransferReference(&'a str),
}

/// Reads one payment; with `lock`, holds it (`FOR UPDATE`) until the transaction ends, so money
/// moves on one payment one at a time.
pub async fn get(
    conn: &mut PgConnection,
    key: Key<'_>,
    lock: bool,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    let column = match key {
        Key::Id(_) => "id",
        Key::Order(_) => "order_id",
        Key::TransferReference(_) => "transfer_reference",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM payments WHERE {column} = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let query = sqlx::query_as::<_, PaymentRow>(&sql);
    let query = match key {
        Key::Id(id) | Key::Order(id) => query.bind(id),
        Key::TransferReference(r) => query.bind(r.to_owned()),
    };
    query.fetch_optional(conn).await
}

/// Filters of a list; `after` is the (created_at, id) of the last row of the previous page.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub order_id: Option<Uuid>,
    pub statuses: Vec<String>,
    pub method: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// Newest first; `limit` rows at most.
pub async fn list(
    conn: &mut PgConnection,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<PaymentRow>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM payments WHERE true"));
    if let Some(order_id) = filter.order_id {
        q.push(" AND order_id = ").push_bind(order_id);
    }
    if !filter.statuses.is_empty() {
        q.push(" AND status = ANY(")
            .push_bind(filter.statuses.clone())
            .push(")");
    }
    if let Some(method) = &filter.method {
        q.push(" AND method = ").push_bind(method.clone());
    }
    if let Some(t) = filter.created_after {
        q.push(" AND created_at >= ").push_bind(t);
    }
    if let Some(t) = filter.created_before {
        q.push(" AND created_at < ").push_bind(t);
    }
    if let Some((at, id)) = filter.after {
        q.push(" AND (created_at, id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(limit);
    q.build_query_as().fetch_all(conn).await
}
