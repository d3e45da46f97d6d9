//! Personal data in analytics, pseudonymised when orders erases a customer
//! (`CustomerDataErased`, through `messaging::privacy`).
//!
//! The read models hold no names, contacts or addresses — customer ids, countries, regions and
//! figures only — and neither does the Parquet archive, which is written from them; so neither
//! needs rewriting (nor the archive's manifest checksums). What does hold them is `raw_events`:
//! every event as it arrived, protobuf bodies of any type. The erased orders' `OrderPlaced` and
//! `OrderUpdated` bodies give the values (the customer, the shipping and billing addresses, and
//! whatever contact or address an update changed them to); every raw event whose body contains
//! one is then masked byte for byte with a pseudonym of the same length, so each body still
//! decodes as its type and a rebuild from raw events still adds up.

use contracts::common::{Address, Customer};
use contracts::orders::{OrderPlaced, OrderUpdated};
use messaging::privacy::{Eraser, Erasure, PersonalData, Scrub};
use prost::Message as _;
use sqlx::PgConnection;

const RAW_EVENTS: PersonalData = PersonalData {
    sources: &[],
    tables: &[(
        "raw_events",
        "EXISTS (SELECT 1 FROM unnest($3::text[]) s
             WHERE position(convert_to(s, 'UTF8') IN body) > 0)",
    )],
};

pub struct RawEvents;

impl Eraser for RawEvents {
    async fn erase(&self, conn: &mut PgConnection, erasure: &Erasure) -> Result<u64, sqlx::Error> {
        let bodies: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT type_name, body FROM raw_events
             WHERE type_name = ANY($2) AND aggregate_id = ANY($1)",
        )
        .bind(&erasure.order_ids)
        .bind([PLACED, UPDATED])
        .fetch_all(&mut *conn)
        .await?;
        let mut scrub = Scrub::new(erasure.id);
        for (type_name, body) in bodies {
            let (customer, addresses) = match type_name.as_str() {
                PLACED => match OrderPlaced::decode(body.as_slice()) {
                    Ok(e) => (e.customer, vec![e.shipping_address, e.billing_address]),
                    Err(_) => continue,
                },
                _ => match OrderUpdated::decode(body.as_slice()) {
                    Ok(e) => (e.customer, vec![e.shipping_address]),
                    Err(_) => continue,
                },
            };
            add(&mut scrub, customer.as_ref(), addresses.iter().flatten());
        }
        RAW_EVENTS.rewrite(conn, erasure, &scrub).await
    }
}

const PLACED: &str = "ordercycle.orders.v1.OrderPlaced";
const UPDATED: &str = "ordercycle.orders.v1.OrderUpdated";

/// Adds a customer's contact and the personal parts of their addresses to look for.
fn add<'a>(
    scrub: &mut Scrub,
    customer: Option<&Customer>,
    addresses: impl Iterator<Item = &'a Address>,
) {
    if let Some(c) = customer {
        scrub.add_contacts(&serde_json::json!({
            "name": c.name, "email": c.email, "phone": c.phone,
        }));
    }
    for a in addresses {
        scrub.add_contacts(&serde_json::json!({
            "recipient": a.recipient, "line1": a.line1, "line2": a.line2,
            "phone": a.phone,
        }));
    }
}
