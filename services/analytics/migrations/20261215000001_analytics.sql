-- Analytics keeps every event it consumes (raw_events, its own history: streams keep only a
-- limited one) and read models derived from them. The read models can always be rebuilt from
-- raw_events (`analytics::rebuild`): every projection is an upsert keyed by the fact's natural
-- id and tolerates events arriving in any order.

CREATE TABLE raw_events (
    -- Arrival order, the tie-break when two events carry the same time.
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    event_id     uuid PRIMARY KEY,
    subject      text NOT NULL,
    type_name    text NOT NULL,
    aggregate_id text NOT NULL,
    source       text NOT NULL,
    -- ce-time: when the fact happened at its producer.
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    body         bytea NOT NULL
);
CREATE INDEX raw_events_replay ON raw_events (occurred_at, seq);

-- One row per order: what it was and when it passed each milestone.
CREATE TABLE order_facts (
    order_id            text PRIMARY KEY,
    order_number        text NOT NULL DEFAULT '',
    customer_id         text NOT NULL DEFAULT '',
    channel             int NOT NULL DEFAULT 0,
    fulfillment_mode    int NOT NULL DEFAULT 0,
    pickup_store_id     text NOT NULL DEFAULT '',
    country_code        text NOT NULL DEFAULT '',
    region              text NOT NULL DEFAULT '',
    currency_code       text NOT NULL DEFAULT '',
    total_minor         bigint NOT NULL DEFAULT 0,
    units               bigint NOT NULL DEFAULT 0,
    line_count          int NOT NULL DEFAULT 0,
    payment_method      int NOT NULL DEFAULT 0,
    -- ordercycle.orders.v1.OrderStatus; its values follow the cycle, so the furthest wins.
    status              int NOT NULL DEFAULT 0,
    placed_at           timestamptz,
    held_at             timestamptz,
    decided_at          timestamptz,
    decision            text,
    confirmed_at        timestamptz,
    -- First parcel handed over, or ready for pickup.
    dispatched_at       timestamptz,
    delivered_at        timestamptz,
    accepted_at         timestamptz,
    auto_accepted       boolean,
    completed_at        timestamptz,
    cancelled_at        timestamptz,
    cancel_reason       int,
    rejected_at         timestamptz,
    shortage_at         timestamptz,
    units_short_picked  bigint NOT NULL DEFAULT 0,
    problem_reported_at timestamptz,
    net_paid_minor      bigint,
    return_status       int NOT NULL DEFAULT 0
);
CREATE INDEX order_facts_placed ON order_facts (placed_at);
CREATE INDEX order_facts_customer ON order_facts (customer_id, placed_at);

CREATE TABLE order_lines (
    order_id         text NOT NULL,
    line_id          text NOT NULL,
    sku              text NOT NULL,
    quantity         bigint NOT NULL,
    unit_price_minor bigint NOT NULL,
    line_total_minor bigint NOT NULL,
    PRIMARY KEY (order_id, line_id)
);
CREATE INDEX order_lines_sku ON order_lines (sku);

CREATE TABLE payment_facts (
    payment_id     text PRIMARY KEY,
    order_id       text NOT NULL,
    method         int NOT NULL DEFAULT 0,
    authorized_at  timestamptz,
    declined_at    timestamptz,
    decline_reason int
);
CREATE INDEX payment_facts_order ON payment_facts (order_id);

-- Captures, voids and refunds, one row per provider transaction.
CREATE TABLE money_moves (
    transaction_id text PRIMARY KEY,
    kind           text NOT NULL,
    payment_id     text NOT NULL,
    order_id       text NOT NULL,
    currency_code  text NOT NULL,
    amount_minor   bigint NOT NULL,
    return_id      text NOT NULL DEFAULT '',
    case_id        text NOT NULL DEFAULT '',
    occurred_at    timestamptz NOT NULL
);
CREATE INDEX money_moves_order ON money_moves (order_id, kind);

