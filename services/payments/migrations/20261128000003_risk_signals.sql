-- What the velocity rules compare besides the customer: the payment token, the addresses and
-- the phone numbers of each assessed order, kept only as one-way fingerprints (never the
-- token, an address or a phone as typed); and each order's total, which later orders of the
-- customer are compared with.

ALTER TABLE risk_assessments
    ADD COLUMN total_minor       bigint,
    ADD COLUMN currency          text,
    ADD COLUMN token_fingerprint text,
    ADD COLUMN address_keys      text[] NOT NULL DEFAULT '{}',
    ADD COLUMN phone_keys        text[] NOT NULL DEFAULT '{}';

CREATE INDEX risk_assessments_token ON risk_assessments (token_fingerprint, placed_at DESC)
    WHERE token_fingerprint IS NOT NULL;
CREATE INDEX risk_assessments_addresses ON risk_assessments USING gin (address_keys);
CREATE INDEX risk_assessments_phones ON risk_assessments USING gin (phone_keys);
