//! Personal data in orders, the owner of customer data: erasure requests and the retention job.
//!
//! An erasure (from `PrivacyService.EraseCustomerData`, or from the retention job for orders
//! finished longer ago than `OC_ORDERS_PERSONAL_DATA_RETENTION_DAYS`) is applied in one
//! transaction: the orders it covers are found (by customer id, or by the e-mail or phone given at
//! checkout — guests have no customer id), their names, contacts and addresses are replaced with
//! pseudonyms wherever orders keeps them ([`PERSONAL_DATA`]: the order's customer and addresses,
//! the invoice request, timeline notes, problem reports, returns, discount redemptions, invoices
//! and credit notes, order updates, and the payloads of its own outbox, published or not), the request is recorded in `erasure_requests`, and
//! `CustomerDataErased` is written to the outbox for the other services. The event carries order
//! ids, the customer id and fingerprints, never the e-mail or phone (see `messaging::privacy`).
//!
//! Totals, lines, payments, quantities and statuses are not touched: accounting stays whole.
//! Only finished orders (completed, cancelled, rejected) may be erased: an order still moving
//! needs its address to arrive.

use std::time::Duration;

use chrono::{DateTime, Utc};
use contracts::orders::{CustomerDataErased, ErasureTrigger};
use messaging::Outbox;
use messaging::privacy::{self, Erasure, PersonalData};
use runtime::config::{ConfigError, Env};
use runtime::{Clock, Host};
use sha2::{Digest as _, Sha256};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Where orders keeps personal data (binds: see `messaging::privacy::PersonalData`).
pub const PERSONAL_DATA: PersonalData = PersonalData {
    sources: &[
        "SELECT customer FROM orders WHERE id::text = ANY($1)",
        "SELECT shipping_address FROM orders WHERE id::text = ANY($1) AND shipping_address IS NOT NULL",
        "SELECT billing_address FROM orders WHERE id::text = ANY($1) AND billing_address IS NOT NULL",
        "SELECT pickup_address FROM order_returns WHERE order_id::text = ANY($1) AND pickup_address IS NOT NULL",
        "SELECT jsonb_build_object('email', customer_email) FROM discount_redemptions WHERE order_id::text = ANY($1)",
        // The invoice request given at checkout: its e-mail, and the buyer's title and tax id
        // (a person's, on a personal invoice), replaced like names.
        "SELECT jsonb_build_object('email', buyer_invoice_email, 'name', buyer_invoice_title,
             'recipient', buyer_tax_id) FROM orders WHERE id::text = ANY($1)",
        // Contacts and addresses updates set and replaced: the ones no longer on the order live
        // on in earlier events and in other services' copies.
        "SELECT v.value FROM order_updates,
             LATERAL (VALUES (applied->'customer'), (applied->'address'),
                             (replaced->'customer'), (replaced->'address')) AS v (value)
         WHERE order_id::text = ANY($1) AND jsonb_typeof(v.value) = 'object'",
    ],
    tables: &[
        ("orders", "id::text = ANY($1)"),
        ("order_timeline", "order_id::text = ANY($1)"),
        ("order_problems", "order_id::text = ANY($1)"),
        ("order_returns", "order_id::text = ANY($1)"),
        (
            "order_return_lines",
            "return_id IN (SELECT id FROM order_returns WHERE order_id::text = ANY($1))",
        ),
        ("order_shipments", "order_id::text = ANY($1)"),
        ("discount_redemptions", "order_id::text = ANY($1)"),
        // Invoices and credit notes keep their numbers, lines and amounts (legal records); their
        // buyer's name, address, e-mail, title and tax id are pseudonymised.
        ("invoices", "order_id::text = ANY($1)"),
        ("order_updates", "order_id::text = ANY($1)"),
    ],
};

const FINISHED: [&str; 3] = ["COMPLETED", "CANCELLED", "REJECTED"];

/// `OC_ORDERS_PERSONAL_DATA_RETENTION_DAYS` (off when unset or 0): finished orders' personal
/// data is pseudonymised this long after they last changed; `OC_ORDERS_RETENTION_POLL_SECS`
/// (3600, clock time) is how often the job looks.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub after: Option<Duration>,
    pub poll: Duration,
}

impl Retention {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let number = |key: &str| -> Result<Option<f64>, ConfigError> {
            env.get(key)
                .map(|raw| {
                    raw.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|d| d.is_finite() && *d >= 0.0)
                        .ok_or_else(|| ConfigError {
                            var: key.to_owned(),
                            reason: format!("`{raw}` is not a non-negative number"),
                        })
                })
                .transpose()
        };
        let after = number("OC_ORDERS_PERSONAL_DATA_RETENTION_DAYS")?
            .filter(|d| *d > 0.0)
            .map(|d| Duration::from_secs_f64(d * 86_400.0));
        let poll = number("OC_ORDERS_RETENTION_POLL_SECS")?
            .filter(|s| *s > 0.0)
            .map_or(Duration::from_secs(3600), Duration::from_secs_f64);
        Ok(Self { after, poll })
    }
}

