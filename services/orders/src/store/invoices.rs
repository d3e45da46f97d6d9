//! The `invoices`, `invoice_lines` and `invoice_sequences` tables, and the invoice request kept
//! on `orders`.

use chrono::{DateTime, Datelike, Utc};
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::domain::invoices::{Invoice, InvoiceRequest, InvoiceType, Kind, Line, LineKind, Party};
use crate::domain::{Address, Currency};
use crate::store::orders::StoreError;

/// Keeps the invoice request given at checkout with the order.
pub async fn save_request(
    conn: &mut PgConnection,
    order_id: Uuid,
    request: &InvoiceRequest,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders SET buyer_invoice_type = $2, buyer_invoice_title = $3, buyer_tax_id = $4,
             buyer_invoice_email = $5
         WHERE id = $1",
    )
    .bind(order_id)
    .bind(request.invoice_type.as_str())
    .bind(&request.buyer_title)
    .bind(&request.buyer_tax_id)
    .bind(&request.email)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct RequestRow {
    buyer_invoice_type: Option<String>,
    buyer_invoice_title: String,
    buyer_tax_id: String,
    buyer_invoice_email: String,
    invoice_number: Option<String>,
}

/// What an order's view shows of invoicing: its invoice request and its invoice's number.
pub async fn order_view(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<(Option<InvoiceRequest>, Option<String>), sqlx::Error> {
    let row: Option<RequestRow> = sqlx::query_as(
        "SELECT o.buyer_invoice_type, o.buyer_invoice_title, o.buyer_tax_id,
             o.buyer_invoice_email,
             (SELECT i.invoice_number FROM invoices i
              WHERE i.order_id = o.id AND i.kind = 'INVOICE') AS invoice_number
         FROM orders o WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map_or((None, None), |r| {
        (
            request(
                r.buyer_invoice_type.as_deref(),
                r.buyer_invoice_title,
                r.buyer_tax_id,
                r.buyer_invoice_email,
            ),
            r.invoice_number,
        )
    }))
}

/// The invoice request the order was placed with, if any.
pub async fn request_of(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<InvoiceRequest>, sqlx::Error> {
    Ok(order_view(conn, order_id).await?.0)
}

fn request(
    kind: Option<&str>,
    buyer_title: String,
    buyer_tax_id: String,
    email: String,
) -> Option<InvoiceRequest> {
    Some(InvoiceRequest {
        invoice_type: InvoiceType::parse(kind?)?,
        buyer_title,
        buyer_tax_id,
        email,
    })
}

/// The next number of `kind` for `entity` in the year of `at`: raises the counter and keeps
/// its row locked until the caller's transaction ends, so concurrent issuers queue and a
/// rollback leaves no gap.
pub async fn next_sequence(
    conn: &mut PgConnection,
    entity: &str,
    kind: Kind,
    at: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO invoice_sequences (legal_entity, kind, year, last_number)
         VALUES ($1, $2, $3, 1)
         ON CONFLICT (legal_entity, kind, year)
         DO UPDATE SET last_number = invoice_sequences.last_number + 1
         RETURNING last_number",
    )
    .bind(entity)
    .bind(kind.as_str())
    .bind(at.year())
    .fetch_one(conn)
    .await
}

/// What inserting a credit note found.
pub enum Issued {
    New,
    /// A document for this refund (or this order's invoice) exists already.
    Existing,
}

/// Stores a new document; a second invoice for the order, or a second credit note for the same
/// `refund_key`, is not stored (the caller checked first; this is the last guard).
pub async fn insert(
    conn: &mut PgConnection,
    invoice: &Invoice,
    refund_key: Option<&str>,
) -> Result<Issued, sqlx::Error> {
    let t = invoice.totals();
    let request = invoice.request.as_ref();
    let inserted = sqlx::query(
        "INSERT INTO invoices (id, invoice_number, kind, order_id, order_number, customer_id,
             legal_entity, seller, buyer_name, buyer_address, buyer_tax_id, buyer_email,
             buyer_invoice_type, buyer_invoice_title, currency, tax_inclusive, subtotal_minor,
             discount_minor, shipping_minor, net_minor, tax_minor, total_minor,
             credited_invoice_id, refund_key, reason, issued_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19, $20, $21, $22, $23, $24, $25, $26)
         ON CONFLICT DO NOTHING",
    )
    .bind(invoice.id)
    .bind(&invoice.number)
    .bind(invoice.kind.as_str())
    .bind(invoice.order_id)
    .bind(&invoice.order_number)
    .bind(&invoice.customer_id)
    .bind(&invoice.legal_entity)
    .bind(Json(SellerJson::from(&invoice.seller)))
    .bind(&invoice.buyer.name)
    .bind(invoice.buyer.address.as_ref().map(Json))
    .bind(&invoice.buyer.tax_id)
    .bind(&invoice.buyer.email)
    .bind(request.map(|r| r.invoice_type.as_str()))
    .bind(request.map_or("", |r| r.buyer_title.as_str()))
    .bind(invoice.currency.as_str())
    .bind(invoice.tax_inclusive)
    .bind(t.subtotal)
    .bind(t.discount)
    .bind(t.shipping)
    .bind(t.net)
    .bind(t.tax)
    .bind(t.total)
    .bind(invoice.credited.as_ref().map(|(id, _)| *id))
    .bind(refund_key)
    .bind(&invoice.reason)
    .bind(invoice.issued_at)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(Issued::Existing);
    }
    let n = invoice.lines.len();
    let positions: Vec<i32> = (1..=i32::try_from(n).unwrap_or(i32::MAX)).collect();
    let column = |f: fn(&Line) -> i64| -> Vec<i64> { invoice.lines.iter().map(f).collect() };
    let text = |f: fn(&Line) -> &str| -> Vec<&str> { invoice.lines.iter().map(f).collect() };
    sqlx::query(
        "INSERT INTO invoice_lines (invoice_id, position, kind, line_id, sku, description,
             quantity, unit_price_minor, discount_minor, tax_minor, gross_minor, tax_rate_bps)
         SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
             $7::int[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::int[])",
    )
    .bind(invoice.id)
    .bind(&positions)
    .bind(text(|l| l.kind.as_str()))
    .bind(text(|l| l.line_id.as_str()))
    .bind(text(|l| l.sku.as_str()))
    .bind(text(|l| l.description.as_str()))
    .bind(
        invoice
            .lines
            .iter()
            .map(|l| l.quantity)
            .collect::<Vec<i32>>(),
    )
    .bind(column(|l| l.unit_price))
    .bind(column(|l| l.discount))
    .bind(column(|l| l.tax))
    .bind(column(|l| l.gross))
    .bind(
        invoice
            .lines
            .iter()
            .map(|l| i32::try_from(l.tax_rate_bps).unwrap_or(i32::MAX))
            .collect::<Vec<i32>>(),
    )
    .execute(conn)
    .await?;
    Ok(Issued::New)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SellerJson {
    name: String,
    address: Option<Address>,
    tax_id: String,
}

