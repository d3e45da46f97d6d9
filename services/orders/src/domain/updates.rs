//! Changes to an order before its fulfilment starts: which changes the order's state allows,
//! how each is carried out, and what a change of lines makes of them. Pure: no I/O, no protobuf.
//!
//! What may change when:
//!
//! | status | contact | shipping address | lines |
//! |---|---|---|---|
//! | PENDING, ON_HOLD | at once | at once | at once: nothing is reserved or paid yet |
//! | AWAITING_STOCK, AWAITING_PAYMENT | at once | at once if the total stays the same | no: wait for confirmation |
//! | CONFIRMED, IN_FULFILLMENT, nothing shipped | with fulfillment | with the other services | with the other services |
//! | anything later, or final | no | no | no |
//!
//! "With the other services" is the update saga ([`Step`]), from confirmation on, when
//! fulfillment holds a copy of the order's lines, address and contact: inventory reserves added units,
//! payments covers a higher total, fulfillment takes the new lines and address if picking has
//! not started (the point of no return); then orders applies the update and gives back what it
//! no longer needs (released units, the voided or refunded difference). While stock or payment
//! are being requested (AWAITING_*) the order's lines are in flight between services, so they
//! wait for the answer. Once a payment is received it cannot grow: bank transfers may only go
//! down (refunded), installment plans not change at all.

use super::order::{NewLine, OrderLine, OrderStatus, PaymentMethod, Quantity, Sku};

/// Which parts an update changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parts {
    pub contact: bool,
    pub address: bool,
    pub lines: bool,
}

/// How an allowed update is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Orders alone, in the request's transaction.
    AtOnce,
    /// With inventory, payments and fulfillment first ([`Step`]).
    Saga,
}

/// Whether the order's state allows `parts`, and how; `Err` says why not (a
/// FAILED_PRECONDITION). `total_change` is what the update adds to (or, negative, takes from)
/// the order's total.
pub fn allowed(
    status: OrderStatus,
    shipped_any: bool,
    method: PaymentMethod,
    parts: Parts,
    total_change: i64,
) -> Result<Route, String> {
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
    if matches!(status, S::Pending | S::OnHold) {
        return Ok(Route::AtOnce);
    }
    let confirmed = matches!(status, S::Confirmed | S::InFulfillment);
    if parts.lines && !confirmed {
        return Err(format!(
            "the order is {name}: its stock and payment are being requested right now; its \
             lines can change again once it is confirmed"
        ));
    }
    if parts.address && !confirmed && total_change != 0 {
        return Err(format!(
            "the order is {name}: the new address changes the total, and stock and payment \
             are being requested for the old one; try again once it is confirmed"
        ));
    }
    if !confirmed {
        return Ok(Route::AtOnce);
    }
    match method {
        PaymentMethod::Installments if total_change != 0 => Err(
            "the order is paid in installments: its plan was accepted for this total, which \
             cannot change"
                .to_owned(),
        ),
        PaymentMethod::BankTransfer if total_change > 0 => Err(
            "the order was paid by bank transfer: the amount received cannot grow (lower \
             quantities are refunded; for more, place a new order)"
                .to_owned(),
        ),
        _ => Ok(Route::Saga),
    }
}

