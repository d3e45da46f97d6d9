-- Short picks already acted on, so a fact heard twice cancels its units once.
CREATE TABLE order_short_picks (
    fulfillment_id text NOT NULL,
    line_id        text NOT NULL,
    order_id       uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    quantity       integer NOT NULL,
    PRIMARY KEY (fulfillment_id, line_id)
);
