-- Returns (RMAs): their own records, next to the order. The order's status never changes for a
-- return; it gains a return summary (orders.return_status) and per-line returned units.

CREATE SEQUENCE rma_number_seq;

CREATE TABLE order_returns (
    id                     uuid PRIMARY KEY,
    rma_number             text NOT NULL UNIQUE,
    order_id               uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    order_number           text NOT NULL,
    -- AIP-155: the same request_id with the same request returns this RMA.
    request_id             text NOT NULL UNIQUE,
    request_hash           bytea NOT NULL,
    customer_id            text NOT NULL,
    -- REQUESTED, APPROVED, REJECTED, RECEIVED, INSPECTED, CLOSED
    status                 text NOT NULL,
    -- REFUND, EXCHANGE
    resolution             text NOT NULL,
    -- [{line_id, sku, quantity}]
    exchange_lines         jsonb NOT NULL DEFAULT '[]'::jsonb,
    customer_note          text NOT NULL DEFAULT '',
    pickup_address         jsonb,
    return_warehouse_id    text NOT NULL DEFAULT '',
    return_shipment_id     text NOT NULL DEFAULT '',
    return_tracking_number text NOT NULL DEFAULT '',
    -- CUSTOMER or MERCHANT, by the reasons given (policy)
    shipping_paid_by       text NOT NULL DEFAULT 'MERCHANT',
    decided_by             text NOT NULL DEFAULT '',
    decision_reason        text NOT NULL DEFAULT '',
    currency               text NOT NULL,
    refund_total_minor     bigint,
    -- REFUNDED, EXCHANGED, NO_REFUND, CANCELLED once CLOSED
    outcome                text,
    -- The exchange's own stock reservation (an exchange ships replacements).
    exchange_reservation_id uuid UNIQUE,
    requested_at           timestamptz NOT NULL,
    decided_at             timestamptz,
    received_at            timestamptz,
    inspected_at           timestamptz,
    closed_at              timestamptz
);
CREATE INDEX order_returns_order ON order_returns (order_id, requested_at DESC);
CREATE INDEX order_returns_customer ON order_returns (customer_id, requested_at DESC);
CREATE INDEX order_returns_listing ON order_returns (requested_at DESC, id DESC);

CREATE TABLE order_return_lines (
    return_id           uuid NOT NULL REFERENCES order_returns (id) ON DELETE CASCADE,
    line_id             text NOT NULL,
    position            integer NOT NULL,
    sku                 text NOT NULL,
    quantity            integer NOT NULL CHECK (quantity > 0),
    reason              text NOT NULL,
    note                text NOT NULL DEFAULT '',
    -- The order line's unit price, fixed at the request: refunds are computed from it.
    unit_price_minor    bigint NOT NULL CHECK (unit_price_minor >= 0),
    received_quantity   integer NOT NULL DEFAULT 0,
    resellable_quantity integer NOT NULL DEFAULT 0,
    -- {grade: units} as inspected
    grades              jsonb NOT NULL DEFAULT '{}'::jsonb,
    refund_minor        bigint,
    PRIMARY KEY (return_id, line_id)
);

ALTER TABLE orders ADD COLUMN return_status text NOT NULL DEFAULT 'NONE';
ALTER TABLE order_lines ADD COLUMN returned_quantity integer NOT NULL DEFAULT 0;
