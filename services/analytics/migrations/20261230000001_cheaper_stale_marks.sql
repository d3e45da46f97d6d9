-- Cheaper rollup bookkeeping on every fact write (docs/BENCHMARKS.md, session 5): with the
-- whole cycle running, analytics' fact writes cost 2.3–4.6 ms each, most of it in the two
-- statement triggers of 20261228000001_rollups.sql, and analytics took more than half of all
-- the platform's database time.
--
-- - rollup_mark_stale: the marking query was built with format() and run by EXECUTE, so it was
--   planned again on every statement. It now lives in rollup_mark_hours, static SQL over the
--   changed rows as a jsonb array, whose plan PL/pgSQL keeps for the connection (~1 ms → ~0.3 ms
--   a statement once the plan is cached). What it marks is unchanged.
-- - customer_orders_follow: an update that moves no order of any customer (a confirmation, a
--   delivery — nearly all of them) no longer runs the renumbering with an empty list.
CREATE FUNCTION rollup_mark_hours(changed jsonb[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS MATERIALIZED (SELECT r FROM unnest(changed) AS r),
    orders AS (SELECT DISTINCT c.r->>'order_id' AS id FROM changed c WHERE c.r ? 'order_id'),
    shipments AS (SELECT DISTINCT c.r->>'shipment_id' AS id FROM changed c WHERE c.r ? 'shipment_id'),
    returns AS (SELECT DISTINCT c.r->>'return_id' AS id FROM changed c WHERE c.r ? 'return_id')
    INSERT INTO rollup_stale (hour)
    SELECT DISTINCT date_trunc('hour', e.value::timestamptz, 'UTC') FROM (
        SELECT c.r FROM changed c
        UNION ALL SELECT to_jsonb(f) FROM orders o JOIN order_facts f ON f.order_id = o.id
        UNION ALL SELECT to_jsonb(p) FROM orders o JOIN parcel_facts p ON p.order_id = o.id
        UNION ALL SELECT to_jsonb(s) FROM orders o JOIN shipment_facts s ON s.order_id = o.id
        UNION ALL SELECT to_jsonb(s) FROM shipments i JOIN shipment_facts s ON s.shipment_id = i.id
        UNION ALL SELECT to_jsonb(rf) FROM returns i JOIN return_facts rf ON rf.return_id = i.id
    ) x, jsonb_each_text(x.r) e
    WHERE e.key LIKE '%\_at' AND e.value IS NOT NULL
    ORDER BY 1;
END
$$;

CREATE OR REPLACE FUNCTION rollup_mark_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM rollup_mark_hours(ARRAY(SELECT to_jsonb(n) FROM new_rows n));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM rollup_mark_hours(ARRAY(SELECT to_jsonb(o) FROM old_rows o));
    ELSE
        PERFORM rollup_mark_hours(ARRAY(SELECT to_jsonb(n) FROM new_rows n
                                        UNION ALL SELECT to_jsonb(o) FROM old_rows o));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION customer_orders_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    customers text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        customers := ARRAY(SELECT DISTINCT customer_id FROM new_rows
            WHERE customer_id <> '' AND placed_at IS NOT NULL);
    ELSIF TG_OP = 'DELETE' THEN
        customers := ARRAY(SELECT DISTINCT customer_id FROM old_rows WHERE customer_id <> '');
    ELSE
        customers := ARRAY(
            SELECT n.customer_id FROM new_rows n JOIN old_rows o ON o.order_id = n.order_id
            WHERE (n.customer_id, n.placed_at, n.channel) IS DISTINCT FROM
                  (o.customer_id, o.placed_at, o.channel)
            UNION SELECT o.customer_id FROM new_rows n JOIN old_rows o ON o.order_id = n.order_id
            WHERE o.customer_id <> n.customer_id);
    END IF;
    -- Most updates (a confirmation, a delivery) move no order of any customer.
    IF cardinality(customers) > 0 THEN
        PERFORM customer_orders_renumber(customers);
    END IF;
    RETURN NULL;
END
$$;
