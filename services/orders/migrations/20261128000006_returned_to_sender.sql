-- A parcel the carrier returns to us (refused at the door, undeliverable) becomes an RMA of
-- its own units, so each shipment keeps what it carried. Replacement parcels of exchanges and
-- repairs are marked: they do not count towards the order's own delivery.

ALTER TABLE order_shipments
    -- [{line_id, sku, quantity}]
    ADD COLUMN lines        jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN replacement  boolean NOT NULL DEFAULT false,
    ADD COLUMN returning_at timestamptz;
