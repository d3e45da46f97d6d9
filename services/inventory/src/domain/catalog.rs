//! Catalog items and warehouses: identifiers that cannot be malformed, and how an upsert
//! request resolves against what is stored (unset flags keep their stored value).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A natural key: a SKU, a warehouse id or a bin code. 1–64 characters of letters, digits,
/// `-`, `_` and `.` (the same alphabet orders accepts for SKUs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(String);

/// A stock-keeping unit.
pub type Sku = Code;

impl Code {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("is required");
        }
        if raw.len() > Self::MAX_LEN {
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

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A price: ISO 4217 currency and integer minor units, never negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub currency: String,
    pub minor: i64,
}

impl Price {
    pub fn parse(currency: &str, minor: i64) -> Result<Self, (&'static str, &'static str)> {
        if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err((
                "currency_code",
                "must be an ISO 4217 code of three upper-case letters",
            ));
        }
        if minor < 0 {
            return Err(("amount_minor", "must not be negative"));
        }
        Ok(Self {
            currency: currency.to_owned(),
            minor,
        })
    }
}

/// Packed size of one unit, in millimetres (all zero when unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dimensions {
    pub length_mm: i32,
    pub width_mm: i32,
    pub height_mm: i32,
}

/// An UpsertItem request, validated. `returnable` and `active` are `None` when the caller left
/// them unset.
#[derive(Debug, Clone)]
pub struct ItemSpec {
    pub sku: Sku,
    pub name: String,
    pub description: String,
    pub category: String,
    pub unit_price: Price,
    pub weight_grams: i32,
    pub dimensions: Dimensions,
    pub reorder_point: i32,
    pub safety_stock: i32,
    pub lead_time_days: i32,
    pub returnable: Option<bool>,
    pub active: Option<bool>,
}

/// A catalog item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub unit_price: Price,
    pub weight_grams: i32,
    pub dimensions: Dimensions,
    pub reorder_point: i32,
    pub safety_stock: i32,
    pub lead_time_days: i32,
    pub returnable: bool,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an upsert does to a stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created,
    Changed,
    Unchanged,
}

impl ItemSpec {
    /// The item this request leaves behind, and whether that is a change. Unset flags are true
    /// for a new item and keep their value on an existing one; an unchanged item keeps its
    /// `updated_at`.
    pub fn resolve(self, existing: Option<&Item>, now: DateTime<Utc>) -> (Item, Upsert) {
        let item = Item {
            sku: self.sku.into_string(),
            name: self.name,
            description: self.description,
            category: self.category,
            unit_price: self.unit_price,
            weight_grams: self.weight_grams,
            dimensions: self.dimensions,
            reorder_point: self.reorder_point,
            safety_stock: self.safety_stock,
            lead_time_days: self.lead_time_days,
            returnable: self
                .returnable
                .unwrap_or_else(|| existing.is_none_or(|e| e.returnable)),
            active: self
                .active
                .unwrap_or_else(|| existing.is_none_or(|e| e.active)),
            created_at: existing.map_or(now, |e| e.created_at),
            updated_at: now,
        };
        match existing {
            None => (item, Upsert::Created),
            Some(existing) => {
                let same = Item {
                    updated_at: existing.updated_at,
                    ..item.clone()
                } == *existing;
                if same {
                    (existing.clone(), Upsert::Unchanged)
                } else {
                    (item, Upsert::Changed)
                }
            }
        }
    }
}

/// A postal address (a warehouse's, for returns and pickup customers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// A storage location inside a warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bin {
    pub code: String,
    pub zone: String,
    pub pick_sequence: i32,
    pub pickable: bool,
}

impl Bin {
    /// The bin a warehouse created without a layout gets.
    pub const DEFAULT_CODE: &'static str = "DEFAULT";

    pub fn default_bin() -> Self {
        Self {
            code: Self::DEFAULT_CODE.to_owned(),
            zone: String::new(),
            pick_sequence: 0,
            pickable: true,
        }
    }
}

/// An UpsertWarehouse request, validated. An empty `bins` keeps the stored layout.
#[derive(Debug, Clone)]
pub struct WarehouseSpec {
    pub id: Code,
    pub name: String,
    pub country_code: String,
    pub region: String,
    pub pickup_enabled: bool,
    pub address: Option<Address>,
    pub bins: Vec<Bin>,
    pub time_zone: String,
    pub active: Option<bool>,
}

