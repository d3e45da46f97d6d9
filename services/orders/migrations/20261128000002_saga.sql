-- The saga's state on the order, what other services told us about it, and the catalog read
-- model that validates new orders without a call on the hot path.

ALTER TABLE orders
    ADD COLUMN reservation_state text NOT NULL DEFAULT 'NONE',
    ADD COLUMN payment_state     text NOT NULL DEFAULT 'NONE',
    ADD COLUMN settled           boolean NOT NULL DEFAULT false,
    ADD COLUMN shipped_any       boolean NOT NULL DEFAULT false,
    ADD COLUMN captured          boolean NOT NULL DEFAULT false,
    ADD COLUMN reservation_id    uuid,
    -- inventory's allocations: [{line_id, sku, warehouse_id, quantity}]
    ADD COLUMN allocations       jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN payment_id        text,
    ADD COLUMN pay_by            timestamptz,
    ADD COLUMN bank_reference    text,
    ADD COLUMN captured_minor    bigint NOT NULL DEFAULT 0,
    ADD COLUMN refunded_minor    bigint NOT NULL DEFAULT 0,
    ADD COLUMN risk_score        integer,
    -- [{kind, code, description}]
    ADD COLUMN hold_reasons      jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN review_deadline   timestamptz,
    ADD COLUMN reviewed_by       text,
    ADD COLUMN review_note       text,
    ADD COLUMN cancel_reason     text,
    ADD COLUMN cancel_note       text,
    ADD COLUMN confirmed_at      timestamptz,
    ADD COLUMN delivered_at      timestamptz,
    ADD COLUMN accept_by         timestamptz,
    ADD COLUMN accepted_at       timestamptz,
    ADD COLUMN completed_at      timestamptz,
    ADD COLUMN cancelled_at      timestamptz;

CREATE INDEX orders_review_queue ON orders (review_deadline) WHERE status = 'ON_HOLD';

ALTER TABLE order_lines
    ADD COLUMN name               text NOT NULL DEFAULT '',
    ADD COLUMN shipped_quantity   integer NOT NULL DEFAULT 0,
    ADD COLUMN cancelled_quantity integer NOT NULL DEFAULT 0;

CREATE TABLE order_fulfillments (
    fulfillment_id text PRIMARY KEY,
    order_id       uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    warehouse_id   text NOT NULL,
    status         text NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX order_fulfillments_order ON order_fulfillments (order_id);

-- Parcels that left (one shipment each), and their tracking as shipping reports it.
CREATE TABLE order_shipments (
    shipment_id          text PRIMARY KEY,
    order_id             uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    fulfillment_id       text NOT NULL DEFAULT '',
    parcel_id            text NOT NULL DEFAULT '',
    warehouse_id         text NOT NULL DEFAULT '',
    carrier              text NOT NULL DEFAULT '',
    tracking_number      text NOT NULL DEFAULT '',
    tracking_url         text NOT NULL DEFAULT '',
    status               text NOT NULL DEFAULT 'CREATED',
    handed_over_at       timestamptz,
    eta                  timestamptz,
    delivered_at         timestamptz,
    cash_collected_minor bigint
);
CREATE INDEX order_shipments_order ON order_shipments (order_id);

CREATE TABLE order_problems (
    id              uuid PRIMARY KEY,
    order_id        uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    request_id      text NOT NULL UNIQUE,
    kind            text NOT NULL,
    description     text NOT NULL,
    -- [{line_id, sku, quantity}]
    lines           jsonb NOT NULL,
    attachment_urls jsonb NOT NULL DEFAULT '[]'::jsonb,
    reported_at     timestamptz NOT NULL,
    case_id         text,
    resolution      text,
    resolved_at     timestamptz
);
CREATE INDEX order_problems_order ON order_problems (order_id);

-- Inventory's catalog as orders last heard it (inventory.item.upserted).
CREATE TABLE catalog_items (
    sku              text PRIMARY KEY,
    name             text NOT NULL,
    currency         text NOT NULL,
    unit_price_minor bigint NOT NULL,
    category         text NOT NULL DEFAULT '',
    returnable       boolean NOT NULL DEFAULT true,
    active           boolean NOT NULL DEFAULT true,
    updated_at       timestamptz NOT NULL
);
