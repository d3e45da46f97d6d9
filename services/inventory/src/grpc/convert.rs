//! Protobuf ↔ domain. Requests become domain values here or are refused with every invalid
//! field named; no protobuf type goes further in.

use std::collections::HashSet;

use contracts::common;
use contracts::inventory as pb;
use contracts::time::to_timestamp;
use runtime::grpc::FieldViolations;

use crate::domain::catalog::{
    Address, Bin, Code, Dimensions, Item, ItemSpec, Price, Warehouse, WarehouseSpec,
};
use crate::domain::forecast::Method;
use crate::domain::reservation::{Held, Reservation, ReservationStatus};
use crate::domain::stock::{AdjustmentReason, Quantity, StockLevel};

/// Bins a warehouse layout may have.
const MAX_BINS: usize = 10_000;
/// SKUs one watch may follow.
pub const MAX_WATCHED: usize = 100;

/// A trimmed text field, checked for presence and length.
pub fn text(
    v: &mut FieldViolations,
    field: &str,
    value: &str,
    required: bool,
    max: usize,
) -> String {
    let value = value.trim();
    if required && value.is_empty() {
        v.add(field, "is required");
    } else if value.chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    }
    value.to_owned()
}

/// A natural key (SKU, warehouse id, bin code).
pub fn code(v: &mut FieldViolations, field: &str, value: &str) -> Option<Code> {
    Code::parse(value.trim()).map_err(|e| v.add(field, e)).ok()
}

/// An optional natural key: empty means "none".
pub fn optional_code(v: &mut FieldViolations, field: &str, value: &str) -> Option<Code> {
    if value.trim().is_empty() {
        None
    } else {
        code(v, field, value)
    }
}

fn non_negative(v: &mut FieldViolations, field: &str, value: i32) -> i32 {
    v.check(value >= 0, field, "must not be negative");
    value.max(0)
}

fn country(v: &mut FieldViolations, field: &str, value: &str) -> String {
    let value = value.trim();
    let cc = value.as_bytes();
    if !(cc.len() == 2 && cc.iter().all(u8::is_ascii_uppercase)) {
        v.add(
            field,
            "must be an ISO 3166-1 alpha-2 code (two upper-case letters)",
        );
    }
    value.to_owned()
}

pub fn quantity(v: &mut FieldViolations, field: &str, raw: i32) -> Option<Quantity> {
    Quantity::parse(raw).map_err(|e| v.add(field, e)).ok()
}

pub fn item_spec(v: &mut FieldViolations, item: Option<&pb::Item>) -> Option<ItemSpec> {
    let Some(item) = item else {
        v.add("item", "is required");
        return None;
    };
    let sku = code(v, "item.sku", &item.sku);
    let name = text(v, "item.name", &item.name, true, 200);
    let description = text(v, "item.description", &item.description, false, 4000);
    let category = text(v, "item.category", &item.category, false, 200);
    let unit_price = match &item.unit_price {
        None => {
            v.add("item.unit_price", "is required");
            None
        }
        Some(m) => Price::parse(m.currency_code.trim(), m.amount_minor)
            .map_err(|(field, e)| v.add(format!("item.unit_price.{field}"), e))
            .ok(),
    };
    let dims = item.dimensions.unwrap_or_default();
    let dimensions = Dimensions {
        length_mm: non_negative(v, "item.dimensions.length_mm", dims.length_mm),
        width_mm: non_negative(v, "item.dimensions.width_mm", dims.width_mm),
        height_mm: non_negative(v, "item.dimensions.height_mm", dims.height_mm),
    };
    let weight_grams = non_negative(v, "item.weight_grams", item.weight_grams);
    let reorder_point = non_negative(v, "item.reorder_point", item.reorder_point);
    let safety_stock = non_negative(v, "item.safety_stock", item.safety_stock);
    let lead_time_days = non_negative(v, "item.lead_time_days", item.lead_time_days);
    v.check(
        lead_time_days <= 3650,
        "item.lead_time_days",
        "must be at most 3650",
    );
    Some(ItemSpec {
        sku: sku?,
        name,
        description,
        category,
        unit_price: unit_price?,
        weight_grams,
        dimensions,
        reorder_point,
        safety_stock,
        lead_time_days,
        returnable: item.returnable,
        active: item.active,
    })
}

