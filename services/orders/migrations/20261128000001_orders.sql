-- Orders as placed, their lines, and the timeline of everything that happened to them.

CREATE SEQUENCE order_number_seq;

CREATE TABLE orders (
    id                uuid PRIMARY KEY,
    order_number      text NOT NULL UNIQUE,
    -- AIP-155: the same request_id with the same request returns this order.
    request_id        text NOT NULL UNIQUE,
    request_hash      bytea NOT NULL,
    status            text NOT NULL,
    customer_id       text NOT NULL,
    customer          jsonb NOT NULL,
    channel           text NOT NULL,
    fulfillment_mode  text NOT NULL,
    pickup_store_id   text,
    shipping_address  jsonb,
    billing_address   jsonb,
    payment_method    text NOT NULL,
    installment_count integer NOT NULL DEFAULT 0,
    -- The provider token the customer gave, handed to payments; never a card number.
    payment_token     text,
    currency          text NOT NULL,
    total_minor       bigint NOT NULL CHECK (total_minor >= 0),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id, created_at DESC);
CREATE INDEX orders_status ON orders (status, created_at DESC);

CREATE TABLE order_lines (
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_id          text NOT NULL,
    position         integer NOT NULL,
    sku              text NOT NULL,
    quantity         integer NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
    PRIMARY KEY (order_id, line_id)
);

CREATE TABLE order_timeline (
    id            uuid PRIMARY KEY,
    order_id      uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    occurred_at   timestamptz NOT NULL,
    kind          text NOT NULL,
    summary       text NOT NULL,
    actor_id      text NOT NULL,
    actor_type    text NOT NULL,
    reason        text,
    status_before text,
    status_after  text,
    event_id      uuid
);
CREATE INDEX order_timeline_order ON order_timeline (order_id, occurred_at);
