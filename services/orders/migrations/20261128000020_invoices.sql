-- Invoices and credit notes: one invoice per settled order, one credit note per refund of an
-- invoiced order, each issued in the transaction of the state change it documents. Buyer
-- details are in buyer_* columns (personal data: erasure pseudonymises them).

-- The invoice request given at checkout (e.g. for a fapiao).
ALTER TABLE orders
    ADD COLUMN buyer_invoice_type  text CHECK (buyer_invoice_type IN ('PERSONAL', 'COMPANY')),
    ADD COLUMN buyer_invoice_title text NOT NULL DEFAULT '',
    ADD COLUMN buyer_tax_id        text NOT NULL DEFAULT '',
    ADD COLUMN buyer_invoice_email text NOT NULL DEFAULT '';

-- The last number issued per legal entity, kind and year. Issuing raises it under the row's
-- lock in the issuing transaction, so numbers have no gaps: a rolled-back issue gives its
-- number back with the rest of its transaction.
CREATE TABLE invoice_sequences (
    legal_entity text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('INVOICE', 'CREDIT_NOTE')),
    year         integer NOT NULL,
    last_number  bigint NOT NULL CHECK (last_number > 0),
    PRIMARY KEY (legal_entity, kind, year)
);

CREATE TABLE invoices (
    id                  uuid PRIMARY KEY,
    invoice_number      text NOT NULL UNIQUE,
    kind                text NOT NULL CHECK (kind IN ('INVOICE', 'CREDIT_NOTE')),
    order_id            uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    order_number        text NOT NULL,
    customer_id         text NOT NULL,
    legal_entity        text NOT NULL,
    -- The seller as configured when issued: {name, address, tax_id, email}.
    seller              jsonb NOT NULL,
    buyer_name          text NOT NULL,
    buyer_address       jsonb,
    buyer_tax_id        text NOT NULL DEFAULT '',
    buyer_email         text NOT NULL DEFAULT '',
    -- The invoice request as given (NULL: none).
    buyer_invoice_type  text,
    buyer_invoice_title text NOT NULL DEFAULT '',
    currency            text NOT NULL,
    tax_inclusive       boolean NOT NULL,
    subtotal_minor      bigint NOT NULL,
    discount_minor      bigint NOT NULL,
    shipping_minor      bigint NOT NULL,
    net_minor           bigint NOT NULL,
    tax_minor           bigint NOT NULL,
    total_minor         bigint NOT NULL,
    -- Credit notes: the invoice corrected, and the refund documented (one note per refund).
    credited_invoice_id uuid REFERENCES invoices (id),
    refund_key          text UNIQUE,
    reason              text NOT NULL DEFAULT '',
    issued_at           timestamptz NOT NULL,
    CHECK ((kind = 'CREDIT_NOTE') = (credited_invoice_id IS NOT NULL AND refund_key IS NOT NULL)),
    CHECK (total_minor = net_minor + tax_minor),
    CHECK ((kind = 'INVOICE' AND total_minor >= 0) OR (kind = 'CREDIT_NOTE' AND total_minor < 0))
);
-- One invoice per order, whatever redeliveries.
CREATE UNIQUE INDEX invoices_one_per_order ON invoices (order_id) WHERE kind = 'INVOICE';
CREATE INDEX invoices_order ON invoices (order_id, issued_at);
CREATE INDEX invoices_customer ON invoices (customer_id, issued_at DESC, id DESC);
CREATE INDEX invoices_listing ON invoices (issued_at DESC, id DESC);

CREATE TABLE invoice_lines (
    invoice_id       uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position         integer NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('ITEM', 'SHIPPING', 'ADJUSTMENT')),
    line_id          text NOT NULL DEFAULT '',
    sku              text NOT NULL DEFAULT '',
    description      text NOT NULL,
    quantity         integer NOT NULL,
    unit_price_minor bigint NOT NULL,
    discount_minor   bigint NOT NULL,
    tax_minor        bigint NOT NULL,
    gross_minor      bigint NOT NULL,
    PRIMARY KEY (invoice_id, position)
);
