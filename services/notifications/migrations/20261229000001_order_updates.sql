-- What an order update's message named besides the order's current contact (order_contacts):
-- the shipping address it set and the contact it replaced. The rendered messages hold these
-- values, so an erasure must find them here (crate::privacy) to pseudonymise those messages.
CREATE TABLE order_update_contacts (
    order_id        text NOT NULL,
    -- The OrderUpdated event's id: one row per update, kept once however often it arrives.
    source_event_id text NOT NULL,
    -- {"address": {"recipient", "line1", "line2", "phone", ...}, "replaced": {"name", "email",
    -- "phone"}}, each part only when the update changed it.
    details         jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL,
    PRIMARY KEY (order_id, source_event_id)
);
