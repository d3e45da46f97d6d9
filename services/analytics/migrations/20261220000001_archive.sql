-- The archive: orders completed, cancelled or rejected longer ago than the configured age live
-- in Parquet files (one directory per month the orders were placed in) instead of the read
-- models. A file counts only once its row is here: a file on disk without one was left by an
-- archiver that stopped before committing, and the next run deletes it (its orders are still
-- hot and are written again).

CREATE TABLE archive_files (
    -- Relative to the archive directory, e.g. orders/month=2026-03/part-<uuid>.parquet.
    path            text PRIMARY KEY,
    -- The first day of the month the file's orders were placed in (UTC).
    month           date NOT NULL,
    row_count       bigint NOT NULL,
    byte_count      bigint NOT NULL,
    -- SHA-256 of the file, hex: a damaged or replaced file is refused when read.
    sha256          text NOT NULL,
    first_placed_at timestamptz NOT NULL,
    last_placed_at  timestamptz NOT NULL,
    archived_at     timestamptz NOT NULL
);
CREATE INDEX archive_files_placed ON archive_files (first_placed_at, last_placed_at);

-- Which orders left the read models: a rebuild replays their kept events and removes them
-- again, and an event arriving late for one is not left behind as a stray hot row.
CREATE TABLE archived_orders (
    order_id text PRIMARY KEY,
    path     text NOT NULL REFERENCES archive_files (path)
);

-- The archiver removes an order's rows from every read model by order id.
CREATE INDEX delivery_failures_order ON delivery_failures (order_id);
CREATE INDEX problem_facts_order ON problem_facts (order_id);
CREATE INDEX survey_facts_order ON survey_facts (order_id);
CREATE INDEX review_facts_order ON review_facts (order_id);
CREATE INDEX case_facts_order ON case_facts (order_id);
