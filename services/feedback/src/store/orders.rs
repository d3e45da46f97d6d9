//! `known_orders` and `delivered_lines`: what orders' events told feedback about deliveries
//! and acceptances — who received which SKU (review eligibility), and whose order it is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

/// The customer's contact as given at checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredLine {
    pub line_id: String,
    pub sku: String,
    /// Units that reached the customer.
    pub quantity: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub order_id: Uuid,
    pub order_number: String,
    pub customer_id: String,
    pub contact: Contact,
    pub delivered_at: DateTime<Utc>,
    pub lines: Vec<DeliveredLine>,
}

/// Records a delivery; true the first time this order is reported delivered.
pub async fn record_delivery(
    conn: &mut PgConnection,
    delivery: &Delivery,
) -> Result<bool, sqlx::Error> {
    let first = sqlx::query(
        "INSERT INTO known_orders (order_id, order_number, customer_id, customer, delivered_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (order_id) DO UPDATE
         SET order_number = EXCLUDED.order_number, customer = EXCLUDED.customer,
             delivered_at = EXCLUDED.delivered_at
         WHERE known_orders.delivered_at IS NULL",
    )
    .bind(delivery.order_id)
    .bind(&delivery.order_number)
    .bind(&delivery.customer_id)
    .bind(Json(&delivery.contact))
    .bind(delivery.delivered_at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    for line in &delivery.lines {
        sqlx::query(
            "INSERT INTO delivered_lines (order_id, line_id, sku, quantity) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(delivery.order_id)
        .bind(&line.line_id)
        .bind(&line.sku)
        .bind(line.quantity)
        .execute(&mut *conn)
        .await?;
    }
    Ok(first)
}

/// Records an acceptance (which may arrive before the delivery); true the first time.
pub async fn record_acceptance(
    conn: &mut PgConnection,
    order_id: Uuid,
    order_number: &str,
    customer_id: &str,
    accepted_at: DateTime<Utc>,
    auto_accepted: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO known_orders (order_id, order_number, customer_id, accepted_at, auto_accepted)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (order_id) DO UPDATE
         SET accepted_at = EXCLUDED.accepted_at, auto_accepted = EXCLUDED.auto_accepted
         WHERE known_orders.accepted_at IS NULL",
    )
    .bind(order_id)
    .bind(order_number)
    .bind(customer_id)
    .bind(accepted_at)
    .bind(auto_accepted)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The customer of an order feedback has heard of.
pub async fn customer_of(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT customer_id FROM known_orders WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(conn)
        .await
}

/// Whether `customer_id` received `sku` in the delivered order `order_id`.
pub async fn received_sku(
    conn: &mut PgConnection,
    order_id: Uuid,
    customer_id: &str,
    sku: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM known_orders o JOIN delivered_lines l ON l.order_id = o.order_id
             WHERE o.order_id = $1 AND o.customer_id = $2 AND o.delivered_at IS NOT NULL
               AND l.sku = $3 AND l.quantity > 0)",
    )
    .bind(order_id)
    .bind(customer_id)
    .bind(sku)
    .fetch_one(conn)
    .await
}

/// The contact and delivered SKUs of a delivered order (for the survey invitation).
pub async fn invitation_details(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<(Contact, Vec<String>), sqlx::Error> {
    let contact: Option<Option<Json<Contact>>> =
        sqlx::query_scalar("SELECT customer FROM known_orders WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&mut *conn)
            .await?;
    let skus: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT sku FROM delivered_lines WHERE order_id = $1 AND quantity > 0 ORDER BY sku",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    Ok((contact.flatten().map(|c| c.0).unwrap_or_default(), skus))
}
