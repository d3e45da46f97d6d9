-- Stale marks from named columns (docs/BENCHMARKS.md, session 7): with the whole cycle running,
-- the rollups' statement triggers were still the largest share of all the platform's database
-- time (0.5–1.0 ms on each of ~17 fact writes per order), most of it turning every changed and
-- related row into jsonb and back (to_jsonb, jsonb_each_text, a cast per value) to find its
-- `…_at` times.
--
-- Each fact table now has a trigger function of its own whose static SQL names the table's time
-- columns and those of the rows it feeds: the same hours are marked as by rollup_mark_hours
-- (20261230000001_cheaper_stale_marks.sql) — every `…_at` time of the changed rows (old and new),
-- and of the order's facts, parcels and shipments, the shipment's facts and the return's facts
-- they name — without the jsonb round trip. A related table that is the changed table itself by
-- its own key is not read again: in an AFTER statement trigger its rows there are the new rows.
--
-- An update that changes nothing (an event carrying the order's header again, a redelivered
-- delivery time) no longer rewrites the row or marks anything: each fact table gets the built-in
-- suppress_redundant_updates_trigger, and the mark triggers return at once when the statement
-- changed no row (an upsert fires both its insert and its update trigger, one of them empty).
--
-- They stay statement triggers. Row triggers (one cached plan, OLD and NEW as parameters, no
-- transition tables) were cheaper for a one-row write, but bulk writes — the archive's deletes,
-- `ordercycle-bench analytics` loading its orders — then ran one trigger per row (100 000
-- orders: 94.7 s against 12.7 s), and the whole-cycle profile showed no difference between the
-- two.
--
-- The functions are generated from the catalog by rollup_install_stale_marks(). A migration
-- that adds a `…_at` column to a fact table must call it again (the analytics tests check that
-- calling it changes nothing, and that a new column is marked once it is called).
CREATE FUNCTION rollup_install_stale_marks() RETURNS void LANGUAGE plpgsql AS $gen$
DECLARE
    facts constant text[] := ARRAY['order_facts', 'order_lines', 'payment_facts', 'money_moves',
        'fulfillment_facts', 'parcel_facts', 'shipment_facts', 'delivery_failures', 'return_facts'];
    -- The rows a change feeds: (key column of the changed row, table, its column matched).
    feeds constant text[][] := ARRAY[
        ['order_id', 'order_facts', 'order_id'],
        ['order_id', 'parcel_facts', 'order_id'],
        ['order_id', 'shipment_facts', 'order_id'],
        ['shipment_id', 'shipment_facts', 'shipment_id'],
        ['return_id', 'return_facts', 'return_id']];
    t text;
    i int;
    parts text[];
    times text;
    mark text;
BEGIN
    FOREACH t IN ARRAY facts LOOP
        parts := '{}';
        times := rollup_time_columns(t, 'c');
        IF times IS NOT NULL THEN
            parts := parts || format('SELECT unnest(%s) FROM changed c', times);
        END IF;
        FOR i IN 1 .. array_length(feeds, 1) LOOP
            CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = t::regclass AND attname = feeds[i][1] AND NOT attisdropped);
            -- The changed table by its own key: its rows there are the changed rows.
            CONTINUE WHEN feeds[i][2] = t AND feeds[i][3] = feeds[i][1]
                AND EXISTS (SELECT 1 FROM pg_index x JOIN pg_attribute a
                    ON a.attrelid = x.indrelid AND a.attnum = ALL (x.indkey::int2[])
                    WHERE x.indrelid = t::regclass AND x.indisprimary AND a.attname = feeds[i][1]);
            parts := parts || format(
                'SELECT unnest(%s) FROM %I r WHERE r.%I IN (SELECT c.%I FROM changed c)',
                rollup_time_columns(feeds[i][2], 'r'), feeds[i][2], feeds[i][3], feeds[i][1]);
        END LOOP;
        mark := format(
            'INSERT INTO rollup_stale (hour)
             SELECT DISTINCT date_trunc(''hour'', x.t, ''UTC'') FROM (%s) x (t)
             WHERE x.t IS NOT NULL ORDER BY 1', array_to_string(parts, ' UNION ALL '));
        EXECUTE format(
            'CREATE OR REPLACE FUNCTION %I() RETURNS trigger LANGUAGE plpgsql AS $f$
             BEGIN
                 IF TG_OP = ''DELETE'' THEN
                     IF EXISTS (SELECT FROM old_rows) THEN
                         WITH changed AS (SELECT * FROM old_rows) %s;
                     END IF;
                 -- An upsert fires the insert and the update trigger; one of them has no rows.
                 ELSIF NOT EXISTS (SELECT FROM new_rows) THEN
                     NULL;
                 ELSIF TG_OP = ''INSERT'' THEN
                     WITH changed AS (SELECT * FROM new_rows) %s;
                 ELSE
                     WITH changed AS (SELECT * FROM new_rows UNION ALL SELECT * FROM old_rows) %s;
                 END IF;
                 RETURN NULL;
             END
             $f$', 'rollup_mark_' || t, mark, mark, mark);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_stale_ins', t);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_stale_upd', t);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_stale_del', t);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_unchanged', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I
            FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()', t || '_unchanged', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION %I()', t || '_stale_ins', t, 'rollup_mark_' || t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I
            REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION %I()', t || '_stale_upd', t, 'rollup_mark_' || t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION %I()', t || '_stale_del', t, 'rollup_mark_' || t);
    END LOOP;
END
$gen$;

-- `ARRAY[alias.a_at, alias.b_at, …]` over the `…_at` columns of `tbl`, or NULL if it has none.
CREATE FUNCTION rollup_time_columns(tbl text, alias text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT 'ARRAY[' || string_agg(format('%s.%I', alias, attname), ', ' ORDER BY attnum)
        || ']::timestamptz[]'
    FROM pg_attribute
    WHERE attrelid = tbl::regclass AND attnum > 0 AND NOT attisdropped AND attname LIKE '%\_at'
$$;

SELECT rollup_install_stale_marks();

DROP FUNCTION rollup_mark_stale();
DROP FUNCTION rollup_mark_hours(jsonb[]);
