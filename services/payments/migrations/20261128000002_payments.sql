-- Payments of orders, their money movements, the double-entry ledger, installment plans, the
-- block lists, RPC idempotency, and the simulated provider's own book.

-- One payment per order. Balances are minor units of `currency`; `token` is the provider token
-- (never a card number) and is never returned by the API.
CREATE TABLE payments (
    id                       uuid PRIMARY KEY,
    order_id                 uuid NOT NULL UNIQUE,
    order_number             text NOT NULL,
    customer_id              text NOT NULL,
    method                   text NOT NULL,
    status                   text NOT NULL,
    currency                 text NOT NULL,
    amount_minor             bigint NOT NULL CHECK (amount_minor >= 0),
    authorized_minor         bigint NOT NULL DEFAULT 0 CHECK (authorized_minor >= 0),
    authorized_total_minor   bigint NOT NULL DEFAULT 0,
    captured_minor           bigint NOT NULL DEFAULT 0 CHECK (captured_minor >= 0),
    voided_minor             bigint NOT NULL DEFAULT 0 CHECK (voided_minor >= 0),
    refunded_minor           bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    written_off_minor        bigint NOT NULL DEFAULT 0 CHECK (written_off_minor >= 0),
    installment_count        integer NOT NULL DEFAULT 0,
    token                    text,
    provider                 text NOT NULL,
    provider_reference       text NOT NULL DEFAULT '',
    authorization_expires_at timestamptz,
    reauthorizations         integer NOT NULL DEFAULT 0,
    -- Set when a lapsing authorization could not be renewed: an operator must look.
    authorization_flag       text,
    bank_transfer            jsonb,
    transfer_reference       text UNIQUE,
    settled_at               timestamptz,
    decline_reason           text,
    decline_message          text,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    CHECK (captured_minor <= authorized_total_minor),
    CHECK (refunded_minor <= captured_minor)
);
CREATE INDEX payments_created ON payments (created_at DESC, id DESC);

-- Every money movement. `request_id` is its natural key (an RPC's request_id or a key derived
-- from the event that caused it), so a movement happens once per key.
CREATE TABLE payment_transactions (
    id                 uuid PRIMARY KEY,
    payment_id         uuid NOT NULL REFERENCES payments (id),
    kind               text NOT NULL,
    status             text NOT NULL,
    amount_minor       bigint NOT NULL CHECK (amount_minor >= 0),
    provider_reference text NOT NULL DEFAULT '',
    shipment_id        text NOT NULL DEFAULT '',
    installment_number integer NOT NULL DEFAULT 0,
    return_id          text NOT NULL DEFAULT '',
    case_id            text NOT NULL DEFAULT '',
    reason             text NOT NULL DEFAULT '',
    failure_message    text NOT NULL DEFAULT '',
    request_id         text NOT NULL,
    created_at         timestamptz NOT NULL,
    UNIQUE (payment_id, request_id)
);
CREATE INDEX payment_transactions_payment ON payment_transactions (payment_id, created_at);

-- The double-entry journal: each movement is legs that sum to zero (debits positive).
CREATE TABLE ledger_entries (
    id             bigserial PRIMARY KEY,
    payment_id     uuid NOT NULL REFERENCES payments (id),
    transaction_id uuid NOT NULL REFERENCES payment_transactions (id),
    account        text NOT NULL,
    amount_minor   bigint NOT NULL,
    currency       text NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX ledger_entries_payment ON ledger_entries (payment_id, account);

CREATE TABLE installment_plans (
    id          uuid PRIMARY KEY,
    payment_id  uuid NOT NULL UNIQUE REFERENCES payments (id),
    order_id    uuid NOT NULL UNIQUE,
    status      text NOT NULL,
    count       integer NOT NULL CHECK (count >= 2),
    currency    text NOT NULL,
    total_minor bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    closed_at   timestamptz
);

CREATE TABLE installments (
    plan_id         uuid NOT NULL REFERENCES installment_plans (id),
    number          integer NOT NULL CHECK (number >= 1),
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    due_at          timestamptz NOT NULL,
    status          text NOT NULL,
    captured_at     timestamptz,
    transaction_id  uuid,
    failed_attempts integer NOT NULL DEFAULT 0,
    PRIMARY KEY (plan_id, number)
);

-- AIP-155: the first answer to a request_id, and a hash of the request that made it.
CREATE TABLE rpc_requests (
    request_id     text PRIMARY KEY,
    method         text NOT NULL,
    request_hash   bytea NOT NULL,
    payment_id     uuid NOT NULL,
    transaction_id uuid,
    created_at     timestamptz NOT NULL
);

CREATE TABLE blocklist (
    kind       text NOT NULL,
    value      text NOT NULL,
    reason     text NOT NULL,
    active     boolean NOT NULL,
    expires_at timestamptz,
    updated_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (kind, value)
);

-- The simulated provider's side of the world (see `provider::simulated`): what it was asked
-- under each idempotency key and what it answered. A real provider keeps this on its side.
CREATE TABLE sim_provider_operations (
    idempotency_key text PRIMARY KEY,
    operation       text NOT NULL,
    reference       text NOT NULL,
    parent_reference text NOT NULL DEFAULT '',
    token           text NOT NULL DEFAULT '',
    currency        text NOT NULL,
    amount_minor    bigint NOT NULL,
    approved        boolean NOT NULL,
    message         text NOT NULL DEFAULT '',
    calls           integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL
);
CREATE INDEX sim_provider_operations_parent ON sim_provider_operations (parent_reference);

-- How a refund was spread over the provider holds its money was captured from.
CREATE TABLE refund_allocations (
    transaction_id     uuid NOT NULL REFERENCES payment_transactions (id),
    provider_reference text NOT NULL,
    amount_minor       bigint NOT NULL CHECK (amount_minor > 0),
    PRIMARY KEY (transaction_id, provider_reference)
);

-- Orders' capture / void / refund requests that arrived before the payment they are about
-- (events on different subjects can overtake each other); applied when the payment opens.
CREATE TABLE parked_requests (
    id           bigserial PRIMARY KEY,
    order_id     uuid NOT NULL,
    kind         text NOT NULL,
    key          text NOT NULL,
    request      jsonb NOT NULL,
    parked_at    timestamptz NOT NULL,
    UNIQUE (order_id, kind, key)
);
