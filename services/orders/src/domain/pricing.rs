//! Order totals: shipping, discounts and tax on a basket, exact in integer minor units.
//!
//! # The invariant
//!
//! ```text
//! total = subtotal + shipping − discount + tax
//! ```
//!
//! where `subtotal` is Σ unit price × quantity, `discount` is every code's reduction, and `tax`
//! is the tax *added* to the prices (channels whose prices are tax-exclusive). On a tax-inclusive
//! channel the prices already contain the tax: `tax` is 0 and the tax the prices contain is
//! reported as `included_tax`. Each line carries its share: `charged = amount − discount + tax`
//! (tax only if added), and Σ charged + shipping = total, so a refund of a whole line is exactly
//! what was charged for it. [`Totals::check`] verifies all of this before an order is stored.
//!
//! # Rounding, in order
//!
//! 1. **Line-level codes** (scope: one SKU), in the order given: a percentage takes
//!    `round_half_up(line remaining × bps / 10 000)` off each line of that SKU; a fixed amount
//!    takes `amount × quantity` (an amount off each unit). Either is capped at what is left of
//!    the line.
//! 2. **Order-level codes**, in the order given, on what is left of the whole basket: a
//!    percentage takes `round_half_up(base × bps / 10 000)`, a fixed amount takes the amount,
//!    capped at the base. The reduction is then **allocated across the lines by largest
//!    remainder**: each line gets `floor(reduction × line / base)`, and the minor units left over
//!    go one each to the lines with the largest fractional remainders (ties: the earlier line).
//!    Every line's share is within one minor unit of its exact proportion and never more than
//!    what is left of the line.
//! 3. **Tax, per line**, on what is left of the line after every discount, at the rate for the
//!    destination and the line's category: exclusive `round_half_up(net × bps / 10 000)`,
//!    inclusive (contained) `round_half_up(net × bps / (10 000 + bps))`. Shipping is not taxed.
//! 4. A minimum spend is compared with the subtotal before any discount.
//!
//! Units of a line shipped, cancelled or returned in parts are valued with
//! [`value_of_units`]: the first `k` units of a line charged `c` for `q` units are worth
//! `floor(c × k / q)`, so the parts of a line always add up to exactly what it was charged.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Basis points: 1 % = 100, 100 % = 10 000.
pub const BPS: i128 = 10_000;

/// Whether a channel's prices include tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TaxMode {
    /// Tax is added on top of the prices (the default: with no tax rates, total = Σ lines).
    #[default]
    Exclusive,
    /// The prices already contain the tax.
    Inclusive,
}

impl TaxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exclusive => "EXCLUSIVE",
            Self::Inclusive => "INCLUSIVE",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "EXCLUSIVE" => Some(Self::Exclusive),
            "INCLUSIVE" => Some(Self::Inclusive),
            _ => None,
        }
    }
}

/// How a discount code reduces the price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountKind {
    /// 1 to 10 000 basis points off.
    Percentage { bps: u32 },
    /// Minor units off the order (order scope) or off each unit (line scope).
    Fixed { minor: i64 },
}

/// What a discount code applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscountScope {
    Order,
    /// Every line of this SKU.
    Sku(String),
}

/// A discount code that passed its validity, currency and usage checks; what it is worth
/// depends on the basket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discount {
    pub code: String,
    pub kind: DiscountKind,
    pub scope: DiscountScope,
    /// The subtotal (before discounts) must reach this; 0 for none.
    pub min_spend: i64,
}

/// One line of the basket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketLine {
    pub sku: String,
    pub quantity: u32,
    pub unit_price: i64,
    /// The tax rate for this line's category at the destination.
    pub tax_bps: u32,
}

/// What is priced: lines, the shipping fee already looked up, the channel's tax mode, and the
/// codes in the order the customer gave them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Basket {
    pub lines: Vec<BasketLine>,
    pub shipping: i64,
    pub tax_mode: TaxMode,
    pub discounts: Vec<Discount>,
}

/// One line's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineTotals {
    /// unit price × quantity.
    pub amount: i64,
    /// Line-level codes plus its allocated share of order-level codes.
    pub discount: i64,
    /// Tax on the line: added (exclusive) or contained (inclusive), per [`Totals::tax_mode`].
    pub tax: i64,
    /// What the customer pays for this line: amount − discount (+ tax when added).
    pub charged: i64,
}

