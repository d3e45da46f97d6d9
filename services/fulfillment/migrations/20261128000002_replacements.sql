-- Replacement shipments of exchanges and repairs are fulfilments of their own: a second
-- fulfilment of the same order from the same warehouse, told apart by the return they replace.
-- The reservation is kept so the hand-over can name the stock to commit.

ALTER TABLE fulfillments
    ADD COLUMN reservation_id     text NOT NULL DEFAULT '',
    ADD COLUMN exchange_return_id text NOT NULL DEFAULT '';

ALTER TABLE fulfillments
    DROP CONSTRAINT fulfillments_order_id_warehouse_id_reship_case_id_key,
    ADD CONSTRAINT fulfillments_one_per_request
        UNIQUE (order_id, warehouse_id, reship_case_id, exchange_return_id);
