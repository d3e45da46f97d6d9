//! Invoices and credit notes: issued inside the transaction of the change they document, and
//! rendered as PDF.
//!
//! - [`issue`]: when payments reports an order settled, the saga's `IssueInvoice` command
//!   issues its invoice — once: the order's row is locked by the saga, an existing invoice is
//!   found first, and a unique index on (order, kind INVOICE) is the last guard.
//! - [`credit`]: every refund orders asks payments for on an invoiced order (a cancellation
//!   after capture, a case resolved with a refund, a return refunded by policy) gets a credit
//!   note in the same transaction, keyed by the refund (`cancel:<order>`, `case:<case>`,
//!   `return:<rma>`) so a redelivered fact cannot issue a second. A refund decided before the
//!   order's invoice exists (a case resolved before payments reports settlement) gets none.
//! - Numbers come from a counter row per legal entity, kind and year, raised under its lock in
//!   the issuing transaction ([`store::invoices::next_sequence`]): no gaps, no duplicates.
//! - [`pdf`] renders a document with [`crate::pdf`]: Latin text in Helvetica, Chinese — a
//!   buyer title, an item's name, an address — in STSong-Light (neither embedded), each line's
//!   tax rate in a "Tax %" column. Characters neither font is sure to have (other scripts,
//!   emoji) are shown as Unicode code points (`<U+0416>`) under a line saying so; the invoice
//!   record (GetInvoice) holds the original text.

use chrono::{DateTime, Utc};
use contracts::money;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::invoices::{
    self, Credit, Invoice, Kind, LegalEntity, LineKind, Party, credit_lines, entity_for,
    invoice_lines, units_value, whole,
};
use crate::domain::{Fulfillment, Order};
use crate::pdf::{self, Document, Font, PAGE_HEIGHT, Page};
use crate::store::orders::StoreError;
use crate::store::{self, timeline};

/// Issues the invoice of a settled order, unless it has one. Call with the order's row locked.
pub async fn issue(
    tx: &mut PgConnection,
    entities: &[LegalEntity],
    order: &Order,
    now: DateTime<Utc>,
) -> Result<Option<Invoice>, StoreError> {
    if store::invoices::number_of(tx, order.id).await?.is_some() {
        return Ok(None);
    }
    let request = store::invoices::request_of(tx, order.id).await?;
    let billing = order.billing_address.clone().or(match &order.fulfillment {
        Fulfillment::Ship { address } => Some(address.clone()),
        Fulfillment::StorePickup { .. } => None,
    });
    let country = match &order.fulfillment {
        Fulfillment::Ship { address } => address.country_code.clone(),
        Fulfillment::StorePickup { .. } => billing
            .as_ref()
            .map(|a| a.country_code.clone())
            .unwrap_or_default(),
    };
    // Configuration always names at least one entity; with none matching, the first issues.
    let Some(entity) =
        entity_for(entities, &country, order.channel.as_str()).or_else(|| entities.first())
    else {
        return Ok(None);
    };
    let title = request
        .as_ref()
        .map(|r| r.buyer_title.clone())
        .filter(|t| !t.is_empty());
    let buyer = Party {
        name: title.unwrap_or_else(|| {
            billing
                .as_ref()
                .map(|a| a.recipient.clone())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| order.customer.name.clone())
        }),
        address: billing,
        tax_id: request
            .as_ref()
            .map(|r| r.buyer_tax_id.clone())
            .unwrap_or_default(),
        email: request
            .as_ref()
            .map(|r| r.email.clone())
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| order.customer.email.clone()),
    };
    let sequence = store::invoices::next_sequence(tx, &entity.code, Kind::Invoice, now).await?;
    let invoice = Invoice {
        id: Uuid::now_v7(),
        number: invoices::number(Kind::Invoice, &entity.code, now, sequence),
        kind: Kind::Invoice,
        order_id: order.id,
        order_number: order.number.clone(),
        customer_id: order.customer.id.clone(),
        legal_entity: entity.code.clone(),
        seller: entity.party(),
        buyer,
        request,
        currency: order.total.currency,
        tax_inclusive: order.breakdown.tax_mode == crate::domain::pricing::TaxMode::Inclusive,
        lines: invoice_lines(order),
        credited: None,
        reason: String::new(),
        issued_at: now,
    };
    store::invoices::insert(tx, &invoice, None).await?;
    note(tx, &invoice, now).await?;
    Ok(Some(invoice))
}