/// What one code took off: once for an order-level code, once per line for a line-level code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedDiscount {
    pub code: String,
    /// The line (index into the basket) for a line-level code.
    pub line: Option<usize>,
    pub amount: i64,
}

/// The priced order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Totals {
    pub subtotal: i64,
    pub shipping: i64,
    pub discount: i64,
    /// Tax added on top of the prices (0 on tax-inclusive channels).
    pub tax: i64,
    /// Tax contained in the prices (0 on tax-exclusive channels).
    pub included_tax: i64,
    pub total: i64,
    pub tax_mode: TaxMode,
    pub lines: Vec<LineTotals>,
    pub discounts: Vec<AppliedDiscount>,
}

/// Why a code cannot be used on this basket, or why the figures cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("needs a minimum spend of {min_spend} (the order's lines come to {subtotal})")]
    BelowMinimumSpend { min_spend: i64, subtotal: i64 },
    #[error("applies to SKU {0}, which is not in the order")]
    SkuNotInOrder(String),
    #[error("amount out of range")]
    Overflow,
    #[error("totals do not add up: {0}")]
    DoesNotAddUp(String),
}

impl fmt::Display for TaxMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `round(n / d)` with halves rounded up, for `n ≥ 0`, `d > 0`.
fn round_half_up(n: i128, d: i128) -> i128 {
    (2 * n + d) / (2 * d)
}

fn narrow(v: i128) -> Result<i64, PricingError> {
    i64::try_from(v).map_err(|_| PricingError::Overflow)
}

/// Splits `amount` across `weights` in proportion, by largest remainder: the shares add up to
/// `amount` exactly, each is within one unit of its exact proportion, and none exceeds its
/// weight when `amount ≤ Σ weights`. Ties go to the earlier weight. All zero weights (or a zero
/// amount) give all zero shares.
pub fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if amount <= 0 || total <= 0 {
        return vec![0; weights.len()];
    }
    let amount = i128::from(amount);
    let mut shares: Vec<i128> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let product = amount * i128::from(*w);
        shares.push(product / total);
        remainders.push((product % total, i));
    }
    let mut left = amount - shares.iter().sum::<i128>();
    // Largest remainder first; among equal remainders, the earlier line.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    // Each share is at most amount × w / total + 1 ≤ amount, which came from an i64.
    shares
        .into_iter()
        .map(|s| i64::try_from(s).unwrap_or(i64::MAX))
        .collect()
}

/// The value of the first `units` of a line charged `charged` for `quantity` units:
/// `floor(charged × units / quantity)`. Consecutive parts of a line telescope to exactly
/// `charged`.
pub fn value_of_units(charged: i64, quantity: i64, units: i64) -> i64 {
    if quantity <= 0 {
        return 0;
    }
    let units = units.clamp(0, quantity);
    let v = i128::from(charged) * i128::from(units) / i128::from(quantity);
    i64::try_from(v).unwrap_or(charged)
}

/// The value of units `from..to` (0-based, `to` exclusive) of such a line.
pub fn value_of_unit_range(charged: i64, quantity: i64, from: i64, to: i64) -> i64 {
    value_of_units(charged, quantity, to) - value_of_units(charged, quantity, from)
}

