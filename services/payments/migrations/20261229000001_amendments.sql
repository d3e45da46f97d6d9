-- Order updates after confirmation: orders.payment.amend_requested ("from now on the payment
-- covers this amount").

-- Of voided_minor, what the last amendment already took off amount_minor (the voids before it
-- and the difference it voided), so the payment is not owed less twice.
ALTER TABLE payments
    ADD COLUMN voided_in_amount_minor bigint NOT NULL DEFAULT 0
        CHECK (voided_in_amount_minor >= 0);

-- The outcome of each amendment, once per (payment, update, compensation): a repeated request
-- changes nothing and is answered with the stored outcome again.
CREATE TABLE payment_amendments (
    payment_id            uuid NOT NULL REFERENCES payments (id),
    update_id             text NOT NULL,
    compensation          boolean NOT NULL,
    -- AMENDED or DECLINED.
    outcome               text NOT NULL,
    currency              text NOT NULL,
    -- What the payment covers after the amendment (declined: what was asked), and before.
    amount_minor          bigint NOT NULL,
    previous_amount_minor bigint NOT NULL,
    -- Set when declined: a DeclineReason name, or NULL when no reason of that list applies.
    decline_reason        text,
    message               text NOT NULL DEFAULT '',
    -- The provider's reference of an incremental authorization; empty otherwise.
    provider_reference    text NOT NULL DEFAULT '',
    -- The movement it made (the authorization of an increase, the void of a decrease).
    transaction_id        uuid REFERENCES payment_transactions (id),
    created_at            timestamptz NOT NULL,
    PRIMARY KEY (payment_id, update_id, compensation)
);
