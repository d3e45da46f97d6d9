//! Order updates before fulfilment: what an update makes of the order (re-priced with the
//! order's own codes and the current tables, the difference to pay or refund, the stock it
//! takes or gives back), and applying it in one transaction with its record and timeline
//! entry. Which changes the order's state allows is [`crate::domain::updates`]'s rule.

use chrono::{DateTime, Utc};
use runtime::grpc::FieldViolations;
use sqlx::PgConnection;

use crate::catalog;
use crate::domain::pricing::{Adjustment, Breakdown, TaxMode};
use crate::domain::updates::{self, EditedLine, Parts, Route, StockChange};
use crate::domain::{
    Address, Customer, Fulfillment, LinePrice, Money, NewLine, NewOrder, Order, OrderLine,
    PaymentChoice,
};
use crate::error::Error;
use crate::pricing::{self, Purpose};
use crate::store;
use crate::store::saga::Allocation;
use serde::{Deserialize, Serialize};

/// A validated update.
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub address: Option<Address>,
    /// name, email, phone
    pub contact: Option<(String, String, String)>,
    /// (line id, new quantity)
    pub line_changes: Vec<(String, i32)>,
    pub add_lines: Vec<NewLine>,
}

impl Update {
    pub fn parts(&self) -> Parts {
        Parts {
            contact: self.contact.is_some(),
            address: self.address.is_some(),
            lines: !self.line_changes.is_empty() || !self.add_lines.is_empty(),
        }
    }
}

/// The lines as the update leaves them, the order priced with them, and each code's new
/// amount (code, minor units).
pub type Repriced = (Vec<EditedLine>, NewOrder, Vec<(String, i64)>);

/// What the update makes of the order.
#[derive(Debug, Clone)]
pub struct Plan {
    pub before: Order,
    /// The order as it would be (lines, totals, contact, address).
    pub after: Order,
    /// The lines priced again (when lines or the destination change), with the codes' new
    /// amounts.
    pub lines: Option<Repriced>,
    pub stock: Vec<StockChange>,
    pub customer: Option<Customer>,
    pub address: Option<Address>,
    pub parts: Parts,
    pub route: Route,
}

impl Plan {
    pub fn difference(&self) -> i64 {
        self.after.total.minor - self.before.total.minor
    }

    pub fn to_charge(&self) -> Money {
        Money::new(self.before.total.currency, self.difference().max(0))
    }

    pub fn to_refund(&self) -> Money {
        Money::new(self.before.total.currency, (-self.difference()).max(0))
    }

    /// What applying the update writes to the order, kept with an update carried out by the
    /// saga so the order ends up exactly as previewed.
    pub fn applied(&self) -> Applied {
        Applied {
            customer: self.customer.clone(),
            address: self.address.clone(),
            priced: self.lines.as_ref().map(|(edited, new, redemptions)| {
                let b = &new.breakdown;
                PricedLines {
                    lines: edited
                        .iter()
                        .zip(&new.lines)
                        .map(|(e, l)| StoredLine {
                            line_id: e.line_id.clone(),
                            sku: l.sku.as_str().to_owned(),
                            name: l.name.clone(),
                            quantity: i32::try_from(l.quantity.get()).unwrap_or(i32::MAX),
                            unit_price_minor: l.unit_price.minor,
                            category: l.category.clone(),
                            weight_grams: i32::try_from(l.weight_grams).unwrap_or(i32::MAX),
                            discount: l.priced.discount,
                            tax: l.priced.tax,
                            charged: l.priced.charged,
                        })
                        .collect(),
                    total_minor: new.total.minor,
                    subtotal: b.subtotal,
                    shipping: b.shipping,
                    discount: b.discount,
                    tax: b.tax,
                    included_tax: b.included_tax,
                    tax_inclusive: b.tax_mode == TaxMode::Inclusive,
                    service_level: b.service_level.clone(),
                    total_weight_grams: b.total_weight_grams,
                    adjustments: b.adjustments.clone(),
                    redemptions: redemptions.clone(),
                }
            }),
        }
    }