/// What a refund gives back, line by line.
#[derive(Debug, Clone)]
pub enum Refunded {
    /// Everything the invoice has left uncredited (a cancellation after capture).
    Everything,
    /// Units of order lines: (line id, units).
    Units(Vec<(String, i32)>),
    /// Units of order lines with what the refund gives back for each: (line id, units, value).
    Valued(Vec<(String, i32, i64)>),
}

/// A refund orders has just asked payments for.
#[derive(Debug, Clone)]
pub struct Refund {
    /// One credit note per key: `cancel:<order id>`, `case:<case id>`, `return:<rma id>`.
    pub key: String,
    /// Shown on the credit note.
    pub reason: String,
    pub lines: Refunded,
    /// The refund; `None` for everything left uncredited.
    pub amount: Option<i64>,
}

/// Issues the credit note of `refund` against the order's invoice, if it has one and the
/// refund has none yet.
pub async fn credit(
    tx: &mut PgConnection,
    order_id: Uuid,
    refund: &Refund,
    now: DateTime<Utc>,
) -> Result<Option<Invoice>, StoreError> {
    // Locks in the saga's order — the order's row, then its invoice's — so that a refund
    // from a return (which holds no order lock yet) and one from the saga cannot deadlock;
    // the invoice's lock queues credit notes of the same invoice (two RMAs at once).
    store::saga::lock(tx, order_id).await?;
    let Some(invoice_id) = store::invoices::lock_invoice_of(tx, order_id).await? else {
        return Ok(None);
    };
    if store::invoices::has_refund(tx, &refund.key).await? {
        return Ok(None);
    }
    let Some(invoice) = store::invoices::get(tx, invoice_id).await? else {
        return Ok(None);
    };
    let already = store::invoices::credited(tx, invoice.id).await?;
    let item = |line_id: &str| {
        invoice
            .lines
            .iter()
            .position(|l| l.kind == LineKind::Item && l.line_id == line_id)
    };
    let credits: Vec<Credit> = match &refund.lines {
        Refunded::Everything => whole(&invoice),
        Refunded::Units(units) => units
            .iter()
            .filter_map(|(line_id, quantity)| {
                let line = item(line_id)?;
                Some(Credit {
                    line,
                    quantity: *quantity,
                    value: units_value(&invoice.lines[line], *quantity),
                })
            })
            .collect(),
        Refunded::Valued(valued) => valued
            .iter()
            .filter_map(|(line_id, quantity, value)| {
                Some(Credit {
                    line: item(line_id)?,
                    quantity: *quantity,
                    value: *value,
                })
            })
            .collect(),
    };
    let amount = refund
        .amount
        .unwrap_or_else(|| invoice.totals().total - already);
    let Some(lines) = credit_lines(&invoice, &credits, amount, already, &refund.reason) else {
        return Ok(None);
    };
    let sequence =
        store::invoices::next_sequence(tx, &invoice.legal_entity, Kind::CreditNote, now).await?;
    let note_ = Invoice {
        id: Uuid::now_v7(),
        number: invoices::number(Kind::CreditNote, &invoice.legal_entity, now, sequence),
        kind: Kind::CreditNote,
        lines,
        credited: Some((invoice.id, invoice.number.clone())),
        reason: refund.reason.clone(),
        issued_at: now,
        ..invoice
    };
    store::invoices::insert(tx, &note_, Some(&refund.key)).await?;
    note(tx, &note_, now).await?;
    Ok(Some(note_))
}

/// The order's timeline notes every document issued.
async fn note(tx: &mut PgConnection, doc: &Invoice, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let total = money::format(doc.totals().total, doc.currency.as_str());
    timeline::append(
        tx,
        timeline::Entry {
            order_id: doc.order_id,
            occurred_at: now,
            kind: match doc.kind {
                Kind::Invoice => "orders.invoice.issued",
                Kind::CreditNote => "orders.credit_note.issued",
            },
            summary: format!(
                "{} {} issued ({total})",
                doc.kind.title().to_lowercase(),
                doc.number
            ),
            actor_id: "",
            actor_type: "system",
            reason: (!doc.reason.is_empty()).then_some(doc.reason.as_str()),
            status_before: None,
            status_after: None,
            event_id: None,
        },
    )
    .await
}

// ---- PDF --------------------------------------------------------------------------------------

const LEFT: i32 = 50;
const RIGHT: i32 = 545;
const ROW: i32 = 14;
/// Rows stop here; the page number sits below.
const BOTTOM: i32 = 80;
/// Right edges of the table's number columns: quantity, unit price, discount, net, tax rate,
/// tax, amount.
const COLUMNS: [i32; 7] = [232, 292, 342, 397, 432, 482, RIGHT];
const DESCRIPTION_WIDTH: i32 = 155;

