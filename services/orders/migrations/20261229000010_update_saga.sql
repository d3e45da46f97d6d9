-- Order updates after confirmation run with inventory, payments and fulfillment first (the
-- update saga): an update is IN_PROGRESS at one step until it is APPLIED or REFUSED. It keeps
-- what applying writes to the order (`applied`), the units it adds (from inventory's answer)
-- and those it gives back once applied. One update at a time per order.
ALTER TABLE order_updates
    ADD COLUMN state text NOT NULL DEFAULT 'APPLIED',
    ADD COLUMN step text,
    ADD COLUMN applied jsonb,
    ADD COLUMN lines_changed boolean NOT NULL DEFAULT false,
    ADD COLUMN address_changed boolean NOT NULL DEFAULT false,
    ADD COLUMN contact_changed boolean NOT NULL DEFAULT false,
    -- [{line_id, sku, warehouse_id, quantity}]
    ADD COLUMN added_units jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN released_units jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN kept_units jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN refused_reason text,
    ADD COLUMN finished_at timestamptz;

UPDATE order_updates SET finished_at = created_at;

CREATE UNIQUE INDEX order_updates_one_in_progress ON order_updates (order_id)
    WHERE state = 'IN_PROGRESS';