/// Who the erasure is for, as asked.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub customer_id: String,
    /// Lower-case.
    pub email: String,
    /// `+` and digits.
    pub phone: String,
}

/// A new erasure request.
#[derive(Debug, Clone)]
pub struct Request {
    pub request_id: String,
    pub trigger: ErasureTrigger,
    pub subject: Subject,
    /// Retention names its orders itself.
    pub order_ids: Vec<Uuid>,
    pub requested_by: String,
    pub reason: String,
}

impl Request {
    fn hash(&self) -> Vec<u8> {
        let mut sha = Sha256::new();
        for part in [
            self.subject.customer_id.as_str(),
            self.subject.email.as_str(),
            self.subject.phone.as_str(),
            self.reason.as_str(),
        ] {
            sha.update(part.as_bytes());
            sha.update([0]);
        }
        sha.finalize().to_vec()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ErasureRow {
    pub id: Uuid,
    pub request_id: String,
    pub trigger: String,
    pub customer_id: String,
    pub email_fingerprint: String,
    pub phone_fingerprint: String,
    pub order_ids: Vec<String>,
    pub requested_by: String,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    pub erased_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error("request_id {0} was used for another erasure request")]
    RequestIdReused(String),
    #[error("orders not finished yet: {0}")]
    OrdersOpen(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

const COLUMNS: &str = "id, request_id, trigger, customer_id, email_fingerprint, \
     phone_fingerprint, order_ids, requested_by, reason, requested_at, erased_at";

/// An erasure by its id or request id.
pub async fn get(conn: &mut PgConnection, id: &str) -> Result<Option<ErasureRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM erasure_requests WHERE id::text = $1 OR request_id = $1"
    ))
    .bind(id.trim())
    .fetch_optional(conn)
    .await
}

/// The orders of `subject`, with their status and number.
async fn orders_of(
    conn: &mut PgConnection,
    subject: &Subject,
) -> Result<Vec<(Uuid, String, String)>, sqlx::Error> {
    let digits = subject.phone.trim_start_matches('+');
    sqlx::query_as(
        "SELECT id, status, order_number FROM orders
         WHERE ($1 <> '' AND customer_id = $1)
            OR ($2 <> '' AND lower(customer->>'email') = $2)
            OR ($3 <> '' AND $3 IN (
                   regexp_replace(customer->>'phone', '[^0-9]', '', 'g'),
                   regexp_replace(COALESCE(shipping_address->>'phone', ''), '[^0-9]', '', 'g'),
                   regexp_replace(COALESCE(billing_address->>'phone', ''), '[^0-9]', '', 'g')))
            -- A contact or address an update replaced (or set, then replaced again).
            OR EXISTS (
                SELECT 1 FROM order_updates u,
                    LATERAL (VALUES (u.applied->'customer'), (u.replaced->'customer'),
                                    (u.applied->'address'), (u.replaced->'address')) AS v (c)
                WHERE u.order_id = orders.id AND jsonb_typeof(v.c) = 'object'
                  AND (($2 <> '' AND lower(v.c->>'email') = $2)
                       OR ($3 <> '' AND $3 = regexp_replace(COALESCE(v.c->>'phone', ''),
                                                           '[^0-9]', '', 'g'))))
         ORDER BY created_at",
    )
    .bind(&subject.customer_id)
    .bind(&subject.email)
    .bind(digits)
    .fetch_all(conn)
    .await
}

