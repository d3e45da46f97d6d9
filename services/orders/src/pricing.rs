//! Prices a new order against the operator's tables: the shipping fee for its destination,
//! weight and service level, the tax rate of each line, the channel's tax mode and the discount
//! codes it names (valid, not used up, qualifying). The arithmetic is
//! [`crate::domain::pricing`]'s; this module reads the tables and names every refused field.
//!
//! Defaults, so that an unconfigured installation charges Σ lines as before: a channel with no
//! tax mode is tax-exclusive; a line with no matching tax rate is taxed at 0; an order with no
//! shipping rates at all for "standard" ships free. A SKU's category and unit weight come from
//! the catalog read model; where it does not know them, from the request line; else empty and 0.

use chrono::{DateTime, Utc};
use runtime::grpc::FieldViolations;
use sqlx::PgConnection;

use crate::domain::pricing::{
    self, Basket, BasketLine, Breakdown, Discount, DiscountKind, DiscountScope, ShippingRate,
    TaxMode, TaxRate,
};
use crate::domain::{Fulfillment, Money, NewOrder};
use crate::error::Error;
use crate::store::pricing::{self as tables, DiscountCodeRow, Redemption};

/// The service level of an order that names none.
pub const DEFAULT_SERVICE_LEVEL: &str = "standard";

/// Whether pricing is for real (codes locked until the order commits) or a quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Place,
    Quote,
    /// An order already placed, priced again after an update: its codes were granted and
    /// redeemed with it, so their validity window and use limits are not checked again (their
    /// rule still is: minimum spend, SKU in the order).
    Reprice,
}

/// Prices `order` in place (its lines' discount, tax and charge, its breakdown and total) and
/// returns the codes it redeems. With [`Purpose::Place`] the codes stay locked until the
/// caller's transaction ends, which must then write the redemptions ([`tables::redeem`]).
pub async fn price(
    conn: &mut PgConnection,
    order: &mut NewOrder,
    now: DateTime<Utc>,
    purpose: Purpose,
) -> Result<Vec<Redemption>, Error> {
    let currency = order.total.currency;
    let mut v = FieldViolations::new();

    // Where the goods go decides shipping and tax; a pickup is taxed by the billing address
    // (orders does not know the stores' addresses), or by the "*" rates without one.
    let (country, region) = match (&order.fulfillment, &order.billing_address) {
        (Fulfillment::Ship { address }, _) => {
            (address.country_code.clone(), address.region.clone())
        }
        (Fulfillment::StorePickup { .. }, Some(billing)) => {
            (billing.country_code.clone(), billing.region.clone())
        }
        (Fulfillment::StorePickup { .. }, None) => (String::new(), String::new()),
    };
    let weight: i64 = order
        .lines
        .iter()
        .map(|l| i64::from(l.weight_grams) * i64::from(l.quantity.get()))
        .sum();

    let (service_level, shipping) = match &order.fulfillment {
        Fulfillment::StorePickup { .. } => (String::new(), 0),
        Fulfillment::Ship { .. } => {
            let level = if order.service_level.is_empty() {
                DEFAULT_SERVICE_LEVEL.to_owned()
            } else {
                order.service_level.clone()
            };
            let rows = tables::shipping_rates(conn, Some((&level, currency.as_str()))).await?;
            let rates: Vec<ShippingRate> = rows
                .into_iter()
                .map(|r| ShippingRate {
                    country_code: r.country_code,
                    region: r.region,
                    min_weight_grams: r.min_weight_grams,
                    fee: r.fee_minor,
                })
                .collect();
            let fee = if rates.is_empty() {
                if level != DEFAULT_SERVICE_LEVEL {
                    v.add(
                        "shipping_service_level",
                        format!("{level} is not a service level with rates in {currency}"),
                    );
                }
                0
            } else if let Some(fee) = pricing::shipping_fee(&rates, &country, &region, weight) {
                fee
            } else {
                let place = if region.is_empty() {
                    country.clone()
                } else {
                    format!("{country} ({region})")
                };
                v.add(
                    "shipping_address.country_code",
                    format!("there is no {level} shipping rate to {place} for {weight} g"),
                );
                0
            };
            (level, fee)
        }
    };

    let tax_mode = tables::channel_mode(conn, order.channel.as_str())
        .await?
        .as_deref()
        .and_then(TaxMode::parse)
        .unwrap_or_default();
    let tax_rates: Vec<TaxRate> = tables::tax_rates(conn, Some(&country))
        .await?
        .into_iter()
        .map(|r| TaxRate {
            country_code: r.country_code,
            region: r.region,
            category: r.category,
            bps: u32::try_from(r.rate_bps).unwrap_or(0),
        })
        .collect();

    // The codes: every one must exist, be enabled, be valid now, be for this currency and
    // have uses left, overall and for this customer.
    let rows = tables::codes(conn, &order.discount_codes, purpose == Purpose::Place).await?;
    let reprice = purpose == Purpose::Reprice;
    let used = if order.discount_codes.is_empty() || reprice {
        Vec::new()
    } else {
        tables::uses_by_customer(
            conn,
            &order.discount_codes,
            &order.customer.id,
            &order.customer.email,
        )
        .await?
    };
    let mut discounts = Vec::with_capacity(order.discount_codes.len());
    let mut positions = Vec::with_capacity(order.discount_codes.len());
    for (i, code) in order.discount_codes.iter().enumerate() {
        let field = format!("discount_codes[{i}]");
        let Some(row) = rows.iter().find(|r| &r.code == code) else {
            v.add(field, format!("{code} is not a valid code"));
            continue;
        };
        let by_customer = used.iter().find(|(c, _)| c == code).map_or(0, |(_, n)| *n);
        match usable(row, currency.as_str(), now, by_customer, reprice) {
            Err(why) => v.add(field, format!("{code} {why}")),
            Ok(discount) => {
                discounts.push(discount);
                positions.push(i);
            }
        }
    }

    let basket = Basket {
        lines: order
            .lines
            .iter()
            .map(|l| BasketLine {
                sku: l.sku.as_str().to_owned(),
                quantity: l.quantity.get(),
                unit_price: l.unit_price.minor,
                tax_bps: pricing::tax_bps(&tax_rates, &country, &region, &l.category),
            })
            .collect(),
        shipping,
        tax_mode,
        discounts,
    };
    let totals = match pricing::price(&basket) {
        Ok(totals) => Some(totals),
        Err(refused) => {
            for (k, why) in refused {
                match k.and_then(|k| positions.get(k)) {
                    Some(i) => v.add(
                        format!("discount_codes[{i}]"),
                        format!("{} {why}", order.discount_codes[*i]),
                    ),
                    None => v.add(
                        "lines",
                        format!("the order's total cannot be computed: {why}"),
                    ),
                }
            }
            None
        }
    };
    let Some(totals) = totals.filter(|_| v.is_empty()) else {
        return Err(Error::InvalidArgument(v));
    };

    let line_ids: Vec<String> = (1..=order.lines.len()).map(|i| format!("L{i}")).collect();
    let categories: Vec<String> = order.lines.iter().map(|l| l.category.clone()).collect();
    for (line, figures) in order.lines.iter_mut().zip(&totals.lines) {
        line.priced.discount = figures.discount;
        line.priced.tax = figures.tax;
        line.priced.charged = figures.charged;
    }
    order.breakdown = Breakdown::of(
        &basket,
        &totals,
        &line_ids,
        &categories,
        &service_level,
        weight,
    );
    order.total = Money::new(currency, totals.total);

    if let Some(expected) = order.expected_total
        && expected != order.total
    {
        let b = &order.breakdown;
        let mut v = FieldViolations::new();
        v.add(
            "expected_total",
            format!(
                "is {expected} but the order comes to {} (lines {} + shipping {} − discounts {} + tax {})",
                order.total, b.subtotal, b.shipping, b.discount, b.tax
            ),
        );
        return Err(Error::InvalidArgument(v));
    }

    let mut redemptions: Vec<Redemption> = Vec::new();
    for applied in &totals.discounts {
        match redemptions.iter_mut().find(|r| r.code == applied.code) {
            Some(r) => r.amount_minor += applied.amount,
            None => redemptions.push(Redemption {
                code: applied.code.clone(),
                amount_minor: applied.amount,
            }),
        }
    }
    Ok(redemptions)
}

