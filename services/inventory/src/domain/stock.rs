//! Stock of a SKU in a warehouse: per-bin units, what is available to reserve, why on-hand
//! changes, and when a level counts as low.

use chrono::{DateTime, Utc};

use super::text_enum;

/// Units of one SKU in one bin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinLevel {
    pub bin: String,
    pub on_hand: i32,
    pub reserved: i32,
    pub pickable: bool,
}

/// Stock of one SKU in one warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockLevel {
    pub sku: String,
    pub warehouse_id: String,
    pub on_hand: i32,
    pub reserved: i32,
    /// On hand minus reserved in pickable bins (never negative): what a reservation can take.
    pub available: i32,
    /// Bins holding or reserving units, in pick-path order.
    pub bins: Vec<BinLevel>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl StockLevel {
    pub fn from_bins(
        sku: String,
        warehouse_id: String,
        bins: Vec<BinLevel>,
        updated_at: Option<DateTime<Utc>>,
    ) -> Self {
        let on_hand = bins.iter().map(|b| b.on_hand).sum();
        let reserved = bins.iter().map(|b| b.reserved).sum();
        let available = bins
            .iter()
            .filter(|b| b.pickable)
            .map(|b| (b.on_hand - b.reserved).max(0))
            .sum();
        Self {
            sku,
            warehouse_id,
            on_hand,
            reserved,
            available,
            bins: bins
                .into_iter()
                .filter(|b| b.on_hand > 0 || b.reserved > 0)
                .collect(),
            updated_at,
        }
    }
}

/// Units moved by one request or event line: 1 to 1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i32);

impl Quantity {
    pub const MAX: i32 = 1_000_000;

    pub fn parse(raw: i32) -> Result<Self, String> {
        if (1..=Self::MAX).contains(&raw) {
            Ok(Self(raw))
        } else {
            Err(format!("must be between 1 and {}", Self::MAX))
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

text_enum!(
    /// Why on-hand stock was corrected.
    AdjustmentReason {
        CountCorrection = "COUNT_CORRECTION",
        Damaged = "DAMAGED",
        Lost = "LOST",
        Found = "FOUND",
        Expired = "EXPIRED",
        Other = "OTHER",
    }
);

text_enum!(
    /// What changed on-hand stock (the ledger's `kind`).
    MovementKind {
        Received = "RECEIVED",
        Adjusted = "ADJUSTED",
        Committed = "COMMITTED",
        Restocked = "RESTOCKED",
    }
);

/// How a change moved a level relative to its reorder point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowStock {
    /// It fell to or below the reorder point: publish one StockLow.
    Entered,
    /// It rose above again: the next fall is a new crossing.
    Left,
    Unchanged,
}

/// A level is low when the item is active and available is at or below its reorder point.
/// `was_low` is the stored state, so a level that stays low reports nothing more.
pub fn low_stock(was_low: bool, available: i32, reorder_point: i32, active: bool) -> LowStock {
    let low = active && available <= reorder_point;
    match (was_low, low) {
        (false, true) => LowStock::Entered,
        (true, false) => LowStock::Left,
        _ => LowStock::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(code: &str, on_hand: i32, reserved: i32, pickable: bool) -> BinLevel {
        BinLevel {
            bin: code.into(),
            on_hand,
            reserved,
            pickable,
        }
    }

    #[test]
    fn available_counts_pickable_bins_only_and_empty_bins_are_left_out() {
        let level = StockLevel::from_bins(
            "S".into(),
            "W".into(),
            vec![
                bin("A", 5, 2, true),
                bin("B", 4, 0, false),
                bin("C", 0, 0, true),
            ],
            None,
        );
        assert_eq!((level.on_hand, level.reserved, level.available), (9, 2, 3));
        assert_eq!(level.bins.len(), 2);
    }

    #[test]
    fn low_stock_is_reported_once_per_crossing() {
        assert_eq!(low_stock(false, 5, 5, true), LowStock::Entered);
        assert_eq!(low_stock(true, 3, 5, true), LowStock::Unchanged);
        assert_eq!(low_stock(true, 6, 5, true), LowStock::Left);
        assert_eq!(low_stock(false, 6, 5, true), LowStock::Unchanged);
        // An inactive item is never low: nobody reorders what is not sold.
        assert_eq!(low_stock(false, 0, 5, false), LowStock::Unchanged);
        assert_eq!(low_stock(true, 0, 5, false), LowStock::Left);
    }

    #[test]
    fn quantities_are_positive_and_bounded() {
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(-3).is_err());
        assert!(Quantity::parse(Quantity::MAX + 1).is_err());
        assert_eq!(Quantity::parse(7).unwrap().get(), 7);
    }
}