/// Prices `basket`. Codes that cannot be used on it are reported with their index in
/// `basket.discounts`; an amount out of range with `None`.
pub fn price(basket: &Basket) -> Result<Totals, Vec<(Option<usize>, PricingError)>> {
    let overflow = || vec![(None, PricingError::Overflow)];
    let mut amounts = Vec::with_capacity(basket.lines.len());
    for line in &basket.lines {
        let amount = i128::from(line.unit_price) * i128::from(line.quantity);
        amounts.push(narrow(amount).map_err(|_| overflow())?);
    }
    let subtotal = narrow(amounts.iter().map(|a| i128::from(*a)).sum()).map_err(|_| overflow())?;
    let mut left = amounts.clone();
    let mut line_discount = vec![0i64; amounts.len()];
    let mut applied = Vec::new();
    let mut refused = Vec::new();

    // Line-level codes first (they change the base the order-level ones see), then
    // order-level ones; each group in the order the customer gave.
    let line_codes = basket
        .discounts
        .iter()
        .enumerate()
        .filter(|(_, d)| matches!(d.scope, DiscountScope::Sku(_)));
    let order_codes = basket
        .discounts
        .iter()
        .enumerate()
        .filter(|(_, d)| d.scope == DiscountScope::Order);
    for (k, d) in line_codes.chain(order_codes) {
        if subtotal < d.min_spend {
            refused.push((
                Some(k),
                PricingError::BelowMinimumSpend {
                    min_spend: d.min_spend,
                    subtotal,
                },
            ));
            continue;
        }
        match &d.scope {
            DiscountScope::Sku(sku) => {
                let mut matched = false;
                for (i, line) in basket.lines.iter().enumerate() {
                    if &line.sku != sku {
                        continue;
                    }
                    matched = true;
                    let remaining = i128::from(left[i]);
                    let off = match d.kind {
                        DiscountKind::Percentage { bps } => {
                            round_half_up(remaining * i128::from(bps), BPS)
                        }
                        DiscountKind::Fixed { minor } => {
                            i128::from(minor) * i128::from(line.quantity)
                        }
                    }
                    .clamp(0, remaining);
                    // off ≤ left[i], an i64.
                    let off = narrow(off).map_err(|_| overflow())?;
                    left[i] -= off;
                    line_discount[i] += off;
                    applied.push(AppliedDiscount {
                        code: d.code.clone(),
                        line: Some(i),
                        amount: off,
                    });
                }
                if !matched {
                    refused.push((Some(k), PricingError::SkuNotInOrder(sku.clone())));
                }
            }
            DiscountScope::Order => {
                let base: i128 = left.iter().map(|l| i128::from(*l)).sum();
                let off = match d.kind {
                    DiscountKind::Percentage { bps } => round_half_up(base * i128::from(bps), BPS),
                    DiscountKind::Fixed { minor } => i128::from(minor),
                }
                .clamp(0, base);
                let off = narrow(off).map_err(|_| overflow())?;
                for (i, share) in allocate(off, &left).into_iter().enumerate() {
                    left[i] -= share;
                    line_discount[i] += share;
                }
                applied.push(AppliedDiscount {
                    code: d.code.clone(),
                    line: None,
                    amount: off,
                });
            }
        }
    }
    if !refused.is_empty() {
        return Err(refused);
    }

    let mut lines = Vec::with_capacity(amounts.len());
    let (mut tax, mut included_tax) = (0i128, 0i128);
    for (i, line) in basket.lines.iter().enumerate() {
        let net = i128::from(left[i]);
        let bps = i128::from(line.tax_bps);
        let line_tax = match basket.tax_mode {
            TaxMode::Exclusive => round_half_up(net * bps, BPS),
            TaxMode::Inclusive => round_half_up(net * bps, BPS + bps),
        };
        let charged = match basket.tax_mode {
            TaxMode::Exclusive => {
                tax += line_tax;
                net + line_tax
            }
            TaxMode::Inclusive => {
                included_tax += line_tax;
                net
            }
        };
        lines.push(LineTotals {
            amount: amounts[i],
            discount: line_discount[i],
            tax: narrow(line_tax).map_err(|_| overflow())?,
            charged: narrow(charged).map_err(|_| overflow())?,
        });
    }
    let discount: i128 = line_discount.iter().map(|d| i128::from(*d)).sum();
    let total = i128::from(subtotal) + i128::from(basket.shipping) - discount + tax;
    let totals = Totals {
        subtotal,
        shipping: basket.shipping,
        discount: narrow(discount).map_err(|_| overflow())?,
        tax: narrow(tax).map_err(|_| overflow())?,
        included_tax: narrow(included_tax).map_err(|_| overflow())?,
        total: narrow(total).map_err(|_| overflow())?,
        tax_mode: basket.tax_mode,
        lines,
        discounts: applied,
    };
    totals.check().map_err(|e| vec![(None, e)])?;
    Ok(totals)
}

impl Totals {
    /// Totals with no adjustments: the plain Σ of the lines (what an order stored before
    /// adjustments existed carries).
    pub fn plain(line_amounts: &[i64]) -> Self {
        let lines: Vec<LineTotals> = line_amounts
            .iter()
            .map(|a| LineTotals {
                amount: *a,
                discount: 0,
                tax: 0,
                charged: *a,
            })
            .collect();
        let subtotal = line_amounts.iter().fold(0i64, |s, a| s.saturating_add(*a));
        Self {
            subtotal,
            total: subtotal,
            lines,
            ..Self::default()
        }
    }

