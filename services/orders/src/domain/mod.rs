//! The order domain: values that cannot be wrong once made, and the order's state. Pure: no
//! I/O, no protobuf.

pub mod invoices;
pub mod money;
pub mod order;
pub mod pricing;
pub mod returns;
pub mod review;
pub mod saga;
pub mod updates;

pub use money::{Currency, Money, MoneyError};
pub use order::{
    Address, Channel, Customer, Fulfillment, LinePrice, NewLine, NewOrder, Order, OrderLine,
    OrderNumber, OrderStatus, PaymentChoice, PaymentMethod, Quantity, Sku,
};
