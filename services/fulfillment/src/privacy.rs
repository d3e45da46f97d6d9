//! Personal data in fulfillment, pseudonymised when orders erases a customer
//! (`CustomerDataErased`, through `messaging::privacy`): the customer and ship-to address kept
//! with each fulfillment, everything printed from them (parcel labels, masked byte for byte so
//! the PDF or ZPL stays valid), notes on return receipts, and the outbox's payloads. Lines,
//! quantities, weights and warehouse figures are left alone.

use messaging::privacy::PersonalData;

pub const PERSONAL_DATA: PersonalData = PersonalData {
    sources: &[
        "SELECT customer FROM fulfillments WHERE order_id::text = ANY($1)",
        "SELECT ship_to FROM fulfillments WHERE order_id::text = ANY($1) AND ship_to IS NOT NULL",
    ],
    tables: &[
        ("fulfillments", "order_id::text = ANY($1)"),
        (
            "parcels",
            "fulfillment_id IN (SELECT id FROM fulfillments WHERE order_id::text = ANY($1))",
        ),
        ("return_receipts", "order_id = ANY($1)"),
    ],
};
