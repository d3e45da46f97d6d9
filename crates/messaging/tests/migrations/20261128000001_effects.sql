-- The visible effect of the probe consumer: one row per application of an event.
CREATE TABLE effects (
    event_id uuid NOT NULL,
    n        integer NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
