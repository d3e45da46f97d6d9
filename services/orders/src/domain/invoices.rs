//! Invoices and credit notes as values: the buyer's invoice request (e.g. for a Chinese VAT
//! invoice, a fapiao), the legal entity that issues, document numbers, and the lines of an
//! invoice (from a settled order) and of a credit note (from a refund). Pure: no I/O.
//!
//! # Lines and amounts
//!
//! An order line becomes an item line with its units, unit price, discount, tax and
//! `gross` = what the line was charged (see [`super::pricing`]); `net = gross − tax` in both tax
//! modes (exclusive: tax added; inclusive: tax contained). The shipping fee is a line of its own
//! (untaxed, as orders prices it). Σ gross of an invoice is the order's total.
//!
//! Each line names its tax rate (a fapiao shows 税率 per line). An item line takes the rate
//! that priced its order line, kept in the order's tax adjustment for that line
//! ([`super::pricing::Breakdown::tax_rate_bps`]): the order is priced once more when an update
//! changes it, and the invoice comes after, so that is the rate the line was charged at —
//! never today's table, which operators may have changed since. Shipping lines are untaxed
//! (0 %).
//!
//! A credit note names the invoice lines it credits with a weight each (their value) and the
//! amount refunded. The amount is split across the named lines by largest remainder
//! ([`super::pricing::allocate`]), each share carrying tax and discount in its line's own
//! proportion (rounded half up); what the refund exceeds the named lines by (or all of it, if it
//! names none) is an adjustment line taxed at the invoice's overall ratio, whose rate is the
//! invoice's effective one (tax over net, rounded half up: a blend when its lines differ, lower
//! than any when it has untaxed shipping). A credited line keeps its invoice line's rate. A
//! credit note never takes more than the invoice has left uncredited. Every amount on a credit
//! note is negative.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::money::Currency;
use super::order::{Address, Order};
use super::pricing::{allocate, value_of_unit_range};

/// Personal or company invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceType {
    Personal,
    Company,
}

impl InvoiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "PERSONAL",
            Self::Company => "COMPANY",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "PERSONAL" => Some(Self::Personal),
            "COMPANY" => Some(Self::Company),
            _ => None,
        }
    }
}

/// What the buyer asked to be invoiced as, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRequest {
    pub invoice_type: InvoiceType,
    /// Any script; may be empty for a personal invoice.
    pub buyer_title: String,
    /// Normalised: upper-case letters and digits only; may be empty for a personal invoice.
    pub buyer_tax_id: String,
    /// May be empty: the customer's e-mail then.
    pub email: String,
}

/// Longest invoice title accepted (characters).
pub const MAX_TITLE: usize = 200;

/// A unified social credit code (18) or a VAT / taxpayer id (15–20): letters and digits once
/// spaces and `-` are removed; returned upper-case.
pub fn tax_id(raw: &str) -> Result<String, &'static str> {
    let id: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("may contain only letters and digits (spaces and '-' are ignored)");
    }
    if !(15..=20).contains(&id.len()) {
        return Err("must be 15 to 20 letters and digits");
    }
    Ok(id)
}

impl InvoiceRequest {
    /// Checks a request; every refusal is `(field under invoice_request, why)`.
    pub fn parse(
        invoice_type: Option<InvoiceType>,
        buyer_title: &str,
        buyer_tax_id: &str,
        email: &str,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let mut refused = Vec::new();
        let title = buyer_title.trim();
        let company = invoice_type == Some(InvoiceType::Company);
        if invoice_type.is_none() {
            refused.push((
                "invoice_type",
                "must be INVOICE_TYPE_PERSONAL or INVOICE_TYPE_COMPANY".to_owned(),
            ));
        }
        if company && title.is_empty() {
            refused.push((
                "buyer_title",
                "is required for a company invoice".to_owned(),
            ));
        } else if title.chars().count() > MAX_TITLE {
            refused.push((
                "buyer_title",
                format!("must be at most {MAX_TITLE} characters"),
            ));
        } else if title.chars().any(char::is_control) {
            refused.push((
                "buyer_title",
                "must not contain control characters".to_owned(),
            ));
        }
        let tax = if buyer_tax_id.trim().is_empty() {
            if company {
                refused.push((
                    "buyer_tax_id",
                    "is required for a company invoice".to_owned(),
                ));
            }
            String::new()
        } else {
            tax_id(buyer_tax_id).unwrap_or_else(|why| {
                refused.push(("buyer_tax_id", why.to_owned()));
                String::new()
            })
        };
        let email = email.trim();
        let email_ok = email.is_empty()
            || (email.len() <= 254
                && !email.chars().any(char::is_whitespace)
                && email
                    .split_once('@')
                    .is_some_and(|(user, host)| !user.is_empty() && host.contains('.')));
        if !email_ok {
            refused.push(("email", "must be an e-mail address".to_owned()));
        }
        match invoice_type {
            Some(invoice_type) if refused.is_empty() => Ok(Self {
                invoice_type,
                buyer_title: title.to_owned(),
                buyer_tax_id: tax,
                email: email.to_owned(),
            }),
            _ => Err(refused),
        }
    }
}

