//! Personal data in payments, removed when orders erases a customer (`CustomerDataErased`,
//! through `messaging::privacy`). Payments never stores a name, an e-mail, a phone or an
//! address as typed; what it keeps of them are the one-way fingerprints of each assessed order's
//! addresses and phones (`risk_assessments.address_keys`, `phone_keys`), which still link the
//! orders of one person. Those are emptied for the erased orders, and the erased phone's
//! fingerprint is taken out of every other assessment. Scores, amounts, captures, refunds and
//! block lists (kept for fraud prevention) are left alone.

use messaging::privacy::{Eraser, Erasure};
use sqlx::PgConnection;

pub struct RiskKeys;

impl Eraser for RiskKeys {
    async fn erase(&self, conn: &mut PgConnection, erasure: &Erasure) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE risk_assessments
             SET address_keys = CASE WHEN order_id::text = ANY($1) THEN '{}' ELSE address_keys END,
                 phone_keys = CASE WHEN order_id::text = ANY($1) THEN '{}'
                                   ELSE array_remove(phone_keys, $2) END
             WHERE (order_id::text = ANY($1)
                    AND (cardinality(address_keys) > 0 OR cardinality(phone_keys) > 0))
                OR ($2 <> '' AND $2 = ANY(phone_keys))",
        )
        .bind(&erasure.order_ids)
        .bind(&erasure.phone_fingerprint)
        .execute(conn)
        .await?;
        Ok(done.rows_affected())
    }
}
