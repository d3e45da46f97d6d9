//! Changes to an order before its fulfilment starts: which changes the order's state allows,
//! and what a change of lines makes of them. Pure: no I/O, no protobuf.
//!
//! What may change when (the order's saga decides what others already hold):
//!
//! | status | contact | shipping address | lines |
//! |---|---|---|---|
//! | PENDING, ON_HOLD | yes | yes | yes: nothing is reserved or paid yet |
//! | AWAITING_STOCK, AWAITING_PAYMENT | yes | if the total stays the same | no |
//! | CONFIRMED, IN_FULFILLMENT | yes | no: fulfilment holds a copy | no |
//! | anything later, or final | no | no | no |
//!
//! Lines change only while no other service holds them: once stock is requested, inventory,
//! payments and (from confirmation) fulfilment hold the order's lines and amount, and none of
//! them has yet a request to change its copy.

use super::order::{NewLine, OrderLine, OrderStatus, Quantity, Sku};

/// Which parts an update changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parts {
    pub contact: bool,
    pub address: bool,
    pub lines: bool,
}

/// Whether the order's state allows `parts`; `Err` says why not (a FAILED_PRECONDITION).
/// `total_changes` is whether the update changes the order's total.
pub fn allowed(
    status: OrderStatus,
    shipped_any: bool,
    parts: Parts,
    total_changes: bool,
) -> Result<(), String> {
    use OrderStatus as S;
    let name = status.as_str().to_lowercase().replace('_', " ");
    if matches!(status, S::Completed | S::Cancelled | S::Rejected) {
        return Err(format!("the order is {name}: it can no longer be changed"));
    }
    if shipped_any
        || !matches!(
            status,
            S::Pending
                | S::OnHold
                | S::AwaitingStock
                | S::AwaitingPayment
                | S::Confirmed
                | S::InFulfillment
        )
    {
        return Err(format!(
            "the order is {name}: its fulfilment has started, so it can no longer be changed"
        ));
    }
    let before_stock = matches!(status, S::Pending | S::OnHold);
    if parts.lines && !before_stock {
        return Err(format!(
            "the order is {name}: its lines can change only before stock is reserved for it \
             (inventory, payments and fulfilment hold them from then on)"
        ));
    }
    if parts.address {
        if matches!(status, S::Confirmed | S::InFulfillment) {
            return Err(format!(
                "the order is {name}: fulfilment already holds its shipping address and has no \
                 request to change it"
            ));
        }
        if total_changes && !before_stock {
            return Err(format!(
                "the order is {name}: the new address changes the total, and stock and payment \
                 were already requested for the old one"
            ));
        }
    }
    Ok(())
}

/// A line as the update leaves it: its id (kept, or the next free one for an added line) and
/// what to price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditedLine {
    pub line_id: String,
    pub line: NewLine,
}

/// Units one line takes from (+) or gives back to (−) stock.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StockChange {
    pub line_id: String,
    pub sku: String,
    pub quantity: i32,
}

/// Why a change of lines cannot be made: (field, description).
pub type Refusal = (String, String);