    /// Verifies that the figures add up, in wide integers: the order total, the lines'
    /// discounts and charges, and the codes' amounts.
    pub fn check(&self) -> Result<(), PricingError> {
        let wide = |v: i64| i128::from(v);
        let fail = |what: String| Err(PricingError::DoesNotAddUp(what));
        let expected =
            wide(self.subtotal) + wide(self.shipping) - wide(self.discount) + wide(self.tax);
        if wide(self.total) != expected {
            return fail(format!(
                "total {} ≠ subtotal {} + shipping {} − discount {} + tax {}",
                self.total, self.subtotal, self.shipping, self.discount, self.tax
            ));
        }
        if self.total < 0 || self.shipping < 0 || self.discount < 0 || self.tax < 0 {
            return fail("a figure is negative".into());
        }
        let sum =
            |f: fn(&LineTotals) -> i64| -> i128 { self.lines.iter().map(|l| wide(f(l))).sum() };
        if sum(|l| l.amount) != wide(self.subtotal) {
            return fail(format!(
                "the lines do not come to subtotal {}",
                self.subtotal
            ));
        }
        if sum(|l| l.discount) != wide(self.discount) {
            return fail(format!(
                "the lines' discounts do not come to {}",
                self.discount
            ));
        }
        let applied: i128 = self.discounts.iter().map(|d| wide(d.amount)).sum();
        if applied != wide(self.discount) {
            return fail(format!(
                "the codes do not come to discount {}",
                self.discount
            ));
        }
        let (added, contained) = match self.tax_mode {
            TaxMode::Exclusive => (self.tax, 0),
            TaxMode::Inclusive => (0, self.included_tax),
        };
        if wide(added) != wide(self.tax) || wide(contained) != wide(self.included_tax) {
            return fail(format!("tax does not match the {} mode", self.tax_mode));
        }
        if sum(|l| l.tax) != wide(self.tax) + wide(self.included_tax) {
            return fail("the lines' tax does not come to the order's".into());
        }
        for (i, l) in self.lines.iter().enumerate() {
            let added = if self.tax_mode == TaxMode::Exclusive {
                l.tax
            } else {
                0
            };
            if l.discount < 0 || l.discount > l.amount || l.tax < 0 {
                return fail(format!("line {i}: discount or tax out of range"));
            }
            if wide(l.charged) != wide(l.amount) - wide(l.discount) + wide(added) {
                return fail(format!("line {i}: charged ≠ amount − discount + tax"));
            }
        }
        if sum(|l| l.charged) + wide(self.shipping) != wide(self.total) {
            return fail("the lines' charges and shipping do not come to the total".into());
        }
        Ok(())
    }
}

/// What an adjustment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdjustmentKind {
    Shipping,
    Discount,
    /// Tax added on top of a tax-exclusive price.
    Tax,
    /// Tax contained in a tax-inclusive price (reported, not added).
    IncludedTax,
}

/// One adjustment as an order keeps it (stored as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub kind: AdjustmentKind,
    /// The discount code, the service level, or the category taxed.
    pub code: String,
    /// Never negative; a discount is subtracted.
    pub amount_minor: i64,
    /// The line it applies to; empty for order-level adjustments.
    #[serde(default)]
    pub line_id: String,
    #[serde(default)]
    pub description: String,
    /// Tax adjustments: the rate that priced the line, in basis points (what invoices show
    /// per line); 0 for the other kinds. Breakdowns stored before it existed got it from
    /// their description in migration `20261229000020_invoice_tax_rates.sql`.
    #[serde(default)]
    pub rate_bps: u32,
}

/// How an order's total is made up, as stored on the order (the lines keep their own share).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Breakdown {
    pub subtotal: i64,
    pub shipping: i64,
    pub discount: i64,
    pub tax: i64,
    pub included_tax: i64,
    pub tax_mode: TaxMode,
    /// Empty for store pickup.
    pub service_level: String,
    pub total_weight_grams: i64,
    pub adjustments: Vec<Adjustment>,
}

impl Breakdown {
    /// No adjustments: the total is the subtotal (orders placed before totals existed).
    pub fn plain(subtotal: i64) -> Self {
        Self {
            subtotal,
            ..Self::default()
        }
    }

    /// subtotal + shipping − discount + tax.
    pub fn total(&self) -> i64 {
        self.subtotal
            .saturating_add(self.shipping)
            .saturating_sub(self.discount)
            .saturating_add(self.tax)
    }

