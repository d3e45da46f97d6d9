-- Fulfilment orders (one per order and warehouse), their lines and parcels, pick waves, the
-- catalog weights packing checks against, and returned parcels.

CREATE TABLE pick_waves (
    id           uuid PRIMARY KEY,
    request_id   text NOT NULL UNIQUE,
    warehouse_id text NOT NULL,
    status       text NOT NULL,
    created_at   timestamptz NOT NULL,
    completed_at timestamptz
);

CREATE TABLE fulfillments (
    id                  uuid PRIMARY KEY,
    order_id            uuid NOT NULL,
    order_number        text NOT NULL,
    warehouse_id        text NOT NULL,
    -- empty for the order's first fulfilment; the case id for a replacement shipment
    reship_case_id      text NOT NULL DEFAULT '',
    mode                text NOT NULL,
    status              text NOT NULL,
    customer            jsonb NOT NULL,
    ship_to             jsonb,
    collect_cod         boolean NOT NULL DEFAULT false,
    currency            text NOT NULL,
    pickup_code         text,
    shelf_location      text,
    wave_id             uuid REFERENCES pick_waves (id),
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    picked_at           timestamptz,
    ready_for_pickup_at timestamptz,
    picked_up_at        timestamptz,
    cancelled_at        timestamptz,
    cancel_reason       text,
    -- one fulfilment per order, warehouse and (re)shipment, however often it is requested
    UNIQUE (order_id, warehouse_id, reship_case_id)
);
CREATE INDEX fulfillments_open ON fulfillments (warehouse_id, created_at) WHERE status = 'PENDING';

CREATE TABLE fulfillment_lines (
    fulfillment_id   uuid NOT NULL REFERENCES fulfillments (id) ON DELETE CASCADE,
    line_id          text NOT NULL,
    position         integer NOT NULL,
    sku              text NOT NULL,
    name             text NOT NULL DEFAULT '',
    quantity         integer NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL,
    -- [{bin, quantity, pick_sequence}] from inventory's allocation
    bins             jsonb NOT NULL DEFAULT '[]'::jsonb,
    picked_quantity  integer,
    packed_quantity  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (fulfillment_id, line_id)
);

CREATE TABLE parcels (
    id               uuid PRIMARY KEY,
    fulfillment_id   uuid NOT NULL REFERENCES fulfillments (id) ON DELETE CASCADE,
    request_id       text NOT NULL UNIQUE,
    status           text NOT NULL,
    lines            jsonb NOT NULL,
    weight_grams     integer NOT NULL,
    dimensions       jsonb NOT NULL,
    -- the scale disagreed with the catalog weights: a person should look
    weight_flagged   boolean NOT NULL DEFAULT false,
    expected_grams   integer NOT NULL,
    shipment_id      text NOT NULL,
    carrier          text NOT NULL,
    tracking_number  text NOT NULL,
    label            bytea NOT NULL,
    label_format     integer NOT NULL,
    cod_amount_minor bigint,
    packed_by        text NOT NULL,
    packed_at        timestamptz NOT NULL,
    handed_over_at   timestamptz
);
CREATE INDEX parcels_fulfillment ON parcels (fulfillment_id);

-- inventory.item.upserted: what a unit weighs.
CREATE TABLE item_weights (
    sku          text PRIMARY KEY,
    name         text NOT NULL,
    weight_grams integer NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE return_receipts (
    return_id       text PRIMARY KEY,
    order_id        text NOT NULL,
    warehouse_id    text NOT NULL,
    status          text NOT NULL,
    tracking_number text NOT NULL DEFAULT '',
    received_by     text NOT NULL,
    received_at     timestamptz NOT NULL,
    -- [{line_id, sku, quantity, grade, note}]
    lines           jsonb NOT NULL DEFAULT '[]'::jsonb,
    inspected_by    text,
    inspected_at    timestamptz,
    note            text NOT NULL DEFAULT ''
);
