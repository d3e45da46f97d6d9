-- Inventory: the catalog, warehouses and their bins, stock per bin, reservations, the ledger of
-- on-hand changes, idempotent requests and daily demand.

CREATE TABLE items (
    sku              text PRIMARY KEY,
    name             text NOT NULL,
    description      text NOT NULL DEFAULT '',
    category         text NOT NULL DEFAULT '',
    currency         text NOT NULL,
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
    weight_grams     integer NOT NULL CHECK (weight_grams >= 0),
    length_mm        integer NOT NULL DEFAULT 0 CHECK (length_mm >= 0),
    width_mm         integer NOT NULL DEFAULT 0 CHECK (width_mm >= 0),
    height_mm        integer NOT NULL DEFAULT 0 CHECK (height_mm >= 0),
    reorder_point    integer NOT NULL CHECK (reorder_point >= 0),
    safety_stock     integer NOT NULL CHECK (safety_stock >= 0),
    lead_time_days   integer NOT NULL CHECK (lead_time_days >= 0),
    returnable       boolean NOT NULL,
    active           boolean NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX items_category ON items (category, sku);

CREATE TABLE warehouses (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    country_code   text NOT NULL,
    region         text NOT NULL DEFAULT '',
    pickup_enabled boolean NOT NULL,
    address        jsonb,
    time_zone      text NOT NULL DEFAULT '',
    active         boolean NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE bins (
    warehouse_id  text NOT NULL REFERENCES warehouses (id),
    code          text NOT NULL,
    zone          text NOT NULL DEFAULT '',
    pick_sequence integer NOT NULL CHECK (pick_sequence >= 0),
    pickable      boolean NOT NULL,
    PRIMARY KEY (warehouse_id, code)
);

-- Units of a SKU in one bin. Reserved units are on hand and held for reservations. The last
-- CHECK is what makes overselling impossible whatever the code does: no transaction can
-- commit a bin holding more reservations than units.
CREATE TABLE bin_stock (
    sku          text NOT NULL REFERENCES items (sku),
    warehouse_id text NOT NULL,
    bin          text NOT NULL,
    on_hand      integer NOT NULL CHECK (on_hand >= 0),
    reserved     integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (sku, warehouse_id, bin),
    FOREIGN KEY (warehouse_id, bin) REFERENCES bins (warehouse_id, code),
    CONSTRAINT bin_stock_available_not_negative CHECK (reserved <= on_hand)
);
CREATE INDEX bin_stock_warehouse ON bin_stock (warehouse_id, sku);

-- One row per SKU and warehouse that has held stock: when it was first seen there (the start
-- of its demand history) and since when it has been at or below its reorder point.
CREATE TABLE stock_levels (
    sku          text NOT NULL REFERENCES items (sku),
    warehouse_id text NOT NULL REFERENCES warehouses (id),
    low_since    timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (sku, warehouse_id)
);
CREATE INDEX stock_levels_low ON stock_levels (warehouse_id) WHERE low_since IS NOT NULL;

-- Every change of on-hand units, with why.
CREATE TABLE stock_movements (
    id           uuid PRIMARY KEY,
    sku          text NOT NULL,
    warehouse_id text NOT NULL,
    bin          text NOT NULL,
    delta        integer NOT NULL CHECK (delta <> 0),
    -- RECEIVED, ADJUSTED, COMMITTED, RESTOCKED
    kind         text NOT NULL,
    -- Adjustment reason (COUNT_CORRECTION, DAMAGED ...) for ADJUSTED.
    reason       text,
    -- Supplier document, reservation id or return id.
    reference    text NOT NULL DEFAULT '',
    note         text NOT NULL DEFAULT '',
    actor_id     text NOT NULL DEFAULT '',
    occurred_at  timestamptz NOT NULL
);
CREATE INDEX stock_movements_sku ON stock_movements (sku, warehouse_id, occurred_at);

-- AIP-155: the first answer to each request_id, replayed for the same request.
CREATE TABLE stock_requests (
    method       text NOT NULL,
    request_id   text NOT NULL,
    request_hash bytea NOT NULL,
    -- The encoded response; empty until the request's transaction has computed it.
    response     bytea NOT NULL DEFAULT ''::bytea,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (method, request_id)
);

CREATE TABLE reservations (
    -- Chosen by orders (ReservationRequested.reservation_id).
    id               text PRIMARY KEY,
    order_id         text NOT NULL,
    order_number     text NOT NULL DEFAULT '',
    -- RESERVED, FIRM, PARTIALLY_COMMITTED, COMMITTED, RELEASED, EXPIRED, SHORTAGE
    status           text NOT NULL,
    fulfillment_mode text NOT NULL DEFAULT '',
    pickup_store_id  text NOT NULL DEFAULT '',
    -- Set while unconfirmed.
    expires_at       timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX reservations_order ON reservations (order_id, created_at);

-- The lines as requested; short_available is set on the lines a SHORTAGE could not fill.
CREATE TABLE reservation_lines (
    reservation_id  text NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    position        integer NOT NULL,
    line_id         text NOT NULL,
    sku             text NOT NULL,
    quantity        integer NOT NULL CHECK (quantity > 0),
    short_available integer,
    PRIMARY KEY (reservation_id, line_id)
);

-- What a reservation holds, per line, warehouse and bin. Held = quantity - committed - released.
CREATE TABLE reservation_allocations (
    reservation_id text NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    line_id        text NOT NULL,
    sku            text NOT NULL,
    warehouse_id   text NOT NULL,
    bin            text NOT NULL,
    pick_sequence  integer NOT NULL,
    quantity       integer NOT NULL CHECK (quantity > 0),
    committed      integer NOT NULL DEFAULT 0 CHECK (committed >= 0),
    released       integer NOT NULL DEFAULT 0 CHECK (released >= 0),
    PRIMARY KEY (reservation_id, line_id, warehouse_id, bin),
    CHECK (committed + released <= quantity)
);

-- Commits applied, by their natural key, so the same hand-over reported twice commits once.
CREATE TABLE reservation_commits (
    reservation_id text NOT NULL,
    fulfillment_id text NOT NULL,
    parcel_id      text NOT NULL,
    committed_at   timestamptz NOT NULL,
    PRIMARY KEY (reservation_id, fulfillment_id, parcel_id)
);

-- Restocks applied, one per return.
CREATE TABLE restocks (
    return_id    text PRIMARY KEY,
    order_id     text NOT NULL,
    warehouse_id text NOT NULL,
    restocked_at timestamptz NOT NULL
);

-- Units committed (handed over or collected) per SKU, warehouse and day of the service clock
-- (UTC): the demand history forecasts are made from.
CREATE TABLE demand_daily (
    sku          text NOT NULL,
    warehouse_id text NOT NULL,
    day          date NOT NULL,
    units        integer NOT NULL CHECK (units >= 0),
    PRIMARY KEY (sku, warehouse_id, day)
);