    /// The rate that taxed line `line_id`, from its tax adjustment; 0 for an untaxed line.
    pub fn tax_rate_bps(&self, line_id: &str) -> u32 {
        self.adjustments
            .iter()
            .find(|a| {
                matches!(a.kind, AdjustmentKind::Tax | AdjustmentKind::IncludedTax)
                    && a.line_id == line_id
            })
            .map_or(0, |a| a.rate_bps)
    }

    /// The stored breakdown of `totals` for `basket`: shipping, then each code as applied, then
    /// tax per line. `line_ids` and `categories` are per basket line.
    pub fn of(
        basket: &Basket,
        totals: &Totals,
        line_ids: &[String],
        categories: &[String],
        service_level: &str,
        total_weight_grams: i64,
    ) -> Self {
        let mut adjustments = Vec::new();
        if !service_level.is_empty() {
            adjustments.push(Adjustment {
                kind: AdjustmentKind::Shipping,
                code: service_level.to_owned(),
                amount_minor: totals.shipping,
                line_id: String::new(),
                description: format!("{service_level} shipping, {total_weight_grams} g"),
                rate_bps: 0,
            });
        }
        let line_id = |i: usize| line_ids.get(i).cloned().unwrap_or_default();
        for applied in &totals.discounts {
            let rule = basket.discounts.iter().find(|d| d.code == applied.code);
            let what = match (rule.map(|d| d.kind), applied.line) {
                (Some(DiscountKind::Percentage { bps }), None) => {
                    format!("{} off the order", percent(bps))
                }
                (Some(DiscountKind::Percentage { bps }), Some(_)) => {
                    format!("{} off the line", percent(bps))
                }
                (Some(DiscountKind::Fixed { minor }), None) => {
                    format!("{minor} off the order")
                }
                (Some(DiscountKind::Fixed { minor }), Some(_)) => format!("{minor} off each unit"),
                (None, _) => String::new(),
            };
            adjustments.push(Adjustment {
                kind: AdjustmentKind::Discount,
                code: applied.code.clone(),
                amount_minor: applied.amount,
                line_id: applied.line.map(line_id).unwrap_or_default(),
                description: what,
                rate_bps: 0,
            });
        }
        for (i, (line, figures)) in basket.lines.iter().zip(&totals.lines).enumerate() {
            if figures.tax == 0 && line.tax_bps == 0 {
                continue;
            }
            let category = categories.get(i).cloned().unwrap_or_default();
            let (kind, how) = match totals.tax_mode {
                TaxMode::Exclusive => (AdjustmentKind::Tax, "tax"),
                TaxMode::Inclusive => (AdjustmentKind::IncludedTax, "included tax"),
            };
            let on = if category.is_empty() {
                String::new()
            } else {
                format!(" on {category}")
            };
            adjustments.push(Adjustment {
                kind,
                description: format!("{how} {}{on}", percent(line.tax_bps)),
                code: category,
                amount_minor: figures.tax,
                line_id: line_id(i),
                rate_bps: line.tax_bps,
            });
        }
        Self {
            subtotal: totals.subtotal,
            shipping: totals.shipping,
            discount: totals.discount,
            tax: totals.tax,
            included_tax: totals.included_tax,
            tax_mode: totals.tax_mode,
            service_level: service_level.to_owned(),
            total_weight_grams,
            adjustments,
        }
    }
}

/// `1950` → `19.50%`.
fn percent(bps: u32) -> String {
    format!("{}.{:02}%", bps / 100, bps % 100)
}

/// A shipping rate: from `min_weight_grams` up to the next bracket of the same destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingRate {
    /// ISO 3166-1 alpha-2, or `*` for anywhere.
    pub country_code: String,
    /// A region of that country, or `*` for all of it.
    pub region: String,
    pub min_weight_grams: i64,
    pub fee: i64,
}

/// The fee for a parcel of `weight_grams` to (`country`, `region`) among `rates` (one service
/// level, one currency): the most specific destination (country and region, then country, then
/// anywhere) with a bracket at or below the weight, and in it the heaviest such bracket.
pub fn shipping_fee(
    rates: &[ShippingRate],
    country: &str,
    region: &str,
    weight_grams: i64,
) -> Option<i64> {
    rates
        .iter()
        .filter(|r| r.min_weight_grams <= weight_grams)
        .filter_map(|r| {
            let specificity = match (r.country_code.as_str(), r.region.as_str()) {
                (c, rg) if c == country && rg == region && rg != "*" => 2,
                (c, "*") if c == country => 1,
                ("*", "*") => 0,
                _ => return None,
            };
            Some(((specificity, r.min_weight_grams), r.fee))
        })
        .max_by_key(|(key, _)| *key)
        .map(|(_, fee)| fee)
}

