//! Personal data in feedback, pseudonymised when orders erases a customer
//! (`CustomerDataErased`, through `messaging::privacy`): the contact kept per delivered order,
//! reviews' display names, and any name, e-mail, phone or address line typed into surveys,
//! reviews, replies, cases and case messages; and the outbox's payloads. Scores, ratings,
//! statuses and refund amounts stay, so the feedback figures do not move.

use messaging::privacy::PersonalData;

pub const PERSONAL_DATA: PersonalData = PersonalData {
    sources: &[
        "SELECT customer FROM known_orders WHERE order_id::text = ANY($1) AND customer IS NOT NULL",
        "SELECT jsonb_build_object('display_name', display_name) FROM reviews
         WHERE order_id::text = ANY($1) OR ($2 <> '' AND customer_id = $2)",
    ],
    tables: &[
        ("known_orders", "order_id::text = ANY($1)"),
        (
            "surveys",
            "order_id::text = ANY($1) OR ($2 <> '' AND customer_id = $2)",
        ),
        (
            "reviews",
            "order_id::text = ANY($1) OR ($2 <> '' AND customer_id = $2)",
        ),
        (
            "review_replies",
            "review_id IN (SELECT id FROM reviews
                 WHERE order_id::text = ANY($1) OR ($2 <> '' AND customer_id = $2))",
        ),
        (
            "cases",
            "order_id::text = ANY($1) OR ($2 <> '' AND customer_id = $2)",
        ),
        (
            "case_messages",
            "case_id IN (SELECT id FROM cases
                 WHERE order_id::text = ANY($1) OR ($2 <> '' AND customer_id = $2))",
        ),
    ],
};
