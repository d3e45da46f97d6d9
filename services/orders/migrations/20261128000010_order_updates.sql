-- Order updates (OrderUpdateService.UpdateOrder): the order's version, raised by every applied
-- update, and one row per applied update for request_id idempotency and the record of who
-- changed what and why (also on the timeline).
ALTER TABLE orders ADD COLUMN version bigint NOT NULL DEFAULT 0;

CREATE TABLE order_updates (
    id            uuid PRIMARY KEY,
    order_id      uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    request_id    text NOT NULL UNIQUE,
    request_hash  bytea NOT NULL,
    actor_id      text NOT NULL,
    actor_type    text NOT NULL,
    reason        text NOT NULL,
    summary       text NOT NULL,
    version       bigint NOT NULL,
    currency      text NOT NULL,
    total_before_minor bigint NOT NULL,
    total_after_minor  bigint NOT NULL,
    -- [{line_id, sku, quantity}]: + reserve, − release
    stock_changes jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at    timestamptz NOT NULL
);
CREATE INDEX order_updates_order ON order_updates (order_id, created_at);
