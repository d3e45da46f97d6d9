-- Order totals: the operator-managed tables orders prices with (shipping rates, tax rates,
-- channel tax modes, discount codes), each order's breakdown, and the codes' redemptions.
-- The rounding rule is in src/domain/pricing.rs.

-- One weight bracket: the fee from min_weight_grams up to the next bracket of the same
-- destination, service level and currency. '*' is any country / any region of the country.
CREATE TABLE shipping_rates (
    country_code     text NOT NULL,
    region           text NOT NULL DEFAULT '*',
    service_level    text NOT NULL,
    currency         text NOT NULL,
    min_weight_grams bigint NOT NULL CHECK (min_weight_grams >= 0),
    fee_minor        bigint NOT NULL CHECK (fee_minor >= 0),
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (country_code, region, service_level, currency, min_weight_grams)
);

CREATE TABLE tax_rates (
    country_code text NOT NULL,
    region       text NOT NULL DEFAULT '*',
    category     text NOT NULL DEFAULT '*',
    rate_bps     integer NOT NULL CHECK (rate_bps BETWEEN 0 AND 10000),
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (country_code, region, category)
);

-- A channel not listed is tax-exclusive.
CREATE TABLE channel_tax_modes (
    channel    text PRIMARY KEY,
    mode       text NOT NULL CHECK (mode IN ('EXCLUSIVE', 'INCLUSIVE')),
    updated_at timestamptz NOT NULL
);

CREATE TABLE discount_codes (
    code                  text PRIMARY KEY,
    kind                  text NOT NULL CHECK (kind IN ('PERCENTAGE', 'FIXED')),
    percent_bps           integer CHECK (percent_bps BETWEEN 1 AND 10000),
    amount_minor          bigint CHECK (amount_minor > 0),
    -- The currency of amount_minor and min_spend_minor; NULL: a percentage for any currency.
    currency              text,
    scope                 text NOT NULL CHECK (scope IN ('ORDER', 'LINE')),
    sku                   text,
    min_spend_minor       bigint NOT NULL DEFAULT 0 CHECK (min_spend_minor >= 0),
    valid_from            timestamptz,
    valid_until           timestamptz,
    -- NULL: no limit.
    max_uses              integer CHECK (max_uses > 0),
    max_uses_per_customer integer CHECK (max_uses_per_customer > 0),
    -- Orders that used it; raised in the placing transaction, under the row's lock.
    times_used            integer NOT NULL DEFAULT 0,
    disabled              boolean NOT NULL DEFAULT false,
    description           text NOT NULL DEFAULT '',
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CHECK ((kind = 'PERCENTAGE') = (percent_bps IS NOT NULL)),
    CHECK ((kind = 'FIXED') = (amount_minor IS NOT NULL AND currency IS NOT NULL)),
    CHECK ((scope = 'LINE') = (sku IS NOT NULL))
);

-- One row per order that used a code, written in the order's own transaction.
CREATE TABLE discount_redemptions (
    code         text NOT NULL REFERENCES discount_codes (code),
    order_id     uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    customer_id  text NOT NULL,
    -- A guest has a new id per order: the per-customer limit also counts their e-mail.
    customer_email text NOT NULL,
    currency     text NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
    redeemed_at  timestamptz NOT NULL,
    PRIMARY KEY (code, order_id)
);
CREATE INDEX discount_redemptions_customer ON discount_redemptions (code, customer_id);
CREATE INDEX discount_redemptions_email ON discount_redemptions (code, lower(customer_email));

-- The breakdown. Orders placed before this migration have NULL subtotal_minor: their total is
-- the plain sum of their lines.
ALTER TABLE orders
    ADD COLUMN subtotal_minor         bigint,
    ADD COLUMN shipping_minor         bigint NOT NULL DEFAULT 0,
    ADD COLUMN discount_minor         bigint NOT NULL DEFAULT 0,
    ADD COLUMN tax_minor              bigint NOT NULL DEFAULT 0,
    ADD COLUMN included_tax_minor     bigint NOT NULL DEFAULT 0,
    ADD COLUMN tax_inclusive          boolean NOT NULL DEFAULT false,
    ADD COLUMN shipping_service_level text NOT NULL DEFAULT '',
    -- [{kind, code, amount_minor, line_id, description}]
    ADD COLUMN adjustments            jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD CONSTRAINT orders_total_adds_up CHECK (
        subtotal_minor IS NULL
        OR total_minor = subtotal_minor + shipping_minor - discount_minor + tax_minor
    );

ALTER TABLE order_lines
    ADD COLUMN discount_minor bigint NOT NULL DEFAULT 0 CHECK (discount_minor >= 0),
    ADD COLUMN tax_minor      bigint NOT NULL DEFAULT 0 CHECK (tax_minor >= 0),
    -- NULL for orders placed before totals: unit price x quantity.
    ADD COLUMN charged_minor  bigint CHECK (charged_minor >= 0),
    ADD COLUMN category       text NOT NULL DEFAULT '',
    ADD COLUMN weight_grams   integer NOT NULL DEFAULT 0;

-- Inventory's unit weight, for shipping brackets.
ALTER TABLE catalog_items ADD COLUMN weight_grams integer NOT NULL DEFAULT 0;
