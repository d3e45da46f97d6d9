-- Personal-data erasures (src/privacy.rs): each EraseCustomerData request and each retention
-- run, who asked and why. The e-mail and phone asked for are kept only as one-way fingerprints.
CREATE TABLE erasure_requests (
    id                uuid PRIMARY KEY,
    request_id        text NOT NULL UNIQUE,
    request_hash      bytea NOT NULL,
    -- REQUEST or RETENTION
    trigger           text NOT NULL,
    customer_id       text NOT NULL DEFAULT '',
    email_fingerprint text NOT NULL DEFAULT '',
    phone_fingerprint text NOT NULL DEFAULT '',
    order_ids         text[] NOT NULL,
    requested_by      text NOT NULL,
    reason            text NOT NULL,
    requested_at      timestamptz NOT NULL,
    erased_at         timestamptz NOT NULL
);

-- When the order's names, contacts and addresses were pseudonymised (by request or retention).
ALTER TABLE orders ADD COLUMN personal_data_erased_at timestamptz;
CREATE INDEX orders_personal_data_due ON orders (updated_at)
    WHERE personal_data_erased_at IS NULL AND status IN ('COMPLETED', 'CANCELLED', 'REJECTED');
