//! The customer's contact per order, kept from the events that carry it (placed, confirmed,
//! updated, cancelled, held, ready for pickup, return approved, survey invited) for those that
//! only name the order (payments, fulfillment, shipping). A later event with a field left empty
//! does not erase what an earlier one said.
//!
//! An order update may change the contact and the shipping address: what its message named
//! besides the current contact is kept by [`keep_update_details`], for erasure.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct OrderContact {
    pub order_id: String,
    pub order_number: String,
    pub customer_id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
}

pub async fn upsert(
    conn: &mut PgConnection,
    contact: &OrderContact,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_contacts
             (order_id, order_number, customer_id, name, email, phone, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (order_id) DO UPDATE SET
             order_number = COALESCE(NULLIF(EXCLUDED.order_number, ''), order_contacts.order_number),
             customer_id  = COALESCE(NULLIF(EXCLUDED.customer_id, ''), order_contacts.customer_id),
             name         = COALESCE(NULLIF(EXCLUDED.name, ''), order_contacts.name),
             email        = COALESCE(NULLIF(EXCLUDED.email, ''), order_contacts.email),
             phone        = COALESCE(NULLIF(EXCLUDED.phone, ''), order_contacts.phone),
             updated_at   = EXCLUDED.updated_at",
    )
    .bind(&contact.order_id)
    .bind(&contact.order_number)
    .bind(&contact.customer_id)
    .bind(&contact.name)
    .bind(&contact.email)
    .bind(&contact.phone)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(
    conn: &mut PgConnection,
    order_id: &str,
) -> Result<Option<OrderContact>, sqlx::Error> {
    sqlx::query_as(
        "SELECT order_id, order_number, customer_id, name, email, phone
         FROM order_contacts WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await
}

/// Keeps the contact an update replaced and the address it set (`details`, contact and
/// address objects), once per update event.
pub async fn keep_update_details(
    conn: &mut PgConnection,
    order_id: &str,
    source_event_id: &str,
    details: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_update_contacts (order_id, source_event_id, details, recorded_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(order_id)
    .bind(source_event_id)
    .bind(details)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