/// A company that issues invoices, as orders' configuration names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalEntity {
    /// 1–8 upper-case letters and digits; part of every number it issues (`DE01`).
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub tax_id: String,
    #[serde(default)]
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub country_code: String,
    /// Buyer countries (ISO 3166-1 alpha-2) it invoices; empty for any.
    #[serde(default)]
    pub countries: Vec<String>,
    /// Channels (`WEB`, `STORE`, …) it invoices; empty for any.
    #[serde(default)]
    pub channels: Vec<String>,
}

impl LegalEntity {
    pub fn check(&self) -> Result<(), String> {
        let code_ok = (1..=8).contains(&self.code.len())
            && self
                .code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !code_ok {
            return Err(format!(
                "legal entity code `{}` must be 1 to 8 upper-case letters and digits",
                self.code
            ));
        }
        if self.name.trim().is_empty() {
            return Err(format!("legal entity {} has no name", self.code));
        }
        Ok(())
    }

    fn matches(&self, country: &str, channel: &str) -> bool {
        (self.countries.is_empty() || self.countries.iter().any(|c| c == country))
            && (self.channels.is_empty() || self.channels.iter().any(|c| c == channel))
    }

    pub fn address(&self) -> Address {
        Address {
            recipient: self.name.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone(),
            city: self.city.clone(),
            region: self.region.clone(),
            postal_code: self.postal_code.clone(),
            country_code: self.country_code.clone(),
            phone: String::new(),
        }
    }

    /// The party the invoices of this entity name as seller.
    pub fn party(&self) -> Party {
        Party {
            name: self.name.clone(),
            address: Some(self.address()),
            tax_id: self.tax_id.clone(),
            email: String::new(),
        }
    }
}

/// The first entity, in the configured order, that invoices buyers in `country` on `channel`.
pub fn entity_for<'a>(
    entities: &'a [LegalEntity],
    country: &str,
    channel: &str,
) -> Option<&'a LegalEntity> {
    entities.iter().find(|e| e.matches(country, channel))
}

/// Invoice or credit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invoice,
    CreditNote,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "INVOICE",
            Self::CreditNote => "CREDIT_NOTE",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "INVOICE" => Some(Self::Invoice),
            "CREDIT_NOTE" => Some(Self::CreditNote),
            _ => None,
        }
    }

    /// The number's prefix; each kind has its own sequence.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Invoice => "INV",
            Self::CreditNote => "CN",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Invoice => "Invoice",
            Self::CreditNote => "Credit note",
        }
    }
}

/// `INV-DE01-2026-000001`: kind, entity, year of issue, the `sequence`-th of that year.
pub fn number(kind: Kind, entity: &str, issued_at: DateTime<Utc>, sequence: i64) -> String {
    format!(
        "{}-{entity}-{}-{sequence:06}",
        kind.prefix(),
        issued_at.year()
    )
}

/// Whether `text` has the shape of a document number (GetInvoice accepts ids and numbers).
pub fn looks_like_number(text: &str) -> bool {
    text.starts_with("INV-") || text.starts_with("CN-")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Item,
    Shipping,
    Adjustment,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Item => "ITEM",
            Self::Shipping => "SHIPPING",
            Self::Adjustment => "ADJUSTMENT",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ITEM" => Some(Self::Item),
            "SHIPPING" => Some(Self::Shipping),
            "ADJUSTMENT" => Some(Self::Adjustment),
            _ => None,
        }
    }
}

/// One line, amounts in minor units (negative on a credit note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: LineKind,
    pub line_id: String,
    pub sku: String,
    pub description: String,
    pub quantity: i32,
    pub unit_price: i64,
    pub discount: i64,
    pub tax: i64,
    pub gross: i64,
    /// Basis points: 1300 = 13 %; 0 when untaxed.
    pub tax_rate_bps: u32,
}