/// The code's rule if this order may use it now, else why not (a phrase after the code).
fn usable(
    row: &DiscountCodeRow,
    currency: &str,
    now: DateTime<Utc>,
    by_customer: i64,
    granted: bool,
) -> Result<Discount, String> {
    if granted {
        return rule(row);
    }
    if row.disabled {
        return Err("is no longer valid".into());
    }
    if let Some(from) = row.valid_from
        && now < from
    {
        return Err(format!("is not valid before {}", from.to_rfc3339()));
    }
    if let Some(until) = row.valid_until
        && now >= until
    {
        return Err(format!("expired at {}", until.to_rfc3339()));
    }
    if let Some(c) = row.currency.as_deref()
        && c != currency
    {
        return Err(format!("applies only to orders in {c}"));
    }
    if let Some(max) = row.max_uses
        && row.times_used >= max
    {
        return Err("has been used up".into());
    }
    if let Some(max) = row.max_uses_per_customer
        && by_customer >= i64::from(max)
    {
        return Err(format!(
            "may be used only {max} time{} per customer",
            if max == 1 { "" } else { "s" }
        ));
    }
    rule(row)
}

/// The code's rule, as its row defines it.
fn rule(row: &DiscountCodeRow) -> Result<Discount, String> {
    let kind = match (row.kind.as_str(), row.percent_bps, row.amount_minor) {
        ("PERCENTAGE", Some(bps), _) => DiscountKind::Percentage {
            bps: u32::try_from(bps).unwrap_or(0),
        },
        ("FIXED", _, Some(minor)) => DiscountKind::Fixed { minor },
        _ => return Err("is misconfigured".into()),
    };
    let scope = match (row.scope.as_str(), &row.sku) {
        ("LINE", Some(sku)) => DiscountScope::Sku(sku.clone()),
        _ => DiscountScope::Order,
    };
    Ok(Discount {
        code: row.code.clone(),
        kind,
        scope,
        min_spend: row.min_spend_minor,
    })
}
