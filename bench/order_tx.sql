-- The raw per-order baseline of issue 13 (docs/BENCHMARKS.md): one order-shaped transaction
-- sent straight to PostgreSQL — the order row, its two lines, the conditional stock reservation
-- of each line, and an outbox row — committed once per order, as a monolith would.
--
-- Tables: created by `ordercycle-bench` in database `ordercycle_bench_baseline`
-- (crates/bench/src/baseline.rs, SCHEMA: the columns and indexes of orders' `orders`,
-- `order_lines` and `oc_outbox`, plus a `stock` table). The harness runs
--   pgbench -n -M prepared -c 16 -j 2 -T 20 -D skus=50 -f bench/order_tx.sql \
--           -h 127.0.0.1 -p 5432 -U postgres ordercycle_bench_baseline
-- `skus` is the catalog size; the harness passes the number it seeds the platform with, and
-- the load generator draws lines the same way: two distinct SKUs, 1–2 units each.
\set a random(1, :skus)
\set b random(1, :skus - 1)
\set b case when :b >= :a then :b + 1 else :b end
-- Reserve in SKU order, as a careful monolith would, so two orders never deadlock.
\set s1 least(:a, :b)
\set s2 greatest(:a, :b)
\set q1 random(1, 2)
\set q2 random(1, 2)
BEGIN;
INSERT INTO orders (id, order_number, request_id, request_hash, status, customer_id, customer,
                    channel, fulfillment_mode, shipping_address, payment_method, payment_token,
                    currency, total_minor, created_at, updated_at)
VALUES (gen_random_uuid(), 'OC-B-' || nextval('order_number_seq'), gen_random_uuid()::text,
        '\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'PENDING',
        'bench-' || :client_id,
        '{"id": "bench", "name": "Bench Customer", "email": "bench@example.com", "phone": "+49 30 1234567"}',
        'WEB', 'SHIP',
        '{"recipient": "Bench Customer", "line1": "Unter den Linden 1", "city": "Berlin", "region": "BE", "postal_code": "10117", "country_code": "DE"}',
        'CARD', 'tok_visa', 'EUR', 3399, now(), now())
RETURNING id AS order_id \gset
INSERT INTO order_lines (order_id, line_id, position, sku, quantity, unit_price_minor, name)
VALUES (:order_id, 'L1', 1, 'BENCH-' || lpad(:s1::text, 4, '0'), :q1, 1000, 'Bench item'),
       (:order_id, 'L2', 2, 'BENCH-' || lpad(:s2::text, 4, '0'), :q2, 1000, 'Bench item');
UPDATE stock SET reserved = reserved + :q1
 WHERE sku = 'BENCH-' || lpad(:s1::text, 4, '0') AND on_hand - reserved >= :q1;
UPDATE stock SET reserved = reserved + :q2
 WHERE sku = 'BENCH-' || lpad(:s2::text, 4, '0') AND on_hand - reserved >= :q2;
INSERT INTO outbox (id, subject, ce_type, aggregate_id, payload, occurred_at)
VALUES (gen_random_uuid(), 'orders.order.placed', 'ordercycle.orders.v1.OrderPlaced',
        :order_id::text, decode(repeat('0a', 320), 'hex'), now());
END;
