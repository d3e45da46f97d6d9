-- Personal-data erasures this service has applied (see crates/messaging/src/privacy.rs): one
-- row per erasure, written in the transaction that pseudonymised the rows. It is the service's
-- answer to "is the erasure done here?" and makes a second delivery a no-op.
CREATE TABLE oc_erasures (
    erasure_id  uuid PRIMARY KEY,
    trigger     text NOT NULL,
    order_count integer NOT NULL,
    -- Rows rewritten by this service (0 when it held nothing about the customer).
    rows        bigint NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
