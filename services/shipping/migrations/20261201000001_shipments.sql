-- Shipments (outbound and return), their tracking history, and the warehouse addresses shipping
-- has learned (return shipments go to them).

CREATE SEQUENCE tracking_serial_seq;

CREATE TABLE shipments (
    id                     uuid PRIMARY KEY,
    -- AIP-155 for CreateShipment: the same request_id with the same request returns this one.
    request_id             text UNIQUE,
    request_hash           bytea,
    -- Return shipments: one per return (the natural key of orders' ReturnShipmentRequested).
    return_id              text UNIQUE,
    rma_number             text NOT NULL DEFAULT '',
    order_id               text NOT NULL,
    direction              text NOT NULL CHECK (direction IN ('OUTBOUND', 'RETURN')),
    fulfillment_id         text NOT NULL DEFAULT '',
    parcel_id              text NOT NULL DEFAULT '',
    warehouse_id           text NOT NULL,
    carrier                text NOT NULL,
    service_level          text NOT NULL,
    tracking_number        text NOT NULL UNIQUE,
    tracking_url           text NOT NULL,
    status                 text NOT NULL,
    status_at              timestamptz NOT NULL,
    ship_from              jsonb NOT NULL,
    ship_to                jsonb NOT NULL,
    weight_grams           integer NOT NULL CHECK (weight_grams > 0),
    dimensions             jsonb,
    lines                  jsonb NOT NULL,
    declared_value         jsonb,
    cash_on_delivery       jsonb,
    cash_collected         jsonb,
    transit_days           integer NOT NULL,
    handed_over_at         timestamptz,
    next_attempt_at        timestamptz,
    eta                    timestamptz,
    courier                jsonb,
    delivery_attempts      integer NOT NULL DEFAULT 0,
    last_location          text NOT NULL DEFAULT '',
    received_by            text NOT NULL DEFAULT '',
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    delivered_at           timestamptz,
    CHECK ((direction = 'OUTBOUND') = (return_id IS NULL))
);
CREATE INDEX shipments_order ON shipments (order_id, created_at DESC, id DESC);
CREATE INDEX shipments_recent ON shipments (created_at DESC, id DESC);
CREATE INDEX shipments_status ON shipments (status, created_at DESC);

CREATE TABLE tracking_events (
    id                  uuid PRIMARY KEY,
    shipment_id         uuid NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    carrier             text NOT NULL,
    -- The carrier's id of the event: its dedup key. NULL for manual events.
    carrier_event_id    text,
    status              text NOT NULL,
    carrier_status_code text NOT NULL DEFAULT '',
    description         text NOT NULL DEFAULT '',
    location            text NOT NULL DEFAULT '',
    failure_reason      text,
    occurred_at         timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL,
    -- Whether it moved the shipment, or arrived too late and is history only.
    applied             boolean NOT NULL
);
CREATE UNIQUE INDEX tracking_events_dedup ON tracking_events (carrier, carrier_event_id)
    WHERE carrier_event_id IS NOT NULL;
CREATE INDEX tracking_events_shipment ON tracking_events (shipment_id, occurred_at, recorded_at);

CREATE TABLE warehouse_addresses (
    warehouse_id text PRIMARY KEY,
    address      jsonb NOT NULL,
    updated_at   timestamptz NOT NULL
);