impl Line {
    pub fn net(&self) -> i64 {
        self.gross - self.tax
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Party {
    pub name: String,
    pub address: Option<Address>,
    pub tax_id: String,
    pub email: String,
}

/// An issued invoice or credit note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub id: Uuid,
    pub number: String,
    pub kind: Kind,
    pub order_id: Uuid,
    pub order_number: String,
    pub customer_id: String,
    pub legal_entity: String,
    pub seller: Party,
    pub buyer: Party,
    pub request: Option<InvoiceRequest>,
    pub currency: Currency,
    pub tax_inclusive: bool,
    pub lines: Vec<Line>,
    /// Credit notes: (id, number) of the invoice they correct.
    pub credited: Option<(Uuid, String)>,
    /// Credit notes: what was refunded.
    pub reason: String,
    pub issued_at: DateTime<Utc>,
}

/// A document's sums over its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Σ unit price × quantity of the item lines.
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub net: i64,
    pub tax: i64,
    pub total: i64,
}

impl Invoice {
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        let sign = if self.kind == Kind::CreditNote { -1 } else { 1 };
        for l in &self.lines {
            match l.kind {
                LineKind::Item => {
                    t.subtotal += sign * l.unit_price.saturating_mul(i64::from(l.quantity));
                }
                LineKind::Shipping => t.shipping += l.gross,
                LineKind::Adjustment => {}
            }
            t.discount += l.discount;
            t.net += l.net();
            t.tax += l.tax;
            t.total += l.gross;
        }
        t
    }
}

/// `amount × part / whole`, rounded half up (all non-negative); 0 when `whole` is 0.
fn proportion(amount: i64, part: i64, whole: i64) -> i64 {
    if whole <= 0 || amount <= 0 || part <= 0 {
        return 0;
    }
    let (a, p, w) = (i128::from(amount), i128::from(part), i128::from(whole));
    i64::try_from((2 * a * p + w) / (2 * w)).unwrap_or(0)
}

/// The rate a document's tax comes to over its net, in basis points rounded half up: what an
/// adjustment taxed at the overall ratio (tax / gross) is taxed at, since tax / (gross − tax)
/// is then tax / net.
fn effective_rate_bps(totals: &Totals) -> u32 {
    u32::try_from(proportion(10_000, totals.tax, totals.net)).unwrap_or(u32::MAX)
}

/// The lines of the invoice of a settled order: its units not cancelled, and its shipping.
pub fn invoice_lines(order: &Order) -> Vec<Line> {
    let mut lines = Vec::with_capacity(order.lines.len() + 1);
    for l in &order.lines {
        let q = i64::from(l.quantity);
        let units = i64::from((l.quantity - l.cancelled_quantity).max(0));
        if units == 0 {
            continue;
        }
        // The invoiced units are the first ones; the parts of a line add up exactly.
        let part = |whole: i64| value_of_unit_range(whole, q, 0, units);
        lines.push(Line {
            kind: LineKind::Item,
            line_id: l.line_id.clone(),
            sku: l.sku.clone(),
            description: if l.name.is_empty() {
                l.sku.clone()
            } else {
                l.name.clone()
            },
            quantity: i32::try_from(units).unwrap_or(i32::MAX),
            unit_price: l.unit_price.minor,
            discount: part(l.priced.discount),
            tax: part(l.priced.tax),
            gross: part(l.priced.charged),
            tax_rate_bps: order.breakdown.tax_rate_bps(&l.line_id),
        });
    }
    if order.breakdown.shipping > 0 {
        let level = if order.breakdown.service_level.is_empty() {
            "Shipping".to_owned()
        } else {
            format!("Shipping ({})", order.breakdown.service_level)
        };
        lines.push(Line {
            kind: LineKind::Shipping,
            line_id: String::new(),
            sku: String::new(),
            description: level,
            quantity: 1,
            unit_price: order.breakdown.shipping,
            discount: 0,
            tax: 0,
            gross: order.breakdown.shipping,
            tax_rate_bps: 0,
        });
    }
    lines
}

/// A line of an invoice a refund is for: its index in the invoice's lines, the units, and
/// the value the refund would give back for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credit {
    pub line: usize,
    pub quantity: i32,
    pub value: i64,
}

/// What `units` of an invoice line are worth (its first units; the parts add up exactly).
pub fn units_value(line: &Line, units: i32) -> i64 {
    value_of_unit_range(
        line.gross,
        i64::from(line.quantity),
        0,
        i64::from(units.clamp(0, line.quantity)),
    )
}

