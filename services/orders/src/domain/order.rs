//! An order: what was asked for (a [`NewOrder`], valid by construction) and what is stored
//! ([`Order`]) with its [`OrderStatus`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::money::{Money, MoneyError};
use super::pricing::Breakdown;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable name stored in Postgres.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}

text_enum!(
    /// Where an order stands; see DESIGN §3a.
    OrderStatus {
        Pending = "PENDING",
        OnHold = "ON_HOLD",
        AwaitingStock = "AWAITING_STOCK",
        AwaitingPayment = "AWAITING_PAYMENT",
        Confirmed = "CONFIRMED",
        InFulfillment = "IN_FULFILLMENT",
        PartiallyShipped = "PARTIALLY_SHIPPED",
        Shipped = "SHIPPED",
        ReadyForPickup = "READY_FOR_PICKUP",
        Delivered = "DELIVERED",
        Accepted = "ACCEPTED",
        Disputed = "DISPUTED",
        Completed = "COMPLETED",
        Cancelled = "CANCELLED",
        Rejected = "REJECTED",
    }
);

text_enum!(
    /// Where the customer ordered.
    Channel {
        Web = "WEB",
        MobileApp = "MOBILE_APP",
        Store = "STORE",
        Phone = "PHONE",
        Marketplace = "MARKETPLACE",
        Api = "API",
    }
);

text_enum!(
    PaymentMethod {
        Card = "CARD",
        Wallet = "WALLET",
        BankTransfer = "BANK_TRANSFER",
        CashOnDelivery = "CASH_ON_DELIVERY",
        Installments = "INSTALLMENTS",
    }
);

impl PaymentMethod {
    /// Card, wallet and installments are paid through a provider token.
    pub fn needs_token(self) -> bool {
        matches!(self, Self::Card | Self::Wallet | Self::Installments)
    }
}