/// A tax rate for a destination and an item category (`*` matches any of each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRate {
    pub country_code: String,
    pub region: String,
    pub category: String,
    pub bps: u32,
}

/// The rate for `category` at (`country`, `region`): the matching row naming the most of
/// country, region and category, in that order of weight; 0 if none matches.
pub fn tax_bps(rates: &[TaxRate], country: &str, region: &str, category: &str) -> u32 {
    let part = |row: &str, value: &str| -> Option<u8> {
        if row == "*" {
            Some(0)
        } else if row == value {
            Some(1)
        } else {
            None
        }
    };
    rates
        .iter()
        .filter_map(|r| {
            let c = part(&r.country_code, country)?;
            let rg = part(&r.region, region)?;
            let cat = part(&r.category, category)?;
            Some((c * 4 + rg * 2 + cat, r.bps))
        })
        .max_by_key(|(score, _)| *score)
        .map_or(0, |(_, bps)| bps)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn line(sku: &str, quantity: u32, unit_price: i64, tax_bps: u32) -> BasketLine {
        BasketLine {
            sku: sku.into(),
            quantity,
            unit_price,
            tax_bps,
        }
    }

    fn code(code: &str, kind: DiscountKind, scope: DiscountScope) -> Discount {
        Discount {
            code: code.into(),
            kind,
            scope,
            min_spend: 0,
        }
    }

    #[test]
    fn a_basket_without_adjustments_costs_the_sum_of_its_lines() {
        let basket = Basket {
            lines: vec![line("A", 2, 1999, 0), line("B", 1, 500, 0)],
            ..Basket::default()
        };
        let t = price(&basket).unwrap();
        assert_eq!((t.subtotal, t.total, t.discount, t.tax), (4498, 4498, 0, 0));
        assert_eq!(t, Totals::plain(&[3998, 500]));
    }

    #[test]
    fn an_order_discount_is_allocated_by_largest_remainder() {
        // 10 off 3 equal lines: 3.33… each; the leftover unit goes to the first line.
        let basket = Basket {
            lines: vec![
                line("A", 1, 100, 0),
                line("B", 1, 100, 0),
                line("C", 1, 100, 0),
            ],
            discounts: vec![code(
                "TEN",
                DiscountKind::Fixed { minor: 10 },
                DiscountScope::Order,
            )],
            ..Basket::default()
        };
        let t = price(&basket).unwrap();
        let shares: Vec<i64> = t.lines.iter().map(|l| l.discount).collect();
        assert_eq!(shares, [4, 3, 3]);
        assert_eq!(t.total, 290);
    }

    #[test]
    fn allocation_favours_the_largest_fraction() {
        // 7 over weights 1, 2, 4 of 7 → exact; 5 over 1, 2, 4: 0.71, 1.43, 2.86 → 1, 1, 3.
        assert_eq!(allocate(7, &[1, 2, 4]), [1, 2, 4]);
        assert_eq!(allocate(5, &[1, 2, 4]), [1, 1, 3]);
        assert_eq!(allocate(5, &[0, 0]), [0, 0]);
    }

    #[test]
    fn line_codes_apply_before_order_codes_and_percentages_round_half_up() {
        let basket = Basket {
            lines: vec![line("TEA", 3, 1250, 0), line("CUP", 1, 899, 0)],
            discounts: vec![
                code(
                    "ORDER10",
                    DiscountKind::Percentage { bps: 1000 },
                    DiscountScope::Order,
                ),
                code(
                    "TEA1",
                    DiscountKind::Fixed { minor: 100 },
                    DiscountScope::Sku("TEA".into()),
                ),
            ],
            ..Basket::default()
        };
        let t = price(&basket).unwrap();
        // TEA: 3750 − 300 = 3450; base 3450 + 899 = 4349; 10 % = 434.9 → 435.
        assert_eq!(t.discounts[0].amount, 300);
        assert_eq!(t.discounts[1].amount, 435);
        assert_eq!(t.discount, 735);
        assert_eq!(t.total, 4649 - 735);
    }

    #[test]
    fn exclusive_tax_is_added_and_inclusive_tax_is_contained() {
        let lines = vec![line("A", 1, 1000, 2000), line("B", 1, 333, 700)];
        let exclusive = price(&Basket {
            lines: lines.clone(),
            shipping: 495,
            ..Basket::default()
        })
        .unwrap();
        // 20 % of 1000 = 200; 7 % of 333 = 23.31 → 23.
        assert_eq!(exclusive.tax, 223);
        assert_eq!(exclusive.total, 1333 + 495 + 223);
        let inclusive = price(&Basket {
            lines,
            shipping: 495,
            tax_mode: TaxMode::Inclusive,
            ..Basket::default()
        })
        .unwrap();
        // 1000 × 20/120 = 166.67 → 167; 333 × 7/107 = 21.79 → 22.
        assert_eq!((inclusive.tax, inclusive.included_tax), (0, 189));
        assert_eq!(inclusive.total, 1333 + 495);
    }

    #[test]
    fn codes_that_do_not_fit_the_basket_are_named() {
        let basket = Basket {
            lines: vec![line("A", 1, 1000, 0)],
            discounts: vec![
                Discount {
                    min_spend: 5000,
                    ..code(
                        "BIG",
                        DiscountKind::Fixed { minor: 500 },
                        DiscountScope::Order,
                    )
                },
                code(
                    "B-ONLY",
                    DiscountKind::Percentage { bps: 500 },
                    DiscountScope::Sku("B".into()),
                ),
            ],
            ..Basket::default()
        };
        let refused = price(&basket).unwrap_err();
        assert_eq!(refused.len(), 2);
        assert_eq!(refused[0].0, Some(1));
        assert_eq!(refused[1].0, Some(0));
    }

    #[test]
    fn a_discount_never_takes_more_than_the_basket() {
        let t = price(&Basket {
            lines: vec![line("A", 2, 300, 1000)],
            shipping: 100,
            discounts: vec![code(
                "HUGE",
                DiscountKind::Fixed { minor: 10_000 },
                DiscountScope::Order,
            )],
            ..Basket::default()
        })
        .unwrap();
        assert_eq!((t.discount, t.tax, t.total), (600, 0, 100));
    }

    #[test]
    fn totals_that_do_not_add_up_are_refused() {
        let mut t = Totals::plain(&[100, 200]);
        assert!(t.check().is_ok());
        t.total += 1;
        assert!(matches!(t.check(), Err(PricingError::DoesNotAddUp(_))));
    }

    #[test]
    fn shipping_uses_the_most_specific_destination_and_the_heaviest_bracket_reached() {
        let rate = |c: &str, r: &str, min, fee| ShippingRate {
            country_code: c.into(),
            region: r.into(),
            min_weight_grams: min,
            fee,
        };
        let rates = [
            rate("*", "*", 0, 2000),
            rate("DE", "*", 0, 495),
            rate("DE", "*", 2000, 795),
            rate("DE", "BY", 0, 395),
            rate("DE", "BY", 5000, 995),
        ];
        assert_eq!(shipping_fee(&rates, "DE", "BE", 100), Some(495));
        assert_eq!(shipping_fee(&rates, "DE", "BE", 2000), Some(795));
        assert_eq!(shipping_fee(&rates, "DE", "BY", 4999), Some(395));
        assert_eq!(shipping_fee(&rates, "DE", "BY", 5000), Some(995));
        assert_eq!(shipping_fee(&rates, "FR", "", 10), Some(2000));
        assert_eq!(shipping_fee(&rates[1..], "FR", "", 10), None);
    }

    #[test]
    fn tax_uses_the_row_naming_most_of_country_region_and_category() {
        let rate = |c: &str, r: &str, cat: &str, bps| TaxRate {
            country_code: c.into(),
            region: r.into(),
            category: cat.into(),
            bps,
        };
        let rates = [
            rate("DE", "*", "*", 1900),
            rate("DE", "*", "food", 700),
            rate("US", "CA", "*", 725),
        ];
        assert_eq!(tax_bps(&rates, "DE", "BY", "tea"), 1900);
        assert_eq!(tax_bps(&rates, "DE", "BY", "food"), 700);
        assert_eq!(tax_bps(&rates, "US", "CA", "food"), 725);
        assert_eq!(tax_bps(&rates, "US", "NY", "food"), 0);
    }

    #[test]
    fn parts_of_a_line_add_up_to_what_it_was_charged() {
        // 1000 for 3 units: 333, 333, 334.
        assert_eq!(value_of_unit_range(1000, 3, 0, 1), 333);
        assert_eq!(value_of_unit_range(1000, 3, 1, 2), 333);
        assert_eq!(value_of_unit_range(1000, 3, 2, 3), 334);
    }

    fn arb_basket() -> impl Strategy<Value = Basket> {
        let skus = ["A", "B", "C", "D"];
        let lines = prop::collection::vec(
            (
                0usize..4,
                1u32..20,
                0i64..200_000,
                prop::sample::select(vec![0u32, 500, 700, 1900, 2000, 2500]),
            ),
            1..12,
        )
        .prop_map(move |ls| {
            ls.into_iter()
                .map(|(s, q, p, t)| line(skus[s], q, p, t))
                .collect::<Vec<_>>()
        });
        let kind = prop_oneof![
            (1u32..=10_000).prop_map(|bps| DiscountKind::Percentage { bps }),
            (0i64..500_000).prop_map(|minor| DiscountKind::Fixed { minor }),
        ];
        let scope = prop_oneof![
            Just(DiscountScope::Order),
            (0usize..4).prop_map(move |s| DiscountScope::Sku(skus[s].into())),
        ];
        let discounts = prop::collection::vec((kind, scope), 0..4).prop_map(|ds| {
            ds.into_iter()
                .enumerate()
                .map(|(i, (kind, scope))| code(&format!("C{i}"), kind, scope))
                .collect::<Vec<_>>()
        });
        let mode = prop_oneof![Just(TaxMode::Exclusive), Just(TaxMode::Inclusive)];
        (lines, 0i64..5_000, mode, discounts).prop_map(|(lines, shipping, tax_mode, discounts)| {
            Basket {
                lines,
                shipping,
                tax_mode,
                discounts,
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn every_random_basket_adds_up(basket in arb_basket()) {
            match price(&basket) {
                Ok(t) => {
                    prop_assert!(t.check().is_ok(), "{:?}", t.check());
                    prop_assert_eq!(
                        i128::from(t.total),
                        i128::from(t.subtotal) + i128::from(t.shipping) - i128::from(t.discount)
                            + i128::from(t.tax)
                    );
                    prop_assert!(t.total >= t.shipping);
                    if basket.tax_mode == TaxMode::Inclusive {
                        prop_assert_eq!(t.tax, 0);
                    }
                    if basket.discounts.is_empty() {
                        prop_assert_eq!(t.discount, 0);
                    }
                    // A line's charge split unit by unit adds up to the charge.
                    for (l, bl) in t.lines.iter().zip(&basket.lines) {
                        let q = i64::from(bl.quantity);
                        let parts: i64 = (0..q).map(|u| value_of_unit_range(l.charged, q, u, u + 1)).sum();
                        prop_assert_eq!(parts, l.charged);
                    }
                }
                Err(refused) => {
                    // Only codes naming a SKU not in the basket can be refused here.
                    for (k, e) in refused {
                        let k = k.unwrap();
                        prop_assert!(matches!(e, PricingError::SkuNotInOrder(_)));
                        let DiscountScope::Sku(sku) = &basket.discounts[k].scope else {
                            return Err(TestCaseError::fail("an order code was refused"));
                        };
                        prop_assert!(basket.lines.iter().all(|l| &l.sku != sku));
                    }
                }
            }
        }

        #[test]
        fn largest_remainder_shares_are_exact_and_close_to_proportional(
            weights in prop::collection::vec(0i64..1_000_000, 1..30),
            fraction in 0u32..=1000,
        ) {
            let total: i64 = weights.iter().sum();
            let amount = total * i64::from(fraction) / 1000;
            let shares = allocate(amount, &weights);
            prop_assert_eq!(shares.iter().sum::<i64>(), if total > 0 { amount } else { 0 });
            for (s, w) in shares.iter().zip(&weights) {
                prop_assert!(*s >= 0 && s <= w);
                if total > 0 {
                    // |share − amount × w / total| < 1
                    let exact = i128::from(amount) * i128::from(*w);
                    let diff = i128::from(*s) * i128::from(total) - exact;
                    prop_assert!(diff.abs() < i128::from(total));
                }
            }
        }
    }
}
