-- Order updates (orders.order.updated) replace an order's total and lines with those after the
-- update. `version` is the order's version (OrderUpdated.version) that order_facts' total,
-- units and line count and the order's order_lines come from: 0 until an update applies. An
-- update applies only over an older version (updates may arrive late or twice), and once one
-- has applied, the figures other order events carry (placed, confirmed, delivered, cancelled —
-- possibly from before the update) no longer change them. It is not a time column, so the
-- rollups' stale marks (which follow every `…_at` column of a changed row) do not read it;
-- the update's write to order_facts and order_lines marks the order's hours as any write does.
ALTER TABLE order_facts ADD COLUMN version bigint NOT NULL DEFAULT 0;
