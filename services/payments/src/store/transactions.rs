//! `payment_transactions` (every money movement, unique per payment and natural key) and the
//! `ledger_entries` journal written with each of them.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ledger::Leg;
use crate::domain::payment::TransactionKind;

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct TransactionRow {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub kind: String,
    pub status: String,
    pub amount_minor: i64,
    pub provider_reference: String,
    pub shipment_id: String,
    pub installment_number: i32,
    pub return_id: String,
    pub case_id: String,
    pub reason: String,
    pub failure_message: String,
    pub request_id: String,
    pub created_at: DateTime<Utc>,
}

pub const SUCCEEDED: &str = "SUCCEEDED";
pub const FAILED: &str = "FAILED";

impl TransactionRow {
    pub fn new(
        payment_id: Uuid,
        kind: TransactionKind,
        amount_minor: i64,
        request_id: String,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            payment_id,
            kind: kind.as_str().to_owned(),
            status: SUCCEEDED.to_owned(),
            amount_minor,
            request_id,
            created_at: now,
            ..Self::default()
        }
    }

    pub fn kind(&self) -> Option<TransactionKind> {
        TransactionKind::parse(&self.kind)
    }
}

const COLUMNS: &str = "id, payment_id, kind, status, amount_minor, provider_reference, shipment_id,
    installment_number, return_id, case_id, reason, failure_message, request_id, created_at";

/// The movement already recorded under this natural key, if any.
pub async fn find(
    conn: &mut PgConnection,
    payment_id: Uuid,
    request_id: &str,
) -> Result<Option<TransactionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payment_transactions WHERE payment_id = $1 AND request_id = $2"
    ))
    .bind(payment_id)
    .bind(request_id)
    .fetch_optional(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<TransactionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payment_transactions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Records a movement and its journal entry (no legs for one that moved no money).
pub async fn insert(
    conn: &mut PgConnection,
    t: &TransactionRow,
    currency: &str,
    legs: &[Leg],
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO payment_transactions ({COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(t.id)
    .bind(t.payment_id)
    .bind(&t.kind)
    .bind(&t.status)
    .bind(t.amount_minor)
    .bind(&t.provider_reference)
    .bind(&t.shipment_id)
    .bind(t.installment_number)
    .bind(&t.return_id)
    .bind(&t.case_id)
    .bind(&t.reason)
    .bind(&t.failure_message)
    .bind(&t.request_id)
    .bind(t.created_at)
    .execute(&mut *conn)
    .await?;
    for leg in legs {
        sqlx::query(
            "INSERT INTO ledger_entries (payment_id, transaction_id, account, amount_minor,
                 currency, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(t.payment_id)
        .bind(t.id)
        .bind(leg.account.as_str())
        .bind(leg.amount)
        .bind(currency)
        .bind(t.created_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Every movement of a payment, oldest first.
pub async fn list(
    conn: &mut PgConnection,
    payment_id: Uuid,
) -> Result<Vec<TransactionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payment_transactions WHERE payment_id = $1
         ORDER BY created_at, id"
    ))
    .bind(payment_id)
    .fetch_all(conn)
    .await
}

/// Per provider hold: what was captured on it and not yet refunded, oldest first — where a
/// refund can go back to.
pub async fn refundable_by_reference(
    conn: &mut PgConnection,
    payment_id: Uuid,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.provider_reference,
                (sum(c.amount_minor) - coalesce((
                    SELECT sum(a.amount_minor) FROM refund_allocations a
                    JOIN payment_transactions r ON r.id = a.transaction_id
                    WHERE r.payment_id = $1 AND a.provider_reference = c.provider_reference), 0)
                )::bigint
         FROM payment_transactions c
         WHERE c.payment_id = $1 AND c.kind = 'CAPTURE' AND c.status = 'SUCCEEDED'
           AND c.provider_reference <> ''
         GROUP BY c.provider_reference
         ORDER BY min(c.created_at)",
    )
    .bind(payment_id)
    .fetch_all(conn)
    .await
}

/// Records which hold part of a refund went back to.
pub async fn allocate_refund(
    conn: &mut PgConnection,
    transaction_id: Uuid,
    provider_reference: &str,
    amount_minor: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refund_allocations (transaction_id, provider_reference, amount_minor)
         VALUES ($1, $2, $3)",
    )
    .bind(transaction_id)
    .bind(provider_reference)
    .bind(amount_minor)
    .execute(conn)
    .await?;
    Ok(())
}

/// The ledger's balance of each account of a payment.
pub async fn balances(
    conn: &mut PgConnection,
    payment_id: Uuid,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT account, sum(amount_minor)::bigint FROM ledger_entries WHERE payment_id = $1
         GROUP BY account ORDER BY account",
    )
    .bind(payment_id)
    .fetch_all(conn)
    .await
}