/// Every line of `invoice`, whole: what a refund of the full amount credits.
pub fn whole(invoice: &Invoice) -> Vec<Credit> {
    invoice
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| Credit {
            line: i,
            quantity: l.quantity,
            value: l.gross,
        })
        .collect()
}

/// The lines of a credit note refunding `amount` (> 0) against `invoice` for `credits`, with
/// `already` credited by earlier credit notes; `None` when nothing is left to credit.
pub fn credit_lines(
    invoice: &Invoice,
    credits: &[Credit],
    amount: i64,
    already: i64,
    adjustment: &str,
) -> Option<Vec<Line>> {
    let invoiced = invoice.totals();
    let amount = amount.min(invoiced.total - already);
    if amount <= 0 {
        return None;
    }
    let credits: Vec<&Credit> = credits
        .iter()
        .filter(|c| c.value > 0 && invoice.lines.get(c.line).is_some())
        .collect();
    let weights: Vec<i64> = credits.iter().map(|c| c.value).collect();
    let named: i64 = weights.iter().sum();
    let shares = if amount <= named {
        allocate(amount, &weights)
    } else {
        weights.clone()
    };
    let mut lines = Vec::new();
    for (credit, share) in credits.iter().zip(shares) {
        let Some(of) = invoice.lines.get(credit.line) else {
            continue;
        };
        if share <= 0 {
            continue;
        }
        lines.push(Line {
            kind: of.kind,
            line_id: of.line_id.clone(),
            sku: of.sku.clone(),
            description: of.description.clone(),
            quantity: credit.quantity,
            unit_price: of.unit_price,
            discount: -proportion(share, of.discount, of.gross),
            tax: -proportion(share, of.tax, of.gross).min(share),
            gross: -share,
            tax_rate_bps: of.tax_rate_bps,
        });
    }
    let rest = amount - named.min(amount);
    if rest > 0 {
        lines.push(Line {
            kind: LineKind::Adjustment,
            line_id: String::new(),
            sku: String::new(),
            description: adjustment.to_owned(),
            quantity: 1,
            unit_price: rest,
            discount: 0,
            tax: -proportion(rest, invoiced.tax, invoiced.total).min(rest),
            gross: -rest,
            tax_rate_bps: effective_rate_bps(&invoiced),
        });
    }
    Some(lines)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn line(gross: i64, tax: i64, quantity: i32) -> Line {
        Line {
            kind: LineKind::Item,
            line_id: "L1".into(),
            sku: "A".into(),
            description: "a".into(),
            quantity,
            unit_price: gross / i64::from(quantity),
            discount: 0,
            tax,
            gross,
            tax_rate_bps: effective_rate_bps(&Totals {
                tax,
                net: gross - tax,
                ..Totals::default()
            }),
        }
    }

    fn invoice(lines: Vec<Line>) -> Invoice {
        Invoice {
            id: Uuid::nil(),
            number: "INV-X-2026-000001".into(),
            kind: Kind::Invoice,
            order_id: Uuid::nil(),
            order_number: "OC-1".into(),
            customer_id: "c".into(),
            legal_entity: "X".into(),
            seller: Party::default(),
            buyer: Party::default(),
            request: None,
            currency: eur(),
            tax_inclusive: false,
            lines,
            credited: None,
            reason: String::new(),
            issued_at: Utc::now(),
        }
    }

    #[test]
    fn numbers_name_kind_entity_year_and_sequence() {
        let at = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(number(Kind::Invoice, "DE01", at, 1), "INV-DE01-2026-000001");
        assert_eq!(
            number(Kind::CreditNote, "CN01", at, 1_234_567),
            "CN-CN01-2026-1234567"
        );
        assert!(looks_like_number("INV-DE01-2026-000001"));
        assert!(!looks_like_number("OC-261128-000001"));
    }

    #[test]
    fn tax_ids_are_15_to_20_letters_and_digits() {
        assert_eq!(
            tax_id("91310000 mA1fl2-3x4y").unwrap(),
            "91310000MA1FL23X4Y"
        );
        assert!(tax_id("12345678901234").is_err());
        assert!(tax_id("123456789012345678901").is_err());
        assert!(tax_id("91310000MA1FL2_X4Y").is_err());
        assert!(tax_id("913100007654321").is_ok());
    }

    #[test]
    fn a_company_invoice_needs_a_title_and_a_tax_id() {
        let refused =
            InvoiceRequest::parse(Some(InvoiceType::Company), " ", "", "not-an-email").unwrap_err();
        let fields: Vec<&str> = refused.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["buyer_title", "buyer_tax_id", "email"]);
        assert!(InvoiceRequest::parse(None, "", "", "").is_err());
        let personal = InvoiceRequest::parse(Some(InvoiceType::Personal), "", "", "").unwrap();
        assert_eq!(personal.buyer_title, "");
    }

    #[test]
    fn the_first_matching_entity_issues() {
        let entity = |code: &str, countries: &[&str], channels: &[&str]| LegalEntity {
            code: code.into(),
            name: code.into(),
            tax_id: String::new(),
            line1: String::new(),
            line2: String::new(),
            postal_code: String::new(),
            city: String::new(),
            region: String::new(),
            country_code: String::new(),
            countries: countries.iter().map(|c| (*c).to_owned()).collect(),
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
        };
        let all = [
            entity("CNSTORE", &["CN"], &["STORE"]),
            entity("CN01", &["CN"], &[]),
            entity("EU01", &[], &[]),
        ];
        let pick = |country, channel| entity_for(&all, country, channel).unwrap().code.clone();
        assert_eq!(pick("CN", "STORE"), "CNSTORE");
        assert_eq!(pick("CN", "WEB"), "CN01");
        assert_eq!(pick("DE", "WEB"), "EU01");
        assert!(entity("de01", &[], &[]).check().is_err());
    }

    #[test]
    fn a_full_credit_negates_every_line_exactly() {
        let inv = invoice(vec![line(2975, 475, 2), line(1070, 171, 1)]);
        let lines = credit_lines(&inv, &whole(&inv), 4045, 0, "x").unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].gross, lines[0].tax), (-2975, -475));
        assert_eq!((lines[1].gross, lines[1].tax), (-1070, -171));
    }

    #[test]
    fn a_credit_never_exceeds_what_is_left_and_a_surplus_is_an_adjustment() {
        let inv = invoice(vec![line(1190, 190, 1)]);
        assert!(credit_lines(&inv, &whole(&inv), 100, 1190, "x").is_none());
        let capped = credit_lines(&inv, &whole(&inv), 5000, 1000, "x").unwrap();
        assert_eq!(capped.iter().map(|l| l.gross).sum::<i64>(), -190);
        let goodwill = credit_lines(&inv, &[], 119, 0, "goodwill").unwrap();
        assert_eq!(goodwill[0].kind, LineKind::Adjustment);
        assert_eq!((goodwill[0].gross, goodwill[0].tax), (-119, -19));
        assert_eq!(goodwill[0].tax_rate_bps, 1900);
    }

    #[test]
    fn credited_lines_keep_their_rate_and_an_adjustment_has_the_invoices_effective_one() {
        // 13 % and 9 % goods and untaxed shipping: net 1000 + 1000 + 500, tax 130 + 90.
        let mut inv = invoice(vec![line(1130, 130, 1), line(1090, 90, 1), line(500, 0, 1)]);
        inv.lines[2].kind = LineKind::Shipping;
        assert_eq!(
            inv.lines.iter().map(|l| l.tax_rate_bps).collect::<Vec<_>>(),
            [1300, 900, 0]
        );
        let units = [Credit {
            line: 1,
            quantity: 1,
            value: 1090,
        }];
        let lines = credit_lines(&inv, &units, 1500, 0, "goodwill").unwrap();
        assert_eq!(lines[0].tax_rate_bps, 900);
        assert_eq!(lines[1].kind, LineKind::Adjustment);
        assert_eq!(lines[1].tax_rate_bps, 880, "220 / 2500, a blend");
    }

    proptest! {
        #[test]
        fn a_credit_note_comes_to_the_refund_with_tax_no_larger_than_its_lines(
            grosses in proptest::collection::vec((1i64..1_000_000, 0u32..3000, 1i32..20), 1..6),
            refund in 1i64..3_000_000,
        ) {
            let lines: Vec<Line> = grosses
                .iter()
                .map(|(g, bps, q)| line(*g, proportion(*g, i64::from(*bps), 10_000 + i64::from(*bps)), *q))
                .collect();
            let inv = invoice(lines);
            let total = inv.totals().total;
            let credit = credit_lines(&inv, &whole(&inv), refund, 0, "x").unwrap();
            let sum: i64 = credit.iter().map(|l| l.gross).sum();
            prop_assert_eq!(sum, -refund.min(total));
            for l in &credit {
                prop_assert!(l.gross < 0 && l.tax <= 0 && l.tax >= l.gross);
            }
        }
    }
}