impl From<&Party> for SellerJson {
    fn from(p: &Party) -> Self {
        Self {
            name: p.name.clone(),
            address: p.address.clone(),
            tax_id: p.tax_id.clone(),
        }
    }
}

#[derive(FromRow)]
struct InvoiceRow {
    id: Uuid,
    invoice_number: String,
    kind: String,
    order_id: Uuid,
    order_number: String,
    customer_id: String,
    legal_entity: String,
    seller: Json<SellerJson>,
    buyer_name: String,
    buyer_address: Option<Json<Address>>,
    buyer_tax_id: String,
    buyer_email: String,
    buyer_invoice_type: Option<String>,
    buyer_invoice_title: String,
    currency: String,
    tax_inclusive: bool,
    credited_invoice_id: Option<Uuid>,
    credited_number: Option<String>,
    reason: String,
    issued_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct LineRow {
    kind: String,
    line_id: String,
    sku: String,
    description: String,
    quantity: i32,
    unit_price_minor: i64,
    discount_minor: i64,
    tax_minor: i64,
    gross_minor: i64,
    tax_rate_bps: i32,
}

const SELECT: &str = "SELECT i.id, i.invoice_number, i.kind, i.order_id, i.order_number,
        i.customer_id, i.legal_entity, i.seller, i.buyer_name, i.buyer_address, i.buyer_tax_id,
        i.buyer_email, i.buyer_invoice_type, i.buyer_invoice_title, i.currency, i.tax_inclusive,
        i.credited_invoice_id, c.invoice_number AS credited_number, i.reason, i.issued_at
    FROM invoices i LEFT JOIN invoices c ON c.id = i.credited_invoice_id";

async fn with_lines(conn: &mut PgConnection, row: InvoiceRow) -> Result<Invoice, StoreError> {
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT kind, line_id, sku, description, quantity, unit_price_minor, discount_minor,
             tax_minor, gross_minor, tax_rate_bps
         FROM invoice_lines WHERE invoice_id = $1 ORDER BY position",
    )
    .bind(row.id)
    .fetch_all(conn)
    .await?;
    let corrupt = |what: &str| StoreError::Corrupt(row.order_id, format!("invoice {what}"));
    let lines = lines
        .into_iter()
        .map(|l| {
            Ok(Line {
                kind: LineKind::parse(&l.kind).ok_or_else(|| corrupt("line kind"))?,
                line_id: l.line_id,
                sku: l.sku,
                description: l.description,
                quantity: l.quantity,
                unit_price: l.unit_price_minor,
                discount: l.discount_minor,
                tax: l.tax_minor,
                gross: l.gross_minor,
                tax_rate_bps: u32::try_from(l.tax_rate_bps)
                    .map_err(|_| corrupt("line tax rate"))?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let seller = row.seller.0;
    Ok(Invoice {
        id: row.id,
        kind: Kind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?,
        currency: Currency::parse(&row.currency).ok_or_else(|| corrupt("currency"))?,
        request: request(
            row.buyer_invoice_type.as_deref(),
            row.buyer_invoice_title,
            row.buyer_tax_id.clone(),
            String::new(),
        )
        .map(|mut r| {
            r.email = row.buyer_email.clone();
            r
        }),
        number: row.invoice_number,
        order_id: row.order_id,
        order_number: row.order_number,
        customer_id: row.customer_id,
        legal_entity: row.legal_entity,
        seller: Party {
            name: seller.name,
            address: seller.address,
            tax_id: seller.tax_id,
            email: String::new(),
        },
        buyer: Party {
            name: row.buyer_name,
            address: row.buyer_address.map(|a| a.0),
            tax_id: row.buyer_tax_id,
            email: row.buyer_email,
        },
        tax_inclusive: row.tax_inclusive,
        lines,
        credited: row.credited_invoice_id.zip(row.credited_number),
        reason: row.reason,
        issued_at: row.issued_at,
    })
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Invoice>, StoreError> {
    let row: Option<InvoiceRow> = sqlx::query_as(&format!("{SELECT} WHERE i.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok(Some(with_lines(conn, row).await?)),
        None => Ok(None),
    }
}

pub async fn get_by_number(
    conn: &mut PgConnection,
    number: &str,
) -> Result<Option<Invoice>, StoreError> {
    let row: Option<InvoiceRow> = sqlx::query_as(&format!("{SELECT} WHERE i.invoice_number = $1"))
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok(Some(with_lines(conn, row).await?)),
        None => Ok(None),
    }
}

/// The order's invoice, if it has been issued.
pub async fn invoice_of(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<Invoice>, StoreError> {
    let id: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM invoices WHERE order_id = $1 AND kind = 'INVOICE'")
            .bind(order_id)
            .fetch_optional(&mut *conn)
            .await?;
    match id {
        Some(id) => get(conn, id).await,
        None => Ok(None),
    }
}

/// Locks the order's invoice row (credit notes against it queue here) and returns its id.
pub async fn lock_invoice_of(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM invoices WHERE order_id = $1 AND kind = 'INVOICE' FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await
}

/// The number of the order's invoice, if it has been issued.
pub async fn number_of(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT invoice_number FROM invoices WHERE order_id = $1 AND kind = 'INVOICE'",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await
}

/// What the credit notes against `invoice_id` have given back so far (a positive amount).
pub async fn credited(conn: &mut PgConnection, invoice_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(-sum(total_minor), 0)::bigint FROM invoices
         WHERE credited_invoice_id = $1",
    )
    .bind(invoice_id)
    .fetch_one(conn)
    .await
}

/// Whether a credit note for this refund exists.
pub async fn has_refund(conn: &mut PgConnection, refund_key: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM invoices WHERE refund_key = $1)")
        .bind(refund_key)
        .fetch_one(conn)
        .await
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub order_id: Option<Uuid>,
    pub customer_id: Option<String>,
    pub kind: Option<Kind>,
    pub legal_entity: Option<String>,
    pub issued_after: Option<DateTime<Utc>>,
    pub issued_before: Option<DateTime<Utc>>,
    /// The last (issued_at, id) of the previous page.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

/// Documents matching `f`, newest first.
pub async fn list(conn: &mut PgConnection, f: &Filter) -> Result<Vec<Invoice>, StoreError> {
    let rows: Vec<InvoiceRow> = sqlx::query_as(&format!(
        "{SELECT}
         WHERE ($1::uuid IS NULL OR i.order_id = $1)
           AND ($2::text IS NULL OR i.customer_id = $2)
           AND ($3::text IS NULL OR i.kind = $3)
           AND ($4::text IS NULL OR i.legal_entity = $4)
           AND ($5::timestamptz IS NULL OR i.issued_at >= $5)
           AND ($6::timestamptz IS NULL OR i.issued_at < $6)
           AND ($7::timestamptz IS NULL OR (i.issued_at, i.id) < ($7, $8))
         ORDER BY i.issued_at DESC, i.id DESC
         LIMIT $9"
    ))
    .bind(f.order_id)
    .bind(&f.customer_id)
    .bind(f.kind.map(Kind::as_str))
    .bind(&f.legal_entity)
    .bind(f.issued_after)
    .bind(f.issued_before)
    .bind(f.after.map(|(t, _)| t))
    .bind(f.after.map(|(_, id)| id))
    .bind(f.limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(with_lines(conn, row).await?);
    }
    Ok(out)
}