/// Applies `request` in the caller's transaction (see the module doc); the same request id
/// again returns the first erasure.
pub async fn erase(
    tx: &mut PgConnection,
    outbox: &Outbox,
    now: DateTime<Utc>,
    request: &Request,
) -> Result<ErasureRow, EraseError> {
    let hash = request.hash();
    // Concurrent requests with one id wait for each other here.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('erasure:' || $1))")
        .bind(&request.request_id)
        .execute(&mut *tx)
        .await?;
    let earlier: Option<(Vec<u8>,)> =
        sqlx::query_as("SELECT request_hash FROM erasure_requests WHERE request_id = $1")
            .bind(&request.request_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((earlier,)) = earlier {
        if earlier != hash {
            return Err(EraseError::RequestIdReused(request.request_id.clone()));
        }
        return get(tx, &request.request_id)
            .await?
            .ok_or_else(|| EraseError::Db(sqlx::Error::RowNotFound));
    }
    let order_ids: Vec<Uuid> = if request.order_ids.is_empty() {
        let found = orders_of(tx, &request.subject).await?;
        let open: Vec<String> = found
            .iter()
            .filter(|(_, status, _)| !FINISHED.contains(&status.as_str()))
            .map(|(_, status, number)| format!("{number} ({status})"))
            .collect();
        if !open.is_empty() {
            return Err(EraseError::OrdersOpen(open.join(", ")));
        }
        found.into_iter().map(|(id, _, _)| id).collect()
    } else {
        request.order_ids.clone()
    };
    let erasure = Erasure {
        id: Uuid::now_v7(),
        trigger: request.trigger,
        customer_id: request.subject.customer_id.clone(),
        order_ids: order_ids.iter().map(Uuid::to_string).collect(),
        email_fingerprint: if request.subject.email.is_empty() {
            String::new()
        } else {
            privacy::email_fingerprint(&request.subject.email)
        },
        phone_fingerprint: privacy::phone_fingerprint(&request.subject.phone),
    };
    // Orders' own rows go in this transaction, not through its own event: the caller learns at
    // once that they are gone.
    let (_, rows) = PERSONAL_DATA.apply(tx, &erasure).await?;
    sqlx::query("UPDATE orders SET personal_data_erased_at = $2 WHERE id = ANY($1)")
        .bind(&order_ids)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    privacy::record(tx, &erasure, rows).await?;
    let trigger = match request.trigger {
        ErasureTrigger::Retention => "RETENTION",
        _ => "REQUEST",
    };
    let row: ErasureRow = sqlx::query_as(&format!(
        "INSERT INTO erasure_requests (id, request_id, request_hash, trigger, customer_id,
             email_fingerprint, phone_fingerprint, order_ids, requested_by, reason, requested_at,
             erased_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         RETURNING {COLUMNS}"
    ))
    .bind(erasure.id)
    .bind(&request.request_id)
    .bind(&hash)
    .bind(trigger)
    .bind(&erasure.customer_id)
    .bind(&erasure.email_fingerprint)
    .bind(&erasure.phone_fingerprint)
    .bind(&erasure.order_ids)
    .bind(&request.requested_by)
    .bind(&request.reason)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    outbox
        .append(
            tx,
            &CustomerDataErased {
                erasure_id: erasure.id.to_string(),
                trigger: request.trigger.into(),
                customer_id: erasure.customer_id.clone(),
                order_ids: erasure.order_ids.clone(),
                email_fingerprint: erasure.email_fingerprint.clone(),
                phone_fingerprint: erasure.phone_fingerprint.clone(),
                erased_at: Some(contracts::time::to_timestamp(now)),
            },
        )
        .await?;
    tracing::info!(erasure_id = %erasure.id, orders = order_ids.len(), rows, "erasure recorded");
    Ok(row)
}

/// Up to this many orders per retention erasure (one event each).
const RETENTION_BATCH: i64 = 200;

/// One pass of the retention job: erases the personal data of finished orders last changed
/// before `now - after`, a batch per erasure; returns how many orders it erased.
pub async fn retention_pass(
    pool: &PgPool,
    outbox: &Outbox,
    now: DateTime<Utc>,
    after: Duration,
) -> Result<usize, EraseError> {
    let cutoff = now - chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let due: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT id FROM orders
             WHERE personal_data_erased_at IS NULL AND status = ANY($1) AND updated_at < $2
             ORDER BY updated_at
             LIMIT $3
             FOR UPDATE SKIP LOCKED",
        )
        .bind(FINISHED.map(str::to_owned).to_vec())
        .bind(cutoff)
        .bind(RETENTION_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if due.is_empty() {
            return Ok(total);
        }
        let count = due.len();
        let request = Request {
            request_id: format!("retention-{}", Uuid::now_v7()),
            trigger: ErasureTrigger::Retention,
            subject: Subject::default(),
            order_ids: due.into_iter().map(|(id,)| id).collect(),
            requested_by: "system".to_owned(),
            reason: format!(
                "retention: finished more than {} days ago",
                after.as_secs() / 86_400
            ),
        };
        erase(&mut tx, outbox, now, &request).await?;
        outbox.commit(tx).await?;
        total += count;
        if i64::try_from(count).unwrap_or(i64::MAX) < RETENTION_BATCH {
            return Ok(total);
        }
    }
}

/// Starts the retention job when a retention period is configured.
pub fn start_retention(host: &mut Host, outbox: Outbox, retention: Retention) {
    let Some(after) = retention.after else {
        return;
    };
    let (pool, clock): (PgPool, Clock) = (host.pool().clone(), host.clock().clone());
    host.spawn(
        "personal-data-retention",
        move |token: CancellationToken| async move {
            loop {
                match retention_pass(&pool, &outbox, clock.now(), after).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(orders = n, "retention: personal data pseudonymised"),
                    Err(err) => tracing::warn!(error = %err, "retention pass failed"),
                }
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(clock.real_duration(retention.poll)) => {}
                }
            }
        },
    );
}