fn address(v: &mut FieldViolations, field: &str, a: &common::Address) -> Address {
    let mut f = |name: &str, value: &str, required: bool, max: usize| {
        text(v, &format!("{field}.{name}"), value, required, max)
    };
    let address = Address {
        recipient: f("recipient", &a.recipient, false, 200),
        line1: f("line1", &a.line1, true, 200),
        line2: f("line2", &a.line2, false, 200),
        city: f("city", &a.city, true, 100),
        region: f("region", &a.region, false, 100),
        postal_code: f("postal_code", &a.postal_code, false, 20),
        country_code: String::new(),
        phone: f("phone", &a.phone, false, 40),
    };
    Address {
        country_code: country(v, &format!("{field}.country_code"), &a.country_code),
        ..address
    }
}

pub fn warehouse_spec(v: &mut FieldViolations, w: Option<&pb::Warehouse>) -> Option<WarehouseSpec> {
    let Some(w) = w else {
        v.add("warehouse", "is required");
        return None;
    };
    let id = code(v, "warehouse.id", &w.id);
    let name = text(v, "warehouse.name", &w.name, true, 200);
    let country_code = country(v, "warehouse.country_code", &w.country_code);
    let region = text(v, "warehouse.region", &w.region, false, 100);
    let time_zone = text(v, "warehouse.time_zone", &w.time_zone, false, 64);
    v.check(
        time_zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+')),
        "warehouse.time_zone",
        "must be an IANA time zone name, e.g. Europe/Berlin",
    );
    let address = w
        .address
        .as_ref()
        .map(|a| address(v, "warehouse.address", a));
    if w.bins.len() > MAX_BINS {
        v.add("warehouse.bins", format!("at most {MAX_BINS} bins"));
    }
    let mut seen = HashSet::new();
    let mut bins = Vec::with_capacity(w.bins.len());
    for (i, b) in w.bins.iter().enumerate() {
        let field = |name: &str| format!("warehouse.bins[{i}].{name}");
        let Some(bin_code) = code(v, &field("code"), &b.code) else {
            continue;
        };
        if !seen.insert(bin_code.clone()) {
            v.add(field("code"), "appears twice");
        }
        bins.push(Bin {
            code: bin_code.into_string(),
            zone: text(v, &field("zone"), &b.zone, false, 64),
            pick_sequence: non_negative(v, &field("pick_sequence"), b.pick_sequence),
            pickable: b.pickable.unwrap_or(true),
        });
    }
    Some(WarehouseSpec {
        id: id?,
        name,
        country_code,
        region,
        pickup_enabled: w.pickup_enabled,
        address,
        bins,
        time_zone,
        active: w.active,
    })
}

pub fn adjustment_reason(v: &mut FieldViolations, raw: i32) -> Option<AdjustmentReason> {
    let reason = match pb::AdjustmentReason::try_from(raw) {
        Ok(pb::AdjustmentReason::CountCorrection) => Some(AdjustmentReason::CountCorrection),
        Ok(pb::AdjustmentReason::Damaged) => Some(AdjustmentReason::Damaged),
        Ok(pb::AdjustmentReason::Lost) => Some(AdjustmentReason::Lost),
        Ok(pb::AdjustmentReason::Found) => Some(AdjustmentReason::Found),
        Ok(pb::AdjustmentReason::Expired) => Some(AdjustmentReason::Expired),
        Ok(pb::AdjustmentReason::Other) => Some(AdjustmentReason::Other),
        Ok(pb::AdjustmentReason::Unspecified) | Err(_) => None,
    };
    if reason.is_none() {
        v.add(
            "reason",
            "must be one of ADJUSTMENT_REASON_COUNT_CORRECTION … ADJUSTMENT_REASON_OTHER",
        );
    }
    reason
}

/// `page_size`: 0 means 100, above 1000 means 1000.
pub fn page_size(v: &mut FieldViolations, raw: i32) -> i64 {
    v.check(raw >= 0, "page_size", "must not be negative");
    match raw {
        r if r <= 0 => 100,
        r => i64::from(r.min(1000)),
    }
}

/// A page token that is an offset into an ordered result.
pub fn offset_token(v: &mut FieldViolations, raw: &str) -> i64 {
    if raw.is_empty() {
        return 0;
    }
    match raw.strip_prefix("o").and_then(|n| n.parse::<i64>().ok()) {
        Some(offset) if offset >= 0 => offset,
        _ => {
            v.add("page_token", "is not a token this list returned");
            0
        }
    }
}

pub fn next_offset_token(offset: i64, returned: usize, limit: i64, more: bool) -> String {
    if more {
        format!("o{}", offset + i64::try_from(returned).unwrap_or(limit))
    } else {
        String::new()
    }
}

