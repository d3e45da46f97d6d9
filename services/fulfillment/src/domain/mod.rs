//! The fulfilment domain: statuses, pick-list ordering, the weight check. Pure: no I/O.

pub mod pick;
pub mod weight;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant,)* }

        impl $name {
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
    /// Where one warehouse's share of an order stands.
    Status {
        Pending = "PENDING",
        Picking = "PICKING",
        Picked = "PICKED",
        Packed = "PACKED",
        HandedOver = "HANDED_OVER",
        ReadyForPickup = "READY_FOR_PICKUP",
        PickedUp = "PICKED_UP",
        Cancelled = "CANCELLED",
    }
);

impl Status {
    /// Nothing has left the building yet: the fulfilment can still be cancelled.
    pub fn cancellable(self) -> bool {
        matches!(
            self,
            Self::Pending | Self::Picking | Self::Picked | Self::Packed | Self::ReadyForPickup
        )
    }
}
