-- Order updates (orders' UpdateOrder after confirmation) applied to reservations: one row per
-- reservation, update and kind, so a request for an update that comes again under another event
-- id is applied once. An amendment keeps its answer, which a repeated request gets again.
CREATE TABLE reservation_updates (
    reservation_id text NOT NULL,
    update_id      text NOT NULL,
    -- AMEND (units added) or RELEASE (units given back)
    kind           text NOT NULL,
    -- AMEND: AMENDED or REFUSED, and the answer event as published (opaque bytes here).
    outcome        text NOT NULL DEFAULT '',
    answer         bytea NOT NULL DEFAULT ''::bytea,
    applied_at     timestamptz NOT NULL,
    PRIMARY KEY (reservation_id, update_id, kind)
);