/// The lines of a party's block.
fn party_lines(p: &Party) -> Vec<String> {
    let mut out = vec![p.name.clone()];
    if let Some(a) = &p.address {
        for part in [&a.line1, &a.line2] {
            if !part.is_empty() {
                out.push(part.clone());
            }
        }
        let city = [a.postal_code.as_str(), a.city.as_str(), a.region.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        if !city.is_empty() {
            out.push(city);
        }
        if !a.country_code.is_empty() {
            out.push(a.country_code.clone());
        }
    }
    if !p.tax_id.is_empty() {
        out.push(format!("Tax id: {}", p.tax_id));
    }
    out
}

/// `text` cut (with "...") to fit `width` points at `size`.
fn fit(text: &str, size: u16, width: i32) -> String {
    if pdf::text_width(text, size) <= width {
        return text.to_owned();
    }
    let mut cut: String = text.to_owned();
    while !cut.is_empty() && pdf::text_width(&format!("{cut}..."), size) > width {
        cut.pop();
    }
    format!("{cut}...")
}

/// `text` broken into lines that fit `width` points at `size` (between characters: Chinese
/// titles have no spaces).
fn wrap(text: &str, size: u16, width: i32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        current.push(c);
        if pdf::text_width(&current, size) > width && current.chars().count() > 1 {
            current.pop();
            lines.push(std::mem::take(&mut current));
            current.push(c);
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// A tax rate as a fapiao prints it: `1300` → `13%`, `725` → `7.25%`, `1250` → `12.5%`.
fn rate(bps: u32) -> String {
    let fraction = format!("{:02}", bps % 100);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{}%", bps / 100)
    } else {
        format!("{}.{fraction}%", bps / 100)
    }
}

/// Pages being filled top to bottom.
struct Pages {
    done: Vec<Page>,
    page: Page,
    y: i32,
}

impl Pages {
    fn new() -> Self {
        Self {
            done: Vec::new(),
            page: Page::new(),
            y: PAGE_HEIGHT - 60,
        }
    }

    /// Makes room for `height` points, on a new page if need be; true if a page was begun.
    fn room(&mut self, height: i32) -> bool {
        if self.y - height >= BOTTOM {
            return false;
        }
        self.done.push(std::mem::take(&mut self.page));
        self.y = PAGE_HEIGHT - 60;
        true
    }

    fn finish(mut self, title: &str, number: &str) -> Document {
        self.done.push(self.page);
        let n = self.done.len();
        let mut doc = Document::new(title);
        for (i, mut page) in self.done.into_iter().enumerate() {
            page.text(Font::Regular, 8, LEFT, 40, number);
            page.text_right(
                Font::Regular,
                8,
                RIGHT,
                40,
                &format!("Page {} of {n}", i + 1),
            );
            doc.pages.push(page);
        }
        doc
    }
}

fn table_header(p: &mut Pages, currency: &str) {
    let y = p.y;
    p.page.text(
        Font::Bold,
        9,
        LEFT,
        y,
        &format!("Description (amounts in {currency})"),
    );
    for (right, head) in COLUMNS.iter().zip([
        "Qty",
        "Unit price",
        "Discount",
        "Net",
        "Tax %",
        "Tax",
        "Amount",
    ]) {
        p.page.text_right(Font::Bold, 9, *right, y, head);
    }
    p.page.rule(LEFT, RIGHT, y - 4);
    p.y -= ROW + 2;
}

/// The document as a PDF file.
pub fn pdf(doc: &Invoice) -> Vec<u8> {
    let currency = doc.currency.as_str();
    let amount = |minor: i64| money::decimal(minor, currency);
    let with_currency = |minor: i64| money::format(minor, currency);
    let title = doc.kind.title();
    let mut p = Pages::new();

    let y = p.y;
    p.page.text(Font::Bold, 18, LEFT, y, title);
    p.page.text_right(Font::Bold, 12, RIGHT, y, &doc.number);
    p.y -= 30;

    // Seller on the left, the document's facts on the right.
    let top = p.y;
    let mut y = top;
    for (i, line) in party_lines(&doc.seller).iter().enumerate() {
        let font = if i == 0 { Font::Bold } else { Font::Regular };
        for part in wrap(line, 9, 260) {
            p.page.text(font, 9, LEFT, y, &part);
            y -= 12;
        }
    }
    let mut facts = vec![
        format!("{title} number: {}", doc.number),
        format!("Date of issue: {}", doc.issued_at.format("%Y-%m-%d")),
        format!("Order: {}", doc.order_number),
    ];
    if let Some((_, number)) = &doc.credited {
        facts.push(format!("Credits invoice: {number}"));
    }
    if !doc.reason.is_empty() {
        facts.push(format!("Reason: {}", doc.reason));
    }
    let mut fy = top;
    for line in &facts {
        p.page
            .text(Font::Regular, 9, 330, fy, &fit(line, 9, RIGHT - 330));
        fy -= 12;
    }
    p.y = y.min(fy) - 14;

    // The buyer.
    let y = p.y;
    p.page.text(Font::Bold, 10, LEFT, y, "Bill to");
    p.y -= 13;
    let mut buyer = party_lines(&doc.buyer);
    if let Some(r) = &doc.request {
        buyer.push(format!(
            "Invoice type: {}",
            match r.invoice_type {
                invoices::InvoiceType::Personal => "personal",
                invoices::InvoiceType::Company => "company",
            }
        ));
    }
    if !doc.buyer.email.is_empty() {
        buyer.push(format!("E-mail: {}", doc.buyer.email));
    }
    let foreign = buyer.iter().any(|l| !pdf::representable(l));
    for line in buyer.iter().flat_map(|l| wrap(l, 9, 300)) {
        p.room(12);
        let y = p.y;
        p.page.text(Font::Regular, 9, LEFT, y, &line);
        p.y -= 12;
    }
    if foreign {
        let y = p.y;
        p.page.text(
            Font::Regular,
            7,
            LEFT,
            y,
            "Characters the PDF fonts lack are shown as Unicode code points (<U+XXXX>); \
             the invoice record holds the original text.",
        );
        p.y -= 12;
    }
    p.y -= 14;

    table_header(&mut p, currency);
    for line in &doc.lines {
        if p.room(ROW) {
            table_header(&mut p, currency);
        }
        let y = p.y;
        let description = if line.sku.is_empty() || line.sku == line.description {
            line.description.clone()
        } else {
            format!("{} ({})", line.description, line.sku)
        };
        p.page.text(
            Font::Regular,
            9,
            LEFT,
            y,
            &fit(&description, 9, DESCRIPTION_WIDTH),
        );
        let cells = [
            line.quantity.to_string(),
            amount(line.unit_price),
            amount(line.discount),
            amount(line.net()),
            rate(line.tax_rate_bps),
            amount(line.tax),
            amount(line.gross),
        ];
        for (right, cell) in COLUMNS.iter().zip(&cells) {
            p.page.text_right(Font::Regular, 9, *right, y, cell);
        }
        p.y -= ROW;
    }

    let t = doc.totals();
    let mut totals: Vec<(String, i64)> = vec![("Subtotal".into(), t.subtotal)];
    if t.discount != 0 {
        totals.push(("Discounts".into(), -t.discount));
    }
    if t.shipping != 0 {
        totals.push(("Shipping".into(), t.shipping));
    }
    totals.push(("Net total".into(), t.net));
    totals.push((
        if doc.tax_inclusive {
            "Tax (included)".into()
        } else {
            "Tax".into()
        },
        t.tax,
    ));
    p.room(ROW * (totals.len() as i32 + 3));
    let y = p.y;
    p.page.rule(300, RIGHT, y + 8);
    p.y -= 6;
    for (label, value) in &totals {
        let y = p.y;
        p.page.text(Font::Regular, 10, 330, y, label);
        p.page
            .text_right(Font::Regular, 10, RIGHT, y, &with_currency(*value));
        p.y -= ROW;
    }
    let y = p.y;
    p.page.text(Font::Bold, 11, 330, y, "Total");
    p.page
        .text_right(Font::Bold, 11, RIGHT, y, &with_currency(t.total));
    p.y -= ROW + 6;
    if doc.tax_inclusive {
        let y = p.y;
        p.page
            .text(Font::Regular, 8, LEFT, y, "Prices include tax.");
    }
    p.finish(&format!("{title} {}", doc.number), &doc.number)
        .render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::invoices::{InvoiceRequest, InvoiceType, Line};
    use crate::domain::{Address, Currency};

    fn sample(lines: usize) -> Invoice {
        let line = |i: usize| Line {
            kind: LineKind::Item,
            line_id: format!("L{i}"),
            sku: format!("SKU-{i}"),
            description: format!("Item (grade {i}) with a rather long name \\ that gets cut"),
            quantity: 2,
            unit_price: 1250,
            discount: 0,
            tax: 475,
            gross: 2975,
            tax_rate_bps: 1900,
        };
        Invoice {
            id: Uuid::nil(),
            number: "INV-DE01-2026-000042".into(),
            kind: Kind::Invoice,
            order_id: Uuid::nil(),
            order_number: "OC-261128-000001".into(),
            customer_id: "cust-1".into(),
            legal_entity: "DE01".into(),
            seller: Party {
                name: "ordercycle GmbH".into(),
                address: None,
                tax_id: "DE123456789".into(),
                email: String::new(),
            },
            buyer: Party {
                name: "上海茶叶有限公司".into(),
                address: Some(Address {
                    recipient: "Mei Lin".into(),
                    line1: "Nanjing Road 100".into(),
                    line2: String::new(),
                    city: "Shanghai".into(),
                    region: String::new(),
                    postal_code: "200001".into(),
                    country_code: "CN".into(),
                    phone: String::new(),
                }),
                tax_id: "91310000MA1FL23X4Y".into(),
                email: "fapiao@tea.example.cn".into(),
            },
            request: Some(InvoiceRequest {
                invoice_type: InvoiceType::Company,
                buyer_title: "上海茶叶有限公司".into(),
                buyer_tax_id: "91310000MA1FL23X4Y".into(),
                email: String::new(),
            }),
            currency: Currency::parse("EUR").unwrap(),
            tax_inclusive: false,
            lines: (1..=lines).map(line).collect(),
            credited: None,
            reason: String::new(),
            issued_at: Utc::now(),
        }
    }

    #[test]
    fn a_long_invoice_runs_over_several_numbered_pages() {
        let file = pdf(&sample(80));
        let text = String::from_utf8_lossy(&file);
        assert!(text.contains("/Count 3"), "80 lines need three pages");
        assert!(text.contains("(Page 3 of 3) Tj"));
        assert!(text.contains("(Total) Tj"));
        assert!(text.contains("(2380.00 EUR) Tj"));
        assert!(text.contains("...) Tj"), "long descriptions are cut");
    }

    #[test]
    fn a_short_invoice_fits_one_page() {
        let text = String::from_utf8_lossy(&pdf(&sample(2))).into_owned();
        assert!(text.contains("/Count 1"));
        assert!(text.contains("(59.50 EUR) Tj"));
        assert!(text.contains("(19%) Tj"));
    }

    #[test]
    fn a_fapiao_shows_chinese_in_the_cjk_font_and_each_lines_tax_rate() {
        let mut doc = sample(2);
        doc.lines[0].description = "龙井茶 250 g".into();
        doc.lines[0].tax_rate_bps = 1300;
        doc.lines[1].tax_rate_bps = 725;
        let file = pdf(&doc);
        crate::pdf::tests::assert_well_formed(&file);
        let text = String::from_utf8_lossy(&file);
        assert!(text.contains("/Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H"));
        // The title in one run; the line's name in two, then its SKU.
        assert!(text.contains("/F3 9 Tf 50 "));
        assert!(text.contains(" Td <4E0A6D77833653F667099650516C53F8> Tj ET"));
        assert!(text.contains(r" Td <9F994E958336> Tj /F1 9 Tf ( 250 g \(SKU-1\)) Tj ET"));
        assert!(!text.contains("U+"), "nothing left as code points");
        assert!(
            !text.contains("Unicode code points"),
            "so no note about them"
        );
        for cell in ["(Tax %) Tj", "(13%) Tj", "(7.25%) Tj"] {
            assert!(text.contains(cell), "{cell}");
        }
        assert_eq!(rate(0), "0%");
        assert_eq!(rate(1250), "12.5%");
    }

    #[test]
    fn characters_neither_font_has_are_code_points_under_a_note() {
        let mut doc = sample(1);
        doc.buyer.name = "ООО Чай".into();
        let text = String::from_utf8_lossy(&pdf(&doc)).into_owned();
        assert!(text.contains("(<U+041E><U+041E><U+041E> <U+0427><U+0430><U+0439>) Tj"));
        assert!(text.contains("Unicode code points"));
    }

    #[test]
    fn wrapping_keeps_every_character() {
        let title = "上海茶叶有限公司".repeat(5);
        let lines = wrap(&title, 9, 300);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), title);
        assert!(lines.iter().all(|l| pdf::text_width(l, 9) <= 300));
        assert_eq!(wrap("", 9, 300), [""]);
    }
}