CREATE TABLE fulfillment_facts (
    fulfillment_id   text PRIMARY KEY,
    order_id         text NOT NULL,
    warehouse_id     text NOT NULL DEFAULT '',
    fulfillment_mode int NOT NULL DEFAULT 0,
    units            bigint NOT NULL DEFAULT 0,
    created_at       timestamptz,
    picked_at        timestamptz,
    units_picked     bigint NOT NULL DEFAULT 0,
    units_short      bigint NOT NULL DEFAULT 0,
    ready_at         timestamptz,
    picked_up_at     timestamptz,
    cancelled_at     timestamptz
);
CREATE INDEX fulfillment_facts_order ON fulfillment_facts (order_id);

CREATE TABLE parcel_facts (
    parcel_id      text PRIMARY KEY,
    fulfillment_id text NOT NULL,
    order_id       text NOT NULL,
    warehouse_id   text NOT NULL DEFAULT '',
    shipment_id    text NOT NULL DEFAULT '',
    weight_grams   bigint,
    packed_at      timestamptz,
    handed_over_at timestamptz
);
CREATE INDEX parcel_facts_order ON parcel_facts (order_id);

CREATE TABLE shipment_facts (
    shipment_id    text PRIMARY KEY,
    order_id       text NOT NULL,
    -- ordercycle.shipping.v1.ShipmentDirection
    direction      int NOT NULL DEFAULT 0,
    warehouse_id   text NOT NULL DEFAULT '',
    carrier        text NOT NULL DEFAULT '',
    -- The ETA promised first: on-time delivery is measured against it.
    first_eta      timestamptz,
    created_at     timestamptz,
    handed_over_at timestamptz,
    delivered_at   timestamptz
);
CREATE INDEX shipment_facts_order ON shipment_facts (order_id);

CREATE TABLE delivery_failures (
    shipment_id text NOT NULL,
    attempt     int NOT NULL,
    order_id    text NOT NULL,
    reason      int NOT NULL,
    failed_at   timestamptz NOT NULL,
    PRIMARY KEY (shipment_id, attempt)
);

CREATE TABLE return_facts (
    return_id       text PRIMARY KEY,
    order_id        text NOT NULL,
    resolution      int NOT NULL DEFAULT 0,
    requested_at    timestamptz,
    approved_at     timestamptz,
    rejected_at     timestamptz,
    closed_at       timestamptz,
    outcome         int,
    refund_currency text,
    refund_minor    bigint
);
CREATE INDEX return_facts_order ON return_facts (order_id);

CREATE TABLE return_lines (
    return_id text NOT NULL,
    line_id   text NOT NULL,
    sku       text NOT NULL,
    quantity  bigint NOT NULL,
    reason    int NOT NULL,
    PRIMARY KEY (return_id, line_id)
);

CREATE TABLE problem_facts (
    problem_id  text PRIMARY KEY,
    order_id    text NOT NULL,
    kind        int NOT NULL,
    reported_at timestamptz NOT NULL
);

CREATE TABLE survey_facts (
    survey_id    text PRIMARY KEY,
    order_id     text NOT NULL,
    invited_at   timestamptz,
    submitted_at timestamptz,
    csat         int,
    nps          int
);

CREATE TABLE review_facts (
    review_id    text PRIMARY KEY,
    sku          text NOT NULL,
    order_id     text NOT NULL,
    rating       int NOT NULL,
    published_at timestamptz NOT NULL
);

CREATE TABLE case_facts (
    case_id        text PRIMARY KEY,
    order_id       text NOT NULL DEFAULT '',
    kind           int NOT NULL DEFAULT 0,
    opened_at      timestamptz,
    resolve_due_at timestamptz,
    resolved_at    timestamptz,
    resolution     int,
    sla_breached   boolean NOT NULL DEFAULT false
);

CREATE TABLE sla_breaches (
    case_id     text NOT NULL,
    sla         int NOT NULL,
    breached_at timestamptz NOT NULL,
    PRIMARY KEY (case_id, sla)
);

CREATE TABLE stock_lows (
    sku                text NOT NULL,
    warehouse_id       text NOT NULL,
    detected_at        timestamptz NOT NULL,
    available          bigint NOT NULL,
    reorder_point      bigint NOT NULL,
    below_safety_stock boolean NOT NULL,
    PRIMARY KEY (sku, warehouse_id, detected_at)
);
