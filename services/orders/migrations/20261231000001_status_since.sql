-- When the order entered its current status, kept on the order itself: the stage-duration
-- histogram read it from the timeline with one more query on every transition (docs/BENCHMARKS.md,
-- session 6). Orders placed before this migration have none until their next transition, which
-- then goes unmeasured.
ALTER TABLE orders ADD COLUMN status_since timestamptz;
