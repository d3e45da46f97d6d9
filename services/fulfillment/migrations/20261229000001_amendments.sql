-- Order updates after confirmation (orders.fulfillment.amend_requested).

-- The answer given to each update of an order: a repeated request changes nothing and gets
-- the same answer again.
CREATE TABLE fulfillment_amendments (
    -- as orders wrote it (an id fulfillment cannot parse is answered with a refusal too)
    order_id        text NOT NULL,
    update_id       text NOT NULL,
    -- AMENDED or REFUSED
    outcome         text NOT NULL,
    -- AMENDED: the order's open fulfilments afterwards
    fulfillment_ids text[] NOT NULL DEFAULT '{}',
    -- REFUSED: why, for a person
    reason          text NOT NULL DEFAULT '',
    answered_at     timestamptz NOT NULL,
    PRIMARY KEY (order_id, update_id)
);

-- A fulfilment an update left without units is cancelled and marked with that update; it then
-- no longer counts as the order's fulfilment in its warehouse, so a later update that names the
-- warehouse again opens a new one there.
ALTER TABLE fulfillments
    ADD COLUMN cancelled_by_update text NOT NULL DEFAULT '';

ALTER TABLE fulfillments
    DROP CONSTRAINT fulfillments_one_per_request,
    ADD CONSTRAINT fulfillments_one_per_request
        UNIQUE (order_id, warehouse_id, reship_case_id, exchange_return_id, cancelled_by_update);