    /// The contact and shipping address the update replaces.
    pub fn replaced(&self) -> Applied {
        Applied {
            customer: self
                .customer
                .is_some()
                .then(|| self.before.customer.clone()),
            address: match (&self.address, &self.before.fulfillment) {
                (Some(_), Fulfillment::Ship { address }) => Some(address.clone()),
                _ => None,
            },
            priced: None,
        }
    }

    /// One line for the timeline.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.customer.is_some() {
            parts.push("contact changed".to_owned());
        }
        if self.address.is_some() {
            parts.push("shipping address changed".to_owned());
        }
        for s in &self.stock {
            parts.push(match s.quantity {
                q if q > 0 && !self.before.lines.iter().any(|l| l.line_id == s.line_id) => {
                    format!("{} added ({q} × {})", s.line_id, s.sku)
                }
                q if q > 0 => format!("{} +{q} × {}", s.line_id, s.sku),
                q if self.after.lines.iter().all(|l| l.line_id != s.line_id) => {
                    format!("{} cancelled ({} × {})", s.line_id, -q, s.sku)
                }
                q => format!("{} {q} × {}", s.line_id, s.sku),
            });
        }
        if self.difference() != 0 {
            parts.push(format!(
                "total {} → {}",
                self.before.total, self.after.total
            ));
        }
        format!("order updated: {}", parts.join("; "))
    }
}

