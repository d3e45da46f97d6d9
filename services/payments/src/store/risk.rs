//! The `risk_assessments` table.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::risk::{Assessment, Reason, USUAL_OVER, Velocity};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredAssessment {
    pub order_id: Uuid,
    pub score: i32,
    pub reasons: Json<Vec<Reason>>,
    pub assessed_at: DateTime<Utc>,
}

/// The fingerprints of an order that velocity is counted by (see the migration).
#[derive(Debug, Clone, Default)]
pub struct Signals {
    pub customer_id: String,
    pub token_fingerprint: Option<String>,
    pub address_keys: Vec<String>,
    pub phone_keys: Vec<String>,
}

/// What the customer did before: their orders (counted up to the cap) and their usual total
/// in `currency`.
pub struct Past {
    pub orders: i64,
    pub usual_total_minor: Option<i64>,
}

/// Other orders in the hour before `placed_at` sharing each signal, and the customer's past;
/// `order_id` excluded. Every count stops at `cap` rows and the usual total reads the latest
/// [`USUAL_OVER`] orders, so one assessment reads a bounded number of rows however many
/// orders share a key.
pub async fn history(
    conn: &mut PgConnection,
    signals: &Signals,
    order_id: Uuid,
    placed_at: DateTime<Utc>,
    currency: &str,
    cap: i64,
) -> Result<(Velocity, Past), sqlx::Error> {
    type Row = (i64, i64, i64, i64, i64, Option<i64>);
    let (customer, token, address, phone, ever, usual): Row = sqlx::query_as(
        "WITH hour AS NOT MATERIALIZED (
             SELECT order_id, customer_id, token_fingerprint, address_keys, phone_keys
             FROM risk_assessments
             WHERE placed_at > $2 - interval '1 hour' AND placed_at <= $2 AND order_id <> $1)
         SELECT
             (SELECT count(*) FROM (SELECT 1 FROM hour WHERE customer_id = $3 LIMIT $8) c),
             (SELECT count(*) FROM (SELECT 1 FROM hour WHERE token_fingerprint = $4 LIMIT $8) t),
             (SELECT count(*) FROM (SELECT 1 FROM hour WHERE address_keys && $5 LIMIT $8) a),
             (SELECT count(*) FROM (SELECT 1 FROM hour WHERE phone_keys && $6 LIMIT $8) p),
             (SELECT count(*) FROM (SELECT 1 FROM risk_assessments
                                    WHERE customer_id = $3 AND order_id <> $1 LIMIT $8) e),
             (SELECT floor(avg(total_minor))::bigint FROM (
                  SELECT total_minor FROM risk_assessments
                  WHERE customer_id = $3 AND order_id <> $1 AND currency = $7 AND placed_at <= $2
                  ORDER BY placed_at DESC LIMIT $9) u)",
    )
    .bind(order_id)
    .bind(placed_at)
    .bind(&signals.customer_id)
    .bind(signals.token_fingerprint.as_deref())
    .bind(&signals.address_keys)
    .bind(&signals.phone_keys)
    .bind(currency)
    .bind(cap)
    .bind(USUAL_OVER)
    .fetch_one(conn)
    .await?;
    Ok((
        Velocity {
            customer,
            token,
            address,
            phone,
        },
        Past {
            orders: ever,
            usual_total_minor: usual,
        },
    ))
}

/// Records an assessment; false if the order was assessed already (the first one stands).
pub async fn insert(
    conn: &mut PgConnection,
    order_id: Uuid,
    signals: &Signals,
    total: (i64, &str),
    assessment: &Assessment,
    placed_at: DateTime<Utc>,
    assessed_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO risk_assessments (order_id, customer_id, score, reasons, placed_at,
             assessed_at, token_fingerprint, address_keys, phone_keys, total_minor, currency)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(&signals.customer_id)
    .bind(assessment.score)
    .bind(Json(&assessment.reasons))
    .bind(placed_at)
    .bind(assessed_at)
    .bind(signals.token_fingerprint.as_deref())
    .bind(&signals.address_keys)
    .bind(&signals.phone_keys)
    .bind(total.0)
    .bind(total.1)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<StoredAssessment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT order_id, score, reasons, assessed_at FROM risk_assessments WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await
}