/// The lines after `changes` ((line id, new quantity), 0 cancels) and `added`, with the
/// stock each takes or gives back. Lines keep their ids; added lines get the ids after the
/// highest `L<n>`. Refused: an unknown or repeated line id, or an update that leaves no line.
pub fn edit_lines(
    lines: &[OrderLine],
    changes: &[(String, i32)],
    added: Vec<NewLine>,
) -> Result<(Vec<EditedLine>, Vec<StockChange>), Vec<Refusal>> {
    let mut refused = Vec::new();
    for (i, (line_id, quantity)) in changes.iter().enumerate() {
        if !lines.iter().any(|l| &l.line_id == line_id) {
            refused.push((
                format!("update.line_changes[{i}].line_id"),
                format!("{line_id} is not a line of the order"),
            ));
        }
        if changes[..i].iter().any(|(id, _)| id == line_id) {
            refused.push((
                format!("update.line_changes[{i}].line_id"),
                format!("{line_id} is changed twice"),
            ));
        }
        if !(0..=i32::try_from(Quantity::MAX).unwrap_or(i32::MAX)).contains(quantity) {
            refused.push((
                format!("update.line_changes[{i}].quantity"),
                format!("must be between 0 and {}", Quantity::MAX),
            ));
        }
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    let mut edited = Vec::new();
    let mut stock = Vec::new();
    for l in lines {
        let quantity = changes
            .iter()
            .find(|(id, _)| *id == l.line_id)
            .map_or(l.quantity, |(_, q)| *q);
        if quantity != l.quantity {
            stock.push(StockChange {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity: quantity - l.quantity,
            });
        }
        if quantity == 0 {
            continue;
        }
        let (Ok(sku), Ok(q)) = (Sku::parse(&l.sku), Quantity::parse(quantity)) else {
            refused.push((
                "update.line_changes".to_owned(),
                format!("line {} cannot be priced again", l.line_id),
            ));
            continue;
        };
        edited.push(EditedLine {
            line_id: l.line_id.clone(),
            line: NewLine {
                sku,
                quantity: q,
                unit_price: l.unit_price,
                name: l.name.clone(),
                category: l.category.clone(),
                weight_grams: u32::try_from(l.weight_grams).unwrap_or(0),
                priced: Default::default(),
            },
        });
    }
    let mut next = lines
        .iter()
        .filter_map(|l| l.line_id.strip_prefix('L')?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    for line in added {
        next += 1;
        let line_id = format!("L{next}");
        stock.push(StockChange {
            line_id: line_id.clone(),
            sku: line.sku.as_str().to_owned(),
            quantity: i32::try_from(line.quantity.get()).unwrap_or(i32::MAX),
        });
        edited.push(EditedLine { line_id, line });
    }
    if edited.is_empty() && refused.is_empty() {
        refused.push((
            "update.line_changes".to_owned(),
            "would leave the order without lines: cancel the order instead".to_owned(),
        ));
    }
    if refused.is_empty() {
        Ok((edited, stock))
    } else {
        Err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, LinePrice, Money};

    fn line(id: &str, sku: &str, quantity: i32) -> OrderLine {
        let eur = Currency::parse("EUR").unwrap();
        OrderLine {
            line_id: id.into(),
            sku: sku.into(),
            name: String::new(),
            quantity,
            unit_price: Money::new(eur, 1000),
            shipped_quantity: 0,
            cancelled_quantity: 0,
            category: String::new(),
            weight_grams: 0,
            priced: LinePrice::default(),
        }
    }

    fn new_line(sku: &str, quantity: i32) -> NewLine {
        NewLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::parse(quantity).unwrap(),
            unit_price: Money::new(Currency::parse("EUR").unwrap(), 500),
            name: String::new(),
            category: String::new(),
            weight_grams: 0,
            priced: LinePrice::default(),
        }
    }

    #[test]
    fn a_reduced_a_cancelled_and_an_added_line_each_move_their_stock() {
        let lines = [line("L1", "A", 3), line("L2", "B", 1)];
        let (edited, stock) = edit_lines(
            &lines,
            &[("L1".into(), 1), ("L2".into(), 0)],
            vec![new_line("C", 2)],
        )
        .unwrap();
        let ids: Vec<&str> = edited.iter().map(|e| e.line_id.as_str()).collect();
        assert_eq!(ids, ["L1", "L3"]);
        assert_eq!(edited[0].line.quantity.get(), 1);
        let moves: Vec<(&str, i32)> = stock
            .iter()
            .map(|s| (s.line_id.as_str(), s.quantity))
            .collect();
        assert_eq!(moves, [("L1", -2), ("L2", -1), ("L3", 2)]);
    }

    #[test]
    fn unknown_repeated_and_out_of_range_changes_are_named() {
        let lines = [line("L1", "A", 3)];
        let refused = edit_lines(
            &lines,
            &[("L9".into(), 1), ("L1".into(), -1), ("L1".into(), 2)],
            Vec::new(),
        )
        .unwrap_err();
        let fields: Vec<&str> = refused.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "update.line_changes[0].line_id",
                "update.line_changes[1].quantity",
                "update.line_changes[2].line_id"
            ]
        );
        let empty = edit_lines(&lines, &[("L1".into(), 0)], Vec::new()).unwrap_err();
        assert_eq!(empty[0].0, "update.line_changes");
    }

    #[test]
    fn lines_change_only_before_stock_and_nothing_changes_once_fulfilment_started() {
        let lines = Parts {
            lines: true,
            ..Parts::default()
        };
        let address = Parts {
            address: true,
            ..Parts::default()
        };
        let contact = Parts {
            contact: true,
            ..Parts::default()
        };
        assert!(allowed(OrderStatus::OnHold, false, lines, true).is_ok());
        assert!(allowed(OrderStatus::AwaitingPayment, false, lines, true).is_err());
        assert!(allowed(OrderStatus::AwaitingPayment, false, address, false).is_ok());
        assert!(allowed(OrderStatus::AwaitingPayment, false, address, true).is_err());
        assert!(allowed(OrderStatus::Confirmed, false, address, false).is_err());
        assert!(allowed(OrderStatus::InFulfillment, false, contact, false).is_ok());
        assert!(allowed(OrderStatus::InFulfillment, true, contact, false).is_err());
        assert!(allowed(OrderStatus::Shipped, false, contact, false).is_err());
        assert!(allowed(OrderStatus::Cancelled, false, contact, false).is_err());
    }
}