/// A warehouse or store as stored, with its bins in pick-path order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warehouse {
    pub id: String,
    pub name: String,
    pub country_code: String,
    pub region: String,
    pub pickup_enabled: bool,
    pub address: Option<Address>,
    pub bins: Vec<Bin>,
    pub time_zone: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WarehouseSpec {
    /// The warehouse this request leaves behind.
    pub fn resolve(self, existing: Option<&Warehouse>, now: DateTime<Utc>) -> Warehouse {
        let bins = match (self.bins.is_empty(), existing) {
            (false, _) => self.bins,
            (true, Some(existing)) => existing.bins.clone(),
            (true, None) => vec![Bin::default_bin()],
        };
        Warehouse {
            id: self.id.into_string(),
            name: self.name,
            country_code: self.country_code,
            region: self.region,
            pickup_enabled: self.pickup_enabled,
            address: self.address,
            bins: sorted_bins(bins),
            time_zone: self.time_zone,
            active: self
                .active
                .unwrap_or_else(|| existing.is_none_or(|e| e.active)),
            created_at: existing.map_or(now, |e| e.created_at),
            updated_at: now,
        }
    }
}

/// Bins in pick-path order (sequence, then code).
pub fn sorted_bins(mut bins: Vec<Bin>) -> Vec<Bin> {
    bins.sort_by(|a, b| (a.pick_sequence, &a.code).cmp(&(b.pick_sequence, &b.code)));
    bins
}

impl Warehouse {
    /// Where received units go when the caller names no bin: the first pickable bin on the
    /// pick path.
    pub fn receiving_bin(&self) -> Option<&Bin> {
        self.bins.iter().find(|b| b.pickable)
    }

    pub fn bin(&self, code: &str) -> Option<&Bin> {
        self.bins.iter().find(|b| b.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(returnable: Option<bool>, active: Option<bool>) -> ItemSpec {
        ItemSpec {
            sku: Code::parse("TEA-001").unwrap(),
            name: "Green tea".into(),
            description: String::new(),
            category: "tea".into(),
            unit_price: Price::parse("EUR", 1250).unwrap(),
            weight_grams: 100,
            dimensions: Dimensions::default(),
            reorder_point: 5,
            safety_stock: 2,
            lead_time_days: 7,
            returnable,
            active,
        }
    }

    #[test]
    fn codes_refuse_empty_long_and_odd_characters() {
        assert!(Code::parse("A-1_b.2").is_ok());
        assert!(Code::parse("").is_err());
        assert!(Code::parse(&"x".repeat(65)).is_err());
        assert!(Code::parse("a b").is_err());
        assert!(Code::parse("ä").is_err());
    }

    #[test]
    fn unset_flags_are_true_for_a_new_item_and_kept_for_an_existing_one() {
        let t0 = Utc::now();
        let (created, kind) = spec(None, None).resolve(None, t0);
        assert_eq!(kind, Upsert::Created);
        assert!(created.returnable && created.active);

        let (inactive, kind) = spec(Some(false), Some(false)).resolve(Some(&created), t0);
        assert_eq!(kind, Upsert::Changed);
        let t1 = t0 + chrono::Duration::seconds(1);
        let (kept, kind) = spec(None, None).resolve(Some(&inactive), t1);
        assert_eq!(kind, Upsert::Unchanged);
        assert!(!kept.returnable && !kept.active);
        assert_eq!(kept.updated_at, t0, "an unchanged item keeps updated_at");
    }

    #[test]
    fn a_new_warehouse_without_bins_gets_the_default_bin_and_an_update_keeps_the_layout() {
        let t0 = Utc::now();
        let spec = |bins: Vec<Bin>| WarehouseSpec {
            id: Code::parse("wh-1").unwrap(),
            name: "Main".into(),
            country_code: "DE".into(),
            region: "BE".into(),
            pickup_enabled: false,
            address: None,
            bins,
            time_zone: String::new(),
            active: None,
        };
        let created = spec(vec![]).resolve(None, t0);
        assert_eq!(created.bins, vec![Bin::default_bin()]);
        let laid_out = spec(vec![
            Bin {
                code: "B".into(),
                zone: String::new(),
                pick_sequence: 2,
                pickable: true,
            },
            Bin {
                code: "A".into(),
                zone: String::new(),
                pick_sequence: 1,
                pickable: false,
            },
        ])
        .resolve(Some(&created), t0);
        assert_eq!(
            laid_out
                .bins
                .iter()
                .map(|b| b.code.as_str())
                .collect::<Vec<_>>(),
            ["A", "B"]
        );
        assert_eq!(laid_out.receiving_bin().unwrap().code, "B");
        let kept = spec(vec![]).resolve(Some(&laid_out), t0);
        assert_eq!(kept.bins, laid_out.bins);
    }
}
