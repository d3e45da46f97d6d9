-- Customer renumbering follows order_facts row by row (docs/BENCHMARKS.md, session 7). The
-- statement triggers of 20261228000001_rollups.sql ran a PL/pgSQL function with transition
-- tables on every insert and update of an order's facts (~10 per order through the cycle) only
-- to find, nearly always, that no order moved. Every write to order_facts but the archive's
-- changes one row, so insert and update now use row triggers whose WHEN condition — checked
-- without calling any function — lets through only a row that moves an order of a customer: a
-- new order with a customer and a placement time; an update of the customer, placement time or
-- channel. What is renumbered is unchanged. Deletes (the archive's, many rows at once) keep the
-- statement trigger.
CREATE FUNCTION customer_orders_follow_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- OLD is null on an insert; renumbering '' finds nothing to number.
    PERFORM customer_orders_renumber(ARRAY(
        SELECT DISTINCT c FROM unnest(ARRAY[NEW.customer_id, OLD.customer_id]) c
        WHERE c IS NOT NULL AND c <> ''));
    RETURN NULL;
END
$$;

DROP TRIGGER order_facts_customers_ins ON order_facts;
DROP TRIGGER order_facts_customers_upd ON order_facts;

CREATE TRIGGER order_facts_customers_ins AFTER INSERT ON order_facts FOR EACH ROW
    WHEN (NEW.customer_id <> '' AND NEW.placed_at IS NOT NULL)
    EXECUTE FUNCTION customer_orders_follow_row();
CREATE TRIGGER order_facts_customers_upd AFTER UPDATE ON order_facts FOR EACH ROW
    WHEN ((NEW.customer_id, NEW.placed_at, NEW.channel)
          IS DISTINCT FROM (OLD.customer_id, OLD.placed_at, OLD.channel))
    EXECUTE FUNCTION customer_orders_follow_row();
