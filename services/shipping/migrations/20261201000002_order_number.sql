-- The order number printed on labels (the order id when unknown).
ALTER TABLE shipments ADD COLUMN order_number text NOT NULL DEFAULT '';