/// A step of the update saga, in the order they run; fulfillment is the point of no return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Inventory reserves the added units.
    Stock,
    /// Payments covers the higher total.
    Payment,
    /// Fulfillment takes the new lines and address.
    Fulfillment,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stock => "STOCK",
            Self::Payment => "PAYMENT",
            Self::Fulfillment => "FULFILLMENT",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Stock, Self::Payment, Self::Fulfillment]
            .into_iter()
            .find(|s| s.as_str() == name)
    }

    /// The step after `done` (`None`: the first) for an update that does or does not add
    /// units and raise the total; `None` once fulfillment is done.
    pub fn next(done: Option<Step>, adds_units: bool, raises_total: bool) -> Option<Step> {
        let order = [
            (Self::Stock, adds_units),
            (Self::Payment, raises_total),
            (Self::Fulfillment, true),
        ];
        let from = match done {
            None => 0,
            Some(d) => order.iter().position(|(s, _)| *s == d)? + 1,
        };
        order[from..]
            .iter()
            .find(|(_, needed)| *needed)
            .map(|(s, _)| *s)
    }
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
/// highest `L<n>` the order ever had (`used`: cancelled lines are gone from `lines`, but their
/// ids live on in other services' records, so they are never given again). Refused: an unknown
/// or repeated line id, or an update that leaves no line.
pub fn edit_lines(
    lines: &[OrderLine],
    changes: &[(String, i32)],
    added: Vec<NewLine>,
    used: u32,
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
        .unwrap_or(0)
        .max(used);
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
            0,
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
    fn a_line_added_after_one_was_cancelled_never_takes_its_id() {
        let lines = [line("L1", "A", 3)];
        let (edited, stock) = edit_lines(&lines, &[], vec![new_line("C", 1)], 2).unwrap();
        assert_eq!(edited[1].line_id, "L3");
        assert_eq!(stock[0].line_id, "L3");
    }

    #[test]
    fn unknown_repeated_and_out_of_range_changes_are_named() {
        let lines = [line("L1", "A", 3)];
        let refused = edit_lines(
            &lines,
            &[("L9".into(), 1), ("L1".into(), -1), ("L1".into(), 2)],
            Vec::new(),
            0,
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
        let empty = edit_lines(&lines, &[("L1".into(), 0)], Vec::new(), 0).unwrap_err();
        assert_eq!(empty[0].0, "update.line_changes");
    }

    #[test]
    fn lines_change_at_once_before_stock_with_the_saga_after_confirmation_and_never_in_between() {
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
        let card = PaymentMethod::Card;
        let ok = |r: Result<Route, String>| r.unwrap();
        assert_eq!(
            ok(allowed(OrderStatus::OnHold, false, card, lines, 5)),
            Route::AtOnce
        );
        assert!(allowed(OrderStatus::AwaitingPayment, false, card, lines, 5).is_err());
        assert_eq!(
            ok(allowed(
                OrderStatus::AwaitingPayment,
                false,
                card,
                address,
                0
            )),
            Route::AtOnce
        );
        assert!(allowed(OrderStatus::AwaitingPayment, false, card, address, 3).is_err());
        assert_eq!(
            ok(allowed(OrderStatus::Confirmed, false, card, address, 3)),
            Route::Saga
        );
        assert_eq!(
            ok(allowed(OrderStatus::InFulfillment, false, card, lines, -3)),
            Route::Saga
        );
        assert_eq!(
            ok(allowed(OrderStatus::InFulfillment, false, card, contact, 0)),
            Route::Saga
        );
        assert_eq!(
            ok(allowed(
                OrderStatus::AwaitingPayment,
                false,
                card,
                contact,
                0
            )),
            Route::AtOnce
        );
        assert!(allowed(OrderStatus::InFulfillment, true, card, contact, 0).is_err());
        assert!(allowed(OrderStatus::Shipped, false, card, contact, 0).is_err());
        assert!(allowed(OrderStatus::Cancelled, false, card, contact, 0).is_err());
    }

    #[test]
    fn a_received_payment_may_only_shrink_and_a_plan_not_change() {
        let lines = Parts {
            lines: true,
            ..Parts::default()
        };
        let s = OrderStatus::Confirmed;
        assert!(allowed(s, false, PaymentMethod::BankTransfer, lines, 100).is_err());
        assert_eq!(
            allowed(s, false, PaymentMethod::BankTransfer, lines, -100),
            Ok(Route::Saga)
        );
        assert!(allowed(s, false, PaymentMethod::Installments, lines, -100).is_err());
        assert_eq!(
            allowed(s, false, PaymentMethod::Installments, lines, 0),
            Ok(Route::Saga)
        );
        assert_eq!(
            allowed(s, false, PaymentMethod::CashOnDelivery, lines, 100),
            Ok(Route::Saga)
        );
    }

    #[test]
    fn the_saga_skips_the_steps_an_update_does_not_need_and_ends_with_fulfillment() {
        use Step::*;
        let walk = |adds, raises| {
            let mut steps = Vec::new();
            let mut done = None;
            while let Some(s) = Step::next(done, adds, raises) {
                steps.push(s);
                done = Some(s);
            }
            steps
        };
        assert_eq!(walk(true, true), [Stock, Payment, Fulfillment]);
        assert_eq!(walk(true, false), [Stock, Fulfillment]);
        assert_eq!(walk(false, true), [Payment, Fulfillment]);
        assert_eq!(walk(false, false), [Fulfillment]);
        for s in [Stock, Payment, Fulfillment] {
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
    }
}