impl From<Item> for pb::Item {
    fn from(i: Item) -> Self {
        pb::Item {
            sku: i.sku,
            name: i.name,
            description: i.description,
            category: i.category,
            unit_price: Some(common::Money {
                currency_code: i.unit_price.currency,
                amount_minor: i.unit_price.minor,
            }),
            weight_grams: i.weight_grams,
            dimensions: Some(common::Dimensions {
                length_mm: i.dimensions.length_mm,
                width_mm: i.dimensions.width_mm,
                height_mm: i.dimensions.height_mm,
            }),
            reorder_point: i.reorder_point,
            safety_stock: i.safety_stock,
            lead_time_days: i.lead_time_days,
            returnable: Some(i.returnable),
            active: Some(i.active),
            created_at: Some(to_timestamp(i.created_at)),
            updated_at: Some(to_timestamp(i.updated_at)),
        }
    }
}

impl From<Warehouse> for pb::Warehouse {
    fn from(w: Warehouse) -> Self {
        pb::Warehouse {
            id: w.id,
            name: w.name,
            country_code: w.country_code,
            region: w.region,
            pickup_enabled: w.pickup_enabled,
            address: w.address.map(|a| common::Address {
                recipient: a.recipient,
                line1: a.line1,
                line2: a.line2,
                city: a.city,
                region: a.region,
                postal_code: a.postal_code,
                country_code: a.country_code,
                phone: a.phone,
            }),
            bins: w
                .bins
                .into_iter()
                .map(|b| pb::Bin {
                    code: b.code,
                    zone: b.zone,
                    pick_sequence: b.pick_sequence,
                    pickable: Some(b.pickable),
                })
                .collect(),
            time_zone: w.time_zone,
            active: Some(w.active),
            created_at: Some(to_timestamp(w.created_at)),
            updated_at: Some(to_timestamp(w.updated_at)),
        }
    }
}

impl From<StockLevel> for pb::StockLevel {
    fn from(l: StockLevel) -> Self {
        pb::StockLevel {
            sku: l.sku,
            warehouse_id: l.warehouse_id,
            on_hand: l.on_hand,
            reserved: l.reserved,
            available: l.available,
            bins: l
                .bins
                .into_iter()
                .map(|b| pb::BinStock {
                    bin: b.bin,
                    on_hand: b.on_hand,
                    reserved: b.reserved,
                })
                .collect(),
            updated_at: l.updated_at.map(to_timestamp),
        }
    }
}

fn status(s: ReservationStatus) -> pb::ReservationStatus {
    match s {
        ReservationStatus::Reserved => pb::ReservationStatus::Reserved,
        ReservationStatus::Firm => pb::ReservationStatus::Firm,
        ReservationStatus::PartiallyCommitted => pb::ReservationStatus::PartiallyCommitted,
        ReservationStatus::Committed => pb::ReservationStatus::Committed,
        ReservationStatus::Released => pb::ReservationStatus::Released,
        ReservationStatus::Expired => pb::ReservationStatus::Expired,
        ReservationStatus::Shortage => pb::ReservationStatus::Shortage,
    }
}

/// Allocations per (line, warehouse), with `units` of each held bin.
fn grouped(held: &[Held], units: impl Fn(&Held) -> i32) -> Vec<common::Allocation> {
    let mut out: Vec<common::Allocation> = Vec::new();
    for h in held {
        let n = units(h);
        if n <= 0 {
            continue;
        }
        let bin = common::BinAllocation {
            bin: h.bin.clone(),
            quantity: n,
            pick_sequence: h.pick_sequence,
        };
        match out
            .iter_mut()
            .find(|a| a.line_id == h.line_id && a.warehouse_id == h.warehouse_id)
        {
            Some(a) => {
                a.quantity += n;
                a.bins.push(bin);
            }
            None => out.push(common::Allocation {
                line_id: h.line_id.clone(),
                sku: h.sku.clone(),
                warehouse_id: h.warehouse_id.clone(),
                quantity: n,
                bins: vec![bin],
            }),
        }
    }
    out
}

impl From<Reservation> for pb::Reservation {
    fn from(r: Reservation) -> Self {
        pb::Reservation {
            status: status(r.status).into(),
            // What is held now; what was held when the reservation ended is in `committed` and
            // in the events.
            allocations: grouped(&r.allocations, Held::held),
            committed: grouped(&r.allocations, |h| h.committed),
            id: r.id,
            order_id: r.order_id,
            expires_at: r.expires_at.map(to_timestamp),
            created_at: Some(to_timestamp(r.created_at)),
            updated_at: Some(to_timestamp(r.updated_at)),
        }
    }
}

pub fn forecast_method(m: Method) -> pb::ForecastMethod {
    match m {
        Method::NoDemand => pb::ForecastMethod::NoDemand,
        Method::ExponentialSmoothing => pb::ForecastMethod::ExponentialSmoothing,
        Method::Croston => pb::ForecastMethod::Croston,
    }
}
