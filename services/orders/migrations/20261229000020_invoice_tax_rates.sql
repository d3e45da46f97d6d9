-- Each invoice line's tax rate (a fapiao shows it per line), and the rate each tax adjustment of
-- an order was priced at, which the invoice's item lines take it from.

-- Tax adjustments get `rate_bps`. Those stored before it existed carry the rate only in their
-- description, written by pricing as "tax 13.00% on tea" / "included tax 7.25%".
UPDATE orders o
SET adjustments = (
    SELECT jsonb_agg(
        CASE
            WHEN a->>'kind' IN ('TAX', 'INCLUDED_TAX') AND NOT a ? 'rate_bps'
                AND a->>'description' ~ '[0-9]+\.[0-9]{2}%'
            THEN a || jsonb_build_object('rate_bps',
                replace(substring(a->>'description' FROM '([0-9]+\.[0-9]{2})%'), '.', '')::integer)
            ELSE a
        END
        ORDER BY n)
    FROM jsonb_array_elements(o.adjustments) WITH ORDINALITY AS e (a, n))
WHERE o.adjustments @> '[{"kind": "TAX"}]' OR o.adjustments @> '[{"kind": "INCLUDED_TAX"}]';

-- Basis points: 1300 = 13 %; 0 when untaxed (shipping).
ALTER TABLE invoice_lines
    ADD COLUMN tax_rate_bps integer NOT NULL DEFAULT 0 CHECK (tax_rate_bps >= 0);

-- Item lines already issued (invoices and the credit notes against them): their order line's
-- rate.
UPDATE invoice_lines l
SET tax_rate_bps = (a->>'rate_bps')::integer
FROM invoices i, orders o, jsonb_array_elements(o.adjustments) a
WHERE i.id = l.invoice_id
  AND o.id = i.order_id
  AND l.kind = 'ITEM'
  AND a->>'kind' IN ('TAX', 'INCLUDED_TAX')
  AND a->>'line_id' = l.line_id
  AND a ? 'rate_bps';

-- Credit notes' adjustment lines are taxed at the credited invoice's overall ratio: its
-- effective rate, tax over net, rounded half up.
UPDATE invoice_lines l
SET tax_rate_bps = (2 * c.tax_minor * 10000 + c.net_minor) / (2 * c.net_minor)
FROM invoices n
JOIN invoices c ON c.id = n.credited_invoice_id
WHERE n.id = l.invoice_id
  AND l.kind = 'ADJUSTMENT'
  AND c.net_minor > 0
  AND c.tax_minor > 0;
