-- Pre-aggregated read models for the dashboard (crate::store::rollup). The fact tables stay the
-- truth; the rollups are a cache of their hourly (or daily) sums that a dashboard question reads
-- instead of every order of its range. Rollups that no question buckets by time zone are kept by
-- day, with a twin by hour for the partial days at the ends of a range.
--
-- How they stay exact: every write to a fact table the rollups read appends the UTC hours it may
-- have changed to `rollup_stale` (a statement trigger, append-only, so concurrent consumers never
-- wait on each other). A question reads rollup rows only for whole, clean buckets of its range and
-- computes the partial buckets at its ends and every stale bucket from the facts, in the same
-- statement (one snapshot). The refresher recomputes stale buckets and removes their marks in one
-- REPEATABLE READ transaction, so a mark written after its snapshot survives.

CREATE TABLE rollup_stale (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hour      timestamptz NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rollup_stale_hour ON rollup_stale (hour);

-- Marks the hour of every `…_at` time of the changed rows, and of the rows they feed: the order
-- (figures by placement hour count its lines, payments, refunds, returns and shipments), its
-- parcels and shipments (dispatch time reads the order's confirmation), the shipment of a
-- delivery failure, the return of a return line.
CREATE FUNCTION rollup_mark_stale() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT to_jsonb(n) AS r FROM new_rows n'
        WHEN 'DELETE' THEN 'SELECT to_jsonb(o) AS r FROM old_rows o'
        ELSE 'SELECT to_jsonb(n) AS r FROM new_rows n UNION ALL SELECT to_jsonb(o) FROM old_rows o'
    END;
BEGIN
    -- EXECUTE: the transition tables a statement may name depend on the operation.
    EXECUTE format($q$
        WITH changed AS MATERIALIZED (%s),
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
        WHERE e.key LIKE '%%\_at' AND e.value IS NOT NULL
        ORDER BY 1
    $q$, changed);
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['order_facts', 'order_lines', 'payment_facts', 'money_moves',
        'fulfillment_facts', 'parcel_facts', 'shipment_facts', 'delivery_failures',
        'return_facts'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_stale()', t || '_stale_ins', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I
            REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_stale()', t || '_stale_upd', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_stale()', t || '_stale_del', t);
    END LOOP;
END
$$;

-- The histogram bin of a duration in microseconds: bin 0 holds up to 1 ms, bin b ≥ 1 holds
-- (1 ms · 1.02^(b-1), 1 ms · 1.02^b]. Crate::domain::stats reads a bin back as 2·γ^b/(γ+1) ms,
-- within 1 % of every duration in it.
CREATE FUNCTION rollup_bin(micros bigint) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN micros <= 1000 THEN 0 ELSE ceil(ln(micros / 1000.0) / ln(1.02))::int END $$;

CREATE FUNCTION rollup_micros(d interval) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (extract(epoch FROM d) * 1000000)::bigint $$;

-- Orders by placement hour, currency and channel: sales, the funnel and the order rates.
CREATE TABLE rollup_sales (
    bucket        timestamptz NOT NULL,
    currency_code text NOT NULL,
    channel       int NOT NULL,
    orders        bigint NOT NULL,
    cancelled     bigint NOT NULL,
    completed     bigint NOT NULL,
    units         bigint NOT NULL,
    gross_minor   bigint NOT NULL,
    kept_minor    bigint NOT NULL,
    refunds_minor bigint NOT NULL,
    confirmed     bigint NOT NULL,
    dispatched    bigint NOT NULL,
    delivered     bigint NOT NULL,
    accepted      bigint NOT NULL,
    perfect       bigint NOT NULL,
    shortage      bigint NOT NULL,
    held          bigint NOT NULL,
    approved      bigint NOT NULL,
    rejected      bigint NOT NULL,
    PRIMARY KEY (bucket, currency_code, channel)
);

-- Orders holding a SKU by placement hour: a sales trend filtered by SKU.
CREATE TABLE rollup_sku_sales (
    bucket        timestamptz NOT NULL,
    currency_code text NOT NULL,
    channel       int NOT NULL,
    sku           text NOT NULL,
    orders        bigint NOT NULL,
    cancelled     bigint NOT NULL,
    units         bigint NOT NULL,
    gross_minor   bigint NOT NULL,
    kept_minor    bigint NOT NULL,
    refunds_minor bigint NOT NULL,
    PRIMARY KEY (sku, bucket, currency_code, channel)
);
CREATE INDEX rollup_sku_sales_bucket ON rollup_sku_sales (bucket);

-- Sales by placement day and SKU (the breakdown has no time zone, and days keep it small).
CREATE TABLE rollup_sku_days (
    bucket        timestamptz NOT NULL,
    currency_code text NOT NULL,
    sku           text NOT NULL,
    orders        bigint NOT NULL,
    units         bigint NOT NULL,
    revenue_minor bigint NOT NULL,
    PRIMARY KEY (bucket, currency_code, sku)
);
-- The same by hour, for the partial days at the ends of a range.
CREATE TABLE rollup_sku_hours (
    bucket        timestamptz NOT NULL,
    currency_code text NOT NULL,
    sku           text NOT NULL,
    orders        bigint NOT NULL,
    units         bigint NOT NULL,
    revenue_minor bigint NOT NULL,
    PRIMARY KEY (bucket, currency_code, sku)
);

-- Sales by placement day, country and region.
CREATE TABLE rollup_region_days (
    bucket        timestamptz NOT NULL,
    currency_code text NOT NULL,
    country_code  text NOT NULL,
    region        text NOT NULL,
    orders        bigint NOT NULL,
    units         bigint NOT NULL,
    revenue_minor bigint NOT NULL,
    PRIMARY KEY (bucket, currency_code, country_code, region)
);
-- The same by hour, for the partial days at the ends of a range.
CREATE TABLE rollup_region_hours (
    bucket        timestamptz NOT NULL,
    currency_code text NOT NULL,
    country_code  text NOT NULL,
    region        text NOT NULL,
    orders        bigint NOT NULL,
    units         bigint NOT NULL,
    revenue_minor bigint NOT NULL,
    PRIMARY KEY (bucket, currency_code, country_code, region)
);

-- Cancelled orders by placement day, channel and reason.
CREATE TABLE rollup_cancel_days (
    bucket  timestamptz NOT NULL,
    channel int NOT NULL,
    reason  int NOT NULL,
    orders  bigint NOT NULL,
    PRIMARY KEY (bucket, channel, reason)
);
-- The same by hour, for the partial days at the ends of a range.
CREATE TABLE rollup_cancel_hours (
    bucket  timestamptz NOT NULL,
    channel int NOT NULL,
    reason  int NOT NULL,
    orders  bigint NOT NULL,
    PRIMARY KEY (bucket, channel, reason)
);

-- Orders and their payments by placement day, channel and payment method.
CREATE TABLE rollup_method_days (
    bucket     timestamptz NOT NULL,
    channel    int NOT NULL,
    method     int NOT NULL,
    orders     bigint NOT NULL,
    authorized bigint NOT NULL,
    declined   bigint NOT NULL,
    PRIMARY KEY (bucket, channel, method)
);
-- The same by hour, for the partial days at the ends of a range.
CREATE TABLE rollup_method_hours (
    bucket     timestamptz NOT NULL,
    channel    int NOT NULL,
    method     int NOT NULL,
    orders     bigint NOT NULL,
    authorized bigint NOT NULL,
    declined   bigint NOT NULL,
    PRIMARY KEY (bucket, channel, method)
);

-- Duration histograms by the hour a duration ended (a cycle stage, a parcel's dispatch) or, for
-- review decisions, the order's placement hour. `series` is the stage code (1–9), 101 for the
-- review decision (by channel), 201 for dispatch (by warehouse, `dim`).
CREATE TABLE rollup_durations (
    bucket       timestamptz NOT NULL,
    series       int NOT NULL,
    channel      int NOT NULL,
    dim          text NOT NULL,
    bin          int NOT NULL,
    samples      bigint NOT NULL,
    micros       bigint NOT NULL,
    PRIMARY KEY (bucket, series, channel, dim, bin)
);

-- Warehouse work by the hour each step happened.
CREATE TABLE rollup_warehouse (
    bucket              timestamptz NOT NULL,
    warehouse_id        text NOT NULL,
    created             bigint NOT NULL,
    units_picked        bigint NOT NULL,
    units_short         bigint NOT NULL,
    pickups_ready       bigint NOT NULL,
    pickups_collected   bigint NOT NULL,
    parcels_packed      bigint NOT NULL,
    weight_grams        bigint NOT NULL,
    weighed             bigint NOT NULL,
    handed_over         bigint NOT NULL,
    delivered           bigint NOT NULL,
    first_attempt       bigint NOT NULL,
    with_eta            bigint NOT NULL,
    on_time             bigint NOT NULL,
    failures            bigint NOT NULL,
    PRIMARY KEY (bucket, warehouse_id)
);

-- Units delivered by the order's delivery day and SKU: the return rate's denominator.
CREATE TABLE rollup_delivered_sku_days (
    bucket timestamptz NOT NULL,
    sku    text NOT NULL,
    units  bigint NOT NULL,
    PRIMARY KEY (bucket, sku)
);
-- The same by hour, for the partial days at the ends of a range.
CREATE TABLE rollup_delivered_sku_hours (
    bucket timestamptz NOT NULL,
    sku    text NOT NULL,
    units  bigint NOT NULL,
    PRIMARY KEY (bucket, sku)
);

-- The times the rollups are computed by, and the return and problem questions, need ranges.
CREATE INDEX order_facts_confirmed ON order_facts (confirmed_at);
CREATE INDEX order_facts_decided ON order_facts (decided_at);
CREATE INDEX order_facts_dispatched ON order_facts (dispatched_at);
CREATE INDEX order_facts_delivered ON order_facts (delivered_at);
CREATE INDEX order_facts_accepted ON order_facts (accepted_at);
CREATE INDEX order_facts_completed ON order_facts (completed_at);
CREATE INDEX fulfillment_facts_created ON fulfillment_facts (created_at);
CREATE INDEX fulfillment_facts_picked ON fulfillment_facts (picked_at);
CREATE INDEX fulfillment_facts_ready ON fulfillment_facts (ready_at);
CREATE INDEX fulfillment_facts_picked_up ON fulfillment_facts (picked_up_at);
CREATE INDEX parcel_facts_packed ON parcel_facts (packed_at);
CREATE INDEX parcel_facts_handed_over ON parcel_facts (handed_over_at);
CREATE INDEX shipment_facts_delivered ON shipment_facts (delivered_at);
CREATE INDEX delivery_failures_failed ON delivery_failures (failed_at);
CREATE INDEX delivery_failures_shipment ON delivery_failures (shipment_id);
CREATE INDEX return_facts_requested ON return_facts (requested_at);
CREATE INDEX return_facts_closed ON return_facts (closed_at);
CREATE INDEX problem_facts_reported ON problem_facts (reported_at);
CREATE INDEX survey_facts_invited ON survey_facts (invited_at);
CREATE INDEX survey_facts_submitted ON survey_facts (submitted_at);
CREATE INDEX review_facts_published ON review_facts (published_at);
CREATE INDEX case_facts_opened ON case_facts (opened_at);
CREATE INDEX case_facts_resolved ON case_facts (resolved_at);
CREATE INDEX stock_lows_detected ON stock_lows (detected_at);

-- Every customer's orders in placement order, kept by a row trigger on order_facts in the same
-- transaction: who is new and who came back in a range is then one scan of the range's orders
-- (distinct customers cannot be summed from hourly rows).
CREATE TABLE customer_orders (
    order_id        text PRIMARY KEY,
    customer_id     text NOT NULL,
    channel         int NOT NULL,
    placed_at       timestamptz NOT NULL,
    -- 1 for the customer's first order.
    seq             int NOT NULL,
    first_placed_at timestamptz NOT NULL,
    prev_placed_at  timestamptz,
    -- The customer's previous order in the same channel.
    prev_channel_placed_at timestamptz,
    next_placed_at  timestamptz
);
CREATE INDEX customer_orders_customer ON customer_orders (customer_id);
CREATE INDEX customer_orders_placed ON customer_orders (placed_at)
    INCLUDE (channel, seq, prev_placed_at, prev_channel_placed_at, next_placed_at);
CREATE INDEX customer_orders_first ON customer_orders (first_placed_at)
    INCLUDE (placed_at, seq, prev_placed_at, next_placed_at);

CREATE FUNCTION customer_orders_renumber(customers text[]) RETURNS void LANGUAGE sql AS $$
    DELETE FROM customer_orders WHERE customer_id = ANY(customers);
    INSERT INTO customer_orders
    SELECT order_id, customer_id, channel, placed_at,
        row_number() OVER c,
        first_value(placed_at) OVER c,
        lag(placed_at) OVER c,
        lag(placed_at) OVER (PARTITION BY customer_id, channel ORDER BY placed_at, order_id),
        lead(placed_at) OVER c
    FROM order_facts
    WHERE customer_id = ANY(customers) AND customer_id <> '' AND placed_at IS NOT NULL
    WINDOW c AS (PARTITION BY customer_id ORDER BY placed_at, order_id);
$$;

CREATE FUNCTION customer_orders_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM customer_orders_renumber(ARRAY(SELECT DISTINCT customer_id FROM new_rows
            WHERE customer_id <> '' AND placed_at IS NOT NULL));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM customer_orders_renumber(ARRAY(SELECT DISTINCT customer_id FROM old_rows
            WHERE customer_id <> ''));
    ELSE
        PERFORM customer_orders_renumber(ARRAY(
            SELECT n.customer_id FROM new_rows n JOIN old_rows o ON o.order_id = n.order_id
            WHERE (n.customer_id, n.placed_at, n.channel) IS DISTINCT FROM
                  (o.customer_id, o.placed_at, o.channel)
            UNION SELECT o.customer_id FROM new_rows n JOIN old_rows o ON o.order_id = n.order_id
            WHERE o.customer_id <> n.customer_id));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER order_facts_customers_ins AFTER INSERT ON order_facts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_orders_follow();
CREATE TRIGGER order_facts_customers_upd AFTER UPDATE ON order_facts
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customer_orders_follow();
CREATE TRIGGER order_facts_customers_del AFTER DELETE ON order_facts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_orders_follow();
