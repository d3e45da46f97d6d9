//! Personal data in shipping, pseudonymised when orders erases a customer
//! (`CustomerDataErased`, through `messaging::privacy`): the recipient's address and phone on
//! each shipment (and the customer's address a return is collected from), who signed for it,
//! the carriers' scan descriptions that may repeat them, and the outbox's payloads. Tracking
//! numbers, statuses, weights and cash collected are left alone.

use messaging::privacy::PersonalData;

pub const PERSONAL_DATA: PersonalData = PersonalData {
    sources: &[
        "SELECT ship_to FROM shipments WHERE order_id = ANY($1)",
        "SELECT ship_from FROM shipments WHERE order_id = ANY($1) AND direction = 'RETURN'",
        "SELECT jsonb_build_object('received_by', received_by) FROM shipments
         WHERE order_id = ANY($1) AND received_by <> ''",
    ],
    tables: &[
        ("shipments", "order_id = ANY($1)"),
        (
            "tracking_events",
            "shipment_id IN (SELECT id FROM shipments WHERE order_id = ANY($1))",
        ),
    ],
};