/// A stock-keeping unit: 1–64 letters, digits, `-`, `_` or `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("is required");
        }
        if raw.len() > 64 {
            return Err("must be at most 64 characters");
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err("may contain only letters, digits, '-', '_' and '.'");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Units of one line: 1 to 10,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = 10_000;

    pub fn parse(raw: i32) -> Result<Self, String> {
        match u32::try_from(raw) {
            Ok(q) if (1..=Self::MAX).contains(&q) => Ok(Self(q)),
            _ => Err(format!("must be between 1 and {}", Self::MAX)),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// `OC-YYMMDD-NNNNNN`: what a customer reads out on the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderNumber(String);

impl OrderNumber {
    pub fn new(date: DateTime<Utc>, sequence: i64) -> Self {
        Self(format!("OC-{}-{sequence:06}", date.format("%y%m%d")))
    }

    pub fn looks_like(raw: &str) -> bool {
        raw.starts_with("OC-")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub recipient: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country_code: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fulfillment {
    Ship { address: Address },
    StorePickup { store_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentChoice {
    pub method: PaymentMethod,
    /// Provider token (`tok_…`), for methods that need one.
    pub token: Option<String>,
    pub installments: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub sku: Sku,
    pub quantity: Quantity,
    pub unit_price: Money,
    /// The catalog's name for the SKU, filled in when the order is checked against it.
    pub name: String,
    /// The item category for tax: the catalog's, else the request's, else empty.
    pub category: String,
    /// Shipping weight of one unit: the catalog's, else the request's, else 0.
    pub weight_grams: u32,
    /// Set when the order is priced: this line's discount, tax and what it is charged
    /// (see [`super::pricing`]); until then no discount, no tax, charged = the line total.
    pub priced: LinePrice,
}

/// A line's share of the order's adjustments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinePrice {
    pub discount: i64,
    pub tax: i64,
    pub charged: i64,
}

impl NewLine {
    pub fn total(&self) -> Result<Money, MoneyError> {
        self.unit_price.checked_mul(self.quantity.get())
    }
}

/// A validated PlaceOrder request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub request_id: String,
    pub customer: Customer,
    pub channel: Channel,
    /// The store, phone agent or marketplace reference the order came through.
    pub channel_ref: String,
    pub fulfillment: Fulfillment,
    pub billing_address: Option<Address>,
    pub lines: Vec<NewLine>,
    pub payment: PaymentChoice,
    /// The amount charged. Σ lines until priced; then subtotal + shipping − discount + tax.
    pub total: Money,
    /// Discount codes as given (upper-cased), in order.
    pub discount_codes: Vec<String>,
    /// The shipping service level asked for; empty for the default ("standard").
    pub service_level: String,
    /// The total the client expects, checked once priced.
    pub expected_total: Option<Money>,
    /// How total is made up; [`Breakdown::plain`] until priced.
    pub breakdown: Breakdown,
    /// The invoice the buyer asked for at checkout, if any (see [`super::invoices`]).
    pub invoice_request: Option<super::invoices::InvoiceRequest>,
}

impl NewOrder {
    /// Σ quantity × unit price, in the lines' one currency.
    pub fn total_of(lines: &[NewLine]) -> Result<Money, MoneyError> {
        let mut lines = lines.iter();
        let first = lines.next().ok_or(MoneyError::Overflow)?.total()?;
        lines.try_fold(first, |sum, line| sum.checked_add(line.total()?))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub line_id: String,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price: Money,
    pub shipped_quantity: i32,
    pub cancelled_quantity: i32,
    pub category: String,
    pub weight_grams: i32,
    /// Discount, tax and what the line is charged (see [`super::pricing`]).
    pub priced: LinePrice,
}

impl OrderLine {
    /// unit price × quantity.
    pub fn amount(&self) -> i64 {
        self.unit_price
            .minor
            .saturating_mul(i64::from(self.quantity))
    }

    /// What `units` units of this line are worth, counted from its first unit `from`: its
    /// charged amount split so that the parts add up exactly (see
    /// [`super::pricing::value_of_units`]).
    pub fn value_of(&self, from: i32, units: i32) -> i64 {
        super::pricing::value_of_unit_range(
            self.priced.charged,
            i64::from(self.quantity),
            i64::from(from),
            i64::from(from) + i64::from(units),
        )
    }
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: Uuid,
    pub number: String,
    pub status: OrderStatus,
    pub customer: Customer,
    pub channel: Channel,
    pub channel_ref: String,
    pub fulfillment: Fulfillment,
    pub billing_address: Option<Address>,
    pub payment_method: PaymentMethod,
    pub installments: u8,
    pub lines: Vec<OrderLine>,
    /// The amount charged: subtotal + shipping − discount + tax.
    pub total: Money,
    pub breakdown: Breakdown,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    #[test]
    fn every_status_round_trips_through_its_stored_name() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(*status));
        }
    }

    #[test]
    fn skus_reject_spaces_and_empty_values() {
        assert!(Sku::parse("SKU-1.a_b").is_ok());
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse("two words").is_err());
        assert!(Sku::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn quantities_are_positive_and_bounded() {
        assert!(Quantity::parse(1).is_ok());
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(-3).is_err());
        assert!(Quantity::parse(10_001).is_err());
    }

    #[test]
    fn order_numbers_carry_the_date() {
        let date = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z").unwrap();
        assert_eq!(
            OrderNumber::new(date.with_timezone(&Utc), 42).as_str(),
            "OC-261128-000042"
        );
    }

    #[test]
    fn the_total_sums_every_line() {
        let eur = Currency::parse("EUR").unwrap();
        let line = |price, qty| NewLine {
            sku: Sku::parse("A").unwrap(),
            quantity: Quantity::parse(qty).unwrap(),
            unit_price: Money::new(eur, price),
            name: String::new(),
            category: String::new(),
            weight_grams: 0,
            priced: LinePrice::default(),
        };
        let total = NewOrder::total_of(&[line(1999, 2), line(500, 1)]).unwrap();
        assert_eq!(total, Money::new(eur, 4498));
    }
}