/// What an update writes to the order (stored as JSON with the update while the saga runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub customer: Option<Customer>,
    pub address: Option<Address>,
    /// The lines and totals, when the lines or the destination change.
    pub priced: Option<PricedLines>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLines {
    pub lines: Vec<StoredLine>,
    pub total_minor: i64,
    pub subtotal: i64,
    pub shipping: i64,
    pub discount: i64,
    pub tax: i64,
    pub included_tax: i64,
    pub tax_inclusive: bool,
    pub service_level: String,
    pub total_weight_grams: i64,
    pub adjustments: Vec<Adjustment>,
    /// (code, minor units): each of the order's codes' new amount.
    pub redemptions: Vec<(String, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLine {
    pub line_id: String,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub category: String,
    pub weight_grams: i32,
    pub discount: i64,
    pub tax: i64,
    pub charged: i64,
}

impl Applied {
    /// `order` as the update leaves it.
    pub fn order_after(&self, order: &Order) -> Order {
        let mut after = order.clone();
        if let Some(c) = &self.customer {
            after.customer = c.clone();
        }
        if let (Some(a), Fulfillment::Ship { .. }) = (&self.address, &order.fulfillment) {
            after.fulfillment = Fulfillment::Ship { address: a.clone() };
        }
        if let Some(p) = &self.priced {
            let currency = order.total.currency;
            after.total = Money::new(currency, p.total_minor);
            after.breakdown = Breakdown {
                subtotal: p.subtotal,
                shipping: p.shipping,
                discount: p.discount,
                tax: p.tax,
                included_tax: p.included_tax,
                tax_mode: if p.tax_inclusive {
                    TaxMode::Inclusive
                } else {
                    TaxMode::Exclusive
                },
                service_level: p.service_level.clone(),
                total_weight_grams: p.total_weight_grams,
                adjustments: p.adjustments.clone(),
            };
            after.lines = p
                .lines
                .iter()
                .map(|l| OrderLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    name: l.name.clone(),
                    quantity: l.quantity,
                    unit_price: Money::new(currency, l.unit_price_minor),
                    shipped_quantity: 0,
                    cancelled_quantity: 0,
                    category: l.category.clone(),
                    weight_grams: l.weight_grams,
                    priced: LinePrice {
                        discount: l.discount,
                        tax: l.tax,
                        charged: l.charged,
                    },
                })
                .collect();
        }
        after
    }
}

/// Which held units an update gives back: for each line it reduces (negative `changes`), its
/// units in the last warehouse first — the rest stay held. Returns (released, still held).
pub fn release_units(
    held: &[Allocation],
    changes: &[StockChange],
) -> (Vec<Allocation>, Vec<Allocation>) {
    let mut kept = held.to_vec();
    let mut released = Vec::new();
    for change in changes.iter().filter(|c| c.quantity < 0) {
        let mut need = -change.quantity;
        let mut of_line: Vec<usize> = (0..kept.len())
            .filter(|&i| kept[i].line_id == change.line_id && kept[i].quantity > 0)
            .collect();
        of_line.sort_by(|&a, &b| kept[b].warehouse_id.cmp(&kept[a].warehouse_id));
        for i in of_line {
            if need == 0 {
                break;
            }
            let take = need.min(kept[i].quantity);
            need -= take;
            kept[i].quantity -= take;
            released.push(Allocation {
                quantity: take,
                ..kept[i].clone()
            });
        }
    }
    kept.retain(|a| a.quantity > 0);
    (released, kept)
}

/// `held` with `added` merged in (same line and warehouse add up).
pub fn merge_units(held: &[Allocation], added: &[Allocation]) -> Vec<Allocation> {
    let mut all = held.to_vec();
    for a in added {
        match all
            .iter_mut()
            .find(|h| h.line_id == a.line_id && h.warehouse_id == a.warehouse_id)
        {
            Some(h) => h.quantity += a.quantity,
            None => all.push(a.clone()),
        }
    }
    all
}

/// Works out `update` on `order` (read inside `conn`'s transaction when applying), refusing
/// what the order's state does not allow.
pub async fn plan(
    conn: &mut PgConnection,
    order: &Order,
    shipped_any: bool,
    update: &Update,
    catalog_check: bool,
    now: DateTime<Utc>,
) -> Result<Plan, Error> {
    let mut after = order.clone();
    let mut v = FieldViolations::new();
    let address = match (&update.address, &order.fulfillment) {
        (Some(_), Fulfillment::StorePickup { .. }) => {
            v.add(
                "update.shipping_address",
                "the order is picked up in a store: it has no shipping address",
            );
            None
        }
        (Some(a), Fulfillment::Ship { .. }) => {
            after.fulfillment = Fulfillment::Ship { address: a.clone() };
            Some(a.clone())
        }
        (None, _) => None,
    };
    let customer = update
        .contact
        .as_ref()
        .map(|(name, email, phone)| Customer {
            id: order.customer.id.clone(),
            name: name.clone(),
            email: email.clone(),
            phone: phone.clone(),
        });
    if let Some(c) = &customer {
        after.customer = c.clone();
    }
    for (i, line) in update.add_lines.iter().enumerate() {
        if line.unit_price.currency != order.total.currency {
            v.add(
                format!("update.add_lines[{i}].unit_price.currency_code"),
                format!("must be the order's currency {}", order.total.currency),
            );
        }
    }
    if !v.is_empty() {
        return Err(Error::InvalidArgument(v));
    }
    let parts = update.parts();
    // Refused early when the state allows none of it, whatever the total comes to.
    updates::allowed(order.status, shipped_any, order.payment_method, parts, 0)
        .map_err(Error::FailedPrecondition)?;

    let mut stock = Vec::new();
    let mut lines = None;
    // Prices again whenever the lines or the destination change (shipping and tax follow the
    // address); the order's codes keep applying as they were granted.
    if parts.lines || parts.address {
        let (edited, moves) = if parts.lines {
            let mut added = update.add_lines.clone();
            catalog::apply(conn, &mut added, catalog_check, "update.add_lines").await?;
            let used = store::updates::highest_line_number(conn, order.id).await?;
            updates::edit_lines(&order.lines, &update.line_changes, added, used).map_err(
                |refused| {
                    let mut v = FieldViolations::new();
                    for (field, why) in refused {
                        v.add(field, why);
                    }
                    Error::InvalidArgument(v)
                },
            )?
        } else {
            let same = updates::edit_lines(&order.lines, &[], Vec::new(), 0).map_err(|_| {
                Error::FailedPrecondition("the order's lines cannot be priced again".into())
            })?;
            (same.0, Vec::new())
        };
        stock = moves;
        let mut new = NewOrder {
            request_id: String::new(),
            customer: after.customer.clone(),
            channel: order.channel,
            channel_ref: order.channel_ref.clone(),
            fulfillment: after.fulfillment.clone(),
            billing_address: order.billing_address.clone(),
            lines: edited.iter().map(|e| e.line.clone()).collect(),
            payment: PaymentChoice {
                method: order.payment_method,
                token: None,
                installments: order.installments,
            },
            total: Money::new(order.total.currency, 0),
            discount_codes: codes_of(order),
            service_level: order.breakdown.service_level.clone(),
            expected_total: None,
            breakdown: order.breakdown.clone(),
            // The invoice request stays on the order as placed.
            invoice_request: None,
        };
        let redemptions = pricing::price(conn, &mut new, now, Purpose::Reprice)
            .await
            .map_err(|e| match e {
                Error::InvalidArgument(found) => {
                    let mut v = FieldViolations::new();
                    v.extend_prefixed("update", found);
                    Error::InvalidArgument(v)
                }
                other => other,
            })?;
        // Pricing names lines by position; the order's lines keep their own ids.
        for adj in &mut new.breakdown.adjustments {
            if let Some(k) = adj
                .line_id
                .strip_prefix('L')
                .and_then(|n| n.parse::<usize>().ok())
                && let Some(e) = k.checked_sub(1).and_then(|k| edited.get(k))
            {
                adj.line_id.clone_from(&e.line_id);
            }
        }
        after.total = new.total;
        after.breakdown = new.breakdown.clone();
        after.lines = edited
            .iter()
            .zip(&new.lines)
            .map(|(e, l)| crate::domain::OrderLine {
                line_id: e.line_id.clone(),
                sku: l.sku.as_str().to_owned(),
                name: l.name.clone(),
                quantity: i32::try_from(l.quantity.get()).unwrap_or(i32::MAX),
                unit_price: l.unit_price,
                shipped_quantity: 0,
                cancelled_quantity: 0,
                category: l.category.clone(),
                weight_grams: i32::try_from(l.weight_grams).unwrap_or(i32::MAX),
                priced: l.priced,
            })
            .collect();
        let redemptions = redemptions
            .into_iter()
            .map(|r| (r.code, r.amount_minor))
            .collect();
        lines = Some((edited, new, redemptions));
    }
    let route = updates::allowed(
        order.status,
        shipped_any,
        order.payment_method,
        parts,
        after.total.minor - order.total.minor,
    )
    .map_err(Error::FailedPrecondition)?;
    Ok(Plan {
        before: order.clone(),
        after,
        lines,
        stock,
        customer,
        address,
        parts,
        route,
    })
}

/// The codes the order was placed with, in the order pricing applies them.
fn codes_of(order: &Order) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for adj in &order.breakdown.adjustments {
        if adj.kind == crate::domain::pricing::AdjustmentKind::Discount
            && !codes.contains(&adj.code)
        {
            codes.push(adj.code.clone());
        }
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(line: &str, warehouse: &str, quantity: i32) -> Allocation {
        Allocation {
            line_id: line.into(),
            sku: format!("sku-{line}"),
            warehouse_id: warehouse.into(),
            quantity,
        }
    }

    #[test]
    fn a_reduction_gives_back_the_last_warehouses_units_first_and_keeps_the_rest() {
        let before = [
            held("L1", "berlin", 2),
            held("L1", "paris", 3),
            held("L2", "berlin", 1),
        ];
        let change = |line: &str, quantity| StockChange {
            line_id: line.into(),
            sku: format!("sku-{line}"),
            quantity,
        };
        let (released, kept) = release_units(
            &before,
            &[change("L1", -4), change("L2", -1), change("L3", 2)],
        );
        assert_eq!(
            released,
            [
                held("L1", "paris", 3),
                held("L1", "berlin", 1),
                held("L2", "berlin", 1)
            ]
        );
        assert_eq!(kept, [held("L1", "berlin", 1)]);
        let merged = merge_units(&kept, &[held("L1", "berlin", 2), held("L3", "paris", 2)]);
        assert_eq!(merged, [held("L1", "berlin", 3), held("L3", "paris", 2)]);
    }
}
