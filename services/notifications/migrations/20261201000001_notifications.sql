-- The notifications service's tables: what it knows about orders and shipments (from the
-- events that carry it, for the events that only name an order), the customers' preferences,
-- the notifications themselves (one row per event, channel and recipient, written in the
-- consumer's transaction before anything is sent), and the dead-lettered events already
-- reported to staff.

-- The customer's contact as given at checkout, for events that carry only the order id.
CREATE TABLE order_contacts (
    order_id     text PRIMARY KEY,
    order_number text NOT NULL,
    customer_id  text NOT NULL,
    name         text NOT NULL,
    email        text NOT NULL,
    phone        text NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Outbound shipments, for the tracking link of the "shipped" message.
CREATE TABLE shipments (
    shipment_id     text PRIMARY KEY,
    order_id        text NOT NULL,
    carrier         text NOT NULL,
    tracking_number text NOT NULL,
    tracking_url    text NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE TABLE preferences (
    customer_id    text PRIMARY KEY,
    email_enabled  boolean NOT NULL,
    sms_enabled    boolean NOT NULL,
    push_enabled   boolean NOT NULL,
    email          text NOT NULL,
    phone          text NOT NULL,
    push_token     text NOT NULL,
    -- Topic names, e.g. {feedback_requests}.
    muted_topics   text[] NOT NULL,
    -- [{"topic": "delivery_updates", "channels": ["sms"]}, ...]
    topic_channels jsonb NOT NULL,
    locale         text NOT NULL,
    -- All three set, or none (no quiet hours).
    quiet_start_minute       integer,
    quiet_end_minute         integer,
    quiet_utc_offset_minutes integer,
    updated_at     timestamptz NOT NULL,
    CHECK ((quiet_start_minute IS NULL) = (quiet_end_minute IS NULL)
       AND (quiet_start_minute IS NULL) = (quiet_utc_offset_minutes IS NULL))
);

CREATE TABLE notifications (
    id              uuid PRIMARY KEY,
    -- The event's ce-id (a UUID), or the Nats-Msg-Id of a dead-lettered message.
    source_event_id text NOT NULL,
    source_subject  text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
    -- Address, E.164 number or push token; empty when suppressed for the lack of one. Never
    -- logged; shown masked.
    recipient       text NOT NULL,
    audience        text NOT NULL CHECK (audience IN ('customer', 'staff')),
    topic           text NOT NULL,
    template        text NOT NULL,
    locale          text NOT NULL,
    customer_id     text NOT NULL,
    order_id        text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts        integer NOT NULL DEFAULT 0,
    failure_reason  text NOT NULL DEFAULT '',
    -- The last transient error of a pending row (kept out of failure_reason until it fails).
    last_error      text NOT NULL DEFAULT '',
    -- Pending rows are sent from this time on (quiet hours, retry backoff).
    send_after      timestamptz,
    -- A sender that claimed the row holds it until then; a crashed sender's claim runs out.
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    UNIQUE (source_event_id, channel, recipient)
);
CREATE INDEX notifications_due ON notifications (send_after) WHERE status = 'pending';
CREATE INDEX notifications_by_customer ON notifications (customer_id, created_at DESC, id DESC);
CREATE INDEX notifications_by_order ON notifications (order_id, created_at DESC, id DESC);
CREATE INDEX notifications_recent ON notifications (created_at DESC, id DESC);

-- Dead-lettered messages already reported to staff, by their Nats-Msg-Id.
CREATE TABLE dead_letter_alerts (
    msg_id      text PRIMARY KEY,
    consumer    text NOT NULL,
    subject     text NOT NULL,
    received_at timestamptz NOT NULL
);
