-- Who took the order on its channel: a store id, a phone agent id, a marketplace reference.
ALTER TABLE orders ADD COLUMN channel_ref text NOT NULL DEFAULT '';
