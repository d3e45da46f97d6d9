//! Inventory's rules, pure: no I/O, no protobuf.
//!
//! - [`catalog`]: items and warehouses as validated values, and how an upsert resolves
//!   against what is stored.
//! - [`stock`]: stock levels per warehouse and bin, adjustment reasons, the low-stock crossing.
//! - [`allocation`]: where a reservation's units come from (single warehouse first, then the
//!   split with the fewest warehouses, nearest region first; pickup at the store).
//! - [`reservation`]: a reservation's status and how releases and commits move it.
//! - [`forecast`]: demand forecasting (exponential smoothing, Croston) and replenishment.

pub mod allocation;
pub mod catalog;
pub mod forecast;
pub mod reservation;
pub mod stock;

/// A stored text value that does not name a known variant.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownVariant {
    pub what: &'static str,
    pub value: String,
}

/// Enums stored as text: a stable name per variant.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant,)* }

        impl $name {
            /// The stable name stored in Postgres.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            pub fn parse(text: &str) -> Result<Self, $crate::domain::UnknownVariant> {
                match text {
                    $($text => Ok($name::$variant),)*
                    _ => Err($crate::domain::UnknownVariant {
                        what: stringify!($name),
                        value: text.to_owned(),
                    }),
                }
            }
        }
    };
}
pub(crate) use text_enum;
