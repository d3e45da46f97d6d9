-- Requests sent for an update's current step: a durable timer asks again when no answer
-- comes (OC_ORDERS_UPDATE_RETRY_SECS).
ALTER TABLE order_updates ADD COLUMN attempts integer NOT NULL DEFAULT 0;
