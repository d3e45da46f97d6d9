//! Personal data in notifications, pseudonymised when orders erases a customer
//! (`CustomerDataErased`, through `messaging::privacy`): the contact kept per order (and the
//! addresses and replaced contacts its updates' messages named), the customer's preferences (by customer id, or by the e-mail's fingerprint for a guest), every
//! notification's recipient and rendered subject and body, and the outbox's payloads. The
//! delivery log itself (what was sent when, its status) stays.

use messaging::privacy::PersonalData;

/// The customer's preferences: by id for a customer erasure, by the e-mail's fingerprint
/// (`$4`, as `messaging::privacy::email_fingerprint` computes it) otherwise.
const PREFERENCES: &str = "($2 <> '' AND customer_id = $2)
    OR ($4 <> '' AND 'fp_' || left(encode(sha256(convert_to(lower(btrim(email)), 'UTF8')), 'hex'), 32) = $4)";

pub const PERSONAL_DATA: PersonalData = PersonalData {
    sources: &[
        "SELECT jsonb_build_object('name', name, 'email', email, 'phone', phone)
         FROM order_contacts WHERE order_id = ANY($1)",
        "SELECT details FROM order_update_contacts WHERE order_id = ANY($1)",
        "SELECT jsonb_build_object('email', email, 'phone', phone, 'push_token', push_token)
         FROM preferences WHERE ($2 <> '' AND customer_id = $2)
            OR ($4 <> '' AND 'fp_' || left(encode(sha256(convert_to(lower(btrim(email)), 'UTF8')), 'hex'), 32) = $4)",
    ],
    tables: &[
        ("order_contacts", "order_id = ANY($1)"),
        ("order_update_contacts", "order_id = ANY($1)"),
        ("preferences", PREFERENCES),
        (
            "notifications",
            "order_id = ANY($1) OR ($2 <> '' AND customer_id = $2) OR recipient = ANY($3)",
        ),
        ("shipments", "order_id = ANY($1)"),
    ],
};
