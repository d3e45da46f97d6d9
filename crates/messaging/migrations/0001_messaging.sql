-- The plumbing tables every service database has: see crates/messaging/src/lib.rs.

-- Events written in the same transaction as the state change that caused them.
CREATE TABLE oc_outbox (
    id            uuid PRIMARY KEY,            -- the event id: ce-id and Nats-Msg-Id
    seq           bigserial NOT NULL,          -- publish order
    subject       text NOT NULL,               -- relative to the root: orders.order.placed
    ce_type       text NOT NULL,               -- protobuf full name
    aggregate_id  text NOT NULL,               -- ce-subject
    payload       bytea NOT NULL,
    traceparent   text,
    occurred_at   timestamptz NOT NULL,        -- ce-time, read from the service clock
    created_at    timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz,                 -- a relay's lease on the row
    attempts      integer NOT NULL DEFAULT 0,
    published_at  timestamptz
);
CREATE INDEX oc_outbox_pending ON oc_outbox (seq) WHERE published_at IS NULL;
CREATE INDEX oc_outbox_published ON oc_outbox (published_at) WHERE published_at IS NOT NULL;

-- Every event a consumer has applied, written in the same transaction as the effect.
CREATE TABLE oc_inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    subject      text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Durable timers: deadlines and delays that survive restarts.
CREATE TABLE oc_timers (
    id         uuid PRIMARY KEY,
    kind       text NOT NULL,
    key        text NOT NULL,
    fire_at    timestamptz NOT NULL,
    payload    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts   integer NOT NULL DEFAULT 0,
    last_error text,
    fired_at   timestamptz,
    UNIQUE (kind, key)
);
CREATE INDEX oc_timers_due ON oc_timers (kind, fire_at) WHERE fired_at IS NULL;
