-- Feedback's records: the orders it heard were delivered or accepted (and what they held), the
-- surveys sent after delivery, product reviews with their replies, support cases with their
-- conversations and SLA deadlines, and the request ids its RPCs answered (AIP-155).

-- Orders as orders' events told us (delivered, accepted). A row may exist from an acceptance
-- before its delivery arrives (events can come out of order); delivered_at is set once.
CREATE TABLE known_orders (
    order_id      uuid PRIMARY KEY,
    order_number  text NOT NULL DEFAULT '',
    customer_id   text NOT NULL,
    -- Name, e-mail and phone as given at checkout, for the survey invitation.
    customer      jsonb,
    delivered_at  timestamptz,
    accepted_at   timestamptz,
    auto_accepted boolean NOT NULL DEFAULT false
);
CREATE INDEX known_orders_customer ON known_orders (customer_id);

-- What was delivered: who may review which SKU.
CREATE TABLE delivered_lines (
    order_id uuid NOT NULL REFERENCES known_orders (order_id) ON DELETE CASCADE,
    line_id  text NOT NULL,
    sku      text NOT NULL,
    quantity integer NOT NULL,
    PRIMARY KEY (order_id, line_id)
);
CREATE INDEX delivered_lines_sku ON delivered_lines (sku);

CREATE TABLE surveys (
    id           uuid PRIMARY KEY,
    -- One survey per order, whatever number of delivered events.
    order_id     uuid NOT NULL UNIQUE,
    order_number text NOT NULL,
    customer_id  text NOT NULL,
    status       text NOT NULL,
    csat_score   integer CHECK (csat_score BETWEEN 1 AND 5),
    nps_score    integer CHECK (nps_score BETWEEN 0 AND 10),
    comment      text NOT NULL DEFAULT '',
    tags         text[] NOT NULL DEFAULT '{}',
    delivered_at timestamptz NOT NULL,
    invite_at    timestamptz NOT NULL,
    invited_at   timestamptz,
    expires_at   timestamptz,
    submitted_at timestamptz
);
CREATE INDEX surveys_customer ON surveys (customer_id);

CREATE TABLE reviews (
    id              uuid PRIMARY KEY,
    sku             text NOT NULL,
    order_id        uuid NOT NULL,
    customer_id     text NOT NULL,
    display_name    text NOT NULL,
    rating          integer NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title           text NOT NULL,
    body            text NOT NULL,
    status          text NOT NULL,
    flags           text[] NOT NULL DEFAULT '{}',
    moderation_note text NOT NULL DEFAULT '',
    moderated_by    text NOT NULL DEFAULT '',
    moderated_at    timestamptz,
    created_at      timestamptz NOT NULL,
    published_at    timestamptz
);
-- One live review per customer and SKU; a rejected one may be written again.
CREATE UNIQUE INDEX reviews_one_per_customer_and_sku ON reviews (customer_id, sku)
    WHERE status <> 'REJECTED';
CREATE INDEX reviews_listing ON reviews (sku, status, created_at DESC, id DESC);

CREATE TABLE review_replies (
    id         uuid PRIMARY KEY,
    review_id  uuid NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    author_id  text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX review_replies_review ON review_replies (review_id, created_at);

CREATE SEQUENCE case_number_seq;

CREATE TABLE cases (
    id                      uuid PRIMARY KEY,
    case_number             text NOT NULL UNIQUE,
    order_id                uuid,
    customer_id             text NOT NULL,
    kind                    text NOT NULL,
    problem_kind            text,
    -- Orders' problem id: one case per reported problem, however often the event arrives.
    problem_id              text UNIQUE,
    subject                 text NOT NULL,
    description             text NOT NULL,
    status                  text NOT NULL,
    priority                text NOT NULL,
    lines                   jsonb NOT NULL DEFAULT '[]',
    assignee_id             text,
    first_response_due_at   timestamptz NOT NULL,
    resolve_due_at          timestamptz NOT NULL,
    first_responded_at      timestamptz,
    resolve_paused_at       timestamptz,
    first_response_breached boolean NOT NULL DEFAULT false,
    resolution_breached     boolean NOT NULL DEFAULT false,
    resolution              text,
    refund_currency         text,
    refund_minor            bigint CHECK (refund_minor > 0),
    resolution_lines        jsonb NOT NULL DEFAULT '[]',
    resolution_note         text NOT NULL DEFAULT '',
    resolved_by             text NOT NULL DEFAULT '',
    -- The deadline queues sort by (Case::next_due_at), kept with every change.
    next_due_at             timestamptz NOT NULL,
    opened_at               timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    resolved_at             timestamptz
);
CREATE INDEX cases_queue ON cases ((status = 'RESOLVED'), next_due_at, id);
CREATE INDEX cases_customer ON cases (customer_id);
CREATE INDEX cases_order ON cases (order_id);

CREATE TABLE case_messages (
    id          uuid PRIMARY KEY,
    case_id     uuid NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    author_id   text NOT NULL,
    author_type text NOT NULL,
    body        text NOT NULL,
    internal    boolean NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX case_messages_case ON case_messages (case_id, created_at, id);

-- AIP-155: the request ids RPCs answered, with a hash of the request and what it made.
CREATE TABLE request_ids (
    operation    text NOT NULL,
    request_id   text NOT NULL,
    request_hash bytea NOT NULL,
    resource_id  uuid,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (operation, request_id)
);
