//! Rows → protobuf for the fulfillment API.

use contracts::common::{self, BinAllocation, Dimensions, Money};
use contracts::fulfillment as pb;
use contracts::time::to_timestamp;

use crate::domain::Status;
use crate::store::fulfillments::{FulfillmentRow, LineRow};
use crate::store::parcels::ParcelRow;
use crate::store::returns::ReceiptRow;

pub fn money(currency: &str, minor: i64) -> Money {
    Money {
        currency_code: currency.to_owned(),
        amount_minor: minor,
    }
}

pub fn status_pb(status: &str) -> pb::FulfillmentStatus {
    match Status::parse(status) {
        Some(Status::Pending) => pb::FulfillmentStatus::Pending,
        Some(Status::Picking) => pb::FulfillmentStatus::Picking,
        Some(Status::Picked) => pb::FulfillmentStatus::Picked,
        Some(Status::Packed) => pb::FulfillmentStatus::Packed,
        Some(Status::HandedOver) => pb::FulfillmentStatus::HandedOver,
        Some(Status::ReadyForPickup) => pb::FulfillmentStatus::ReadyForPickup,
        Some(Status::PickedUp) => pb::FulfillmentStatus::PickedUp,
        Some(Status::Cancelled) => pb::FulfillmentStatus::Cancelled,
        None => pb::FulfillmentStatus::Unspecified,
    }
}

pub fn parcel_pb(p: &ParcelRow, currency: &str) -> pb::Parcel {
    pb::Parcel {
        id: p.id.to_string(),
        fulfillment_id: p.fulfillment_id.to_string(),
        status: match p.status.as_str() {
            "PACKED" => pb::ParcelStatus::Packed,
            "HANDED_OVER" => pb::ParcelStatus::HandedOver,
            "CANCELLED" => pb::ParcelStatus::Cancelled,
            _ => pb::ParcelStatus::Unspecified,
        }
        .into(),
        lines: p
            .lines
            .0
            .iter()
            .map(|l| pb::ParcelLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect(),
        weight_grams: p.weight_grams,
        dimensions: Some(Dimensions {
            length_mm: p.dimensions.0.length_mm,
            width_mm: p.dimensions.0.width_mm,
            height_mm: p.dimensions.0.height_mm,
        }),
        shipment_id: p.shipment_id.clone(),
        carrier: p.carrier.clone(),
        tracking_number: p.tracking_number.clone(),
        cash_on_delivery_amount: p.cod_amount_minor.map(|m| money(currency, m)),
        packed_by: p.packed_by.clone(),
        packed_at: Some(to_timestamp(p.packed_at)),
        handed_over_at: p.handed_over_at.map(to_timestamp),
        weight_flagged: p.weight_flagged,
        expected_weight_grams: p.expected_grams,
    }
}

pub fn fulfillment_pb(
    f: &FulfillmentRow,
    lines: &[LineRow],
    parcels: &[ParcelRow],
) -> pb::Fulfillment {
    let ship_to = f.ship_to.as_ref().map(|a| common::Address {
        recipient: a.0.recipient.clone(),
        line1: a.0.line1.clone(),
        line2: a.0.line2.clone(),
        city: a.0.city.clone(),
        region: a.0.region.clone(),
        postal_code: a.0.postal_code.clone(),
        country_code: a.0.country_code.clone(),
        phone: a.0.phone.clone(),
    });
    pb::Fulfillment {
        id: f.id.to_string(),
        order_id: f.order_id.to_string(),
        order_number: f.order_number.clone(),
        warehouse_id: f.warehouse_id.clone(),
        fulfillment_mode: if f.mode == "STORE_PICKUP" {
            common::FulfillmentMode::StorePickup
        } else {
            common::FulfillmentMode::Ship
        }
        .into(),
        status: status_pb(&f.status).into(),
        lines: lines
            .iter()
            .map(|l| pb::FulfillmentLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price: Some(money(&f.currency, l.unit_price_minor)),
                bins: l
                    .bins
                    .0
                    .iter()
                    .map(|b| BinAllocation {
                        bin: b.bin.clone(),
                        quantity: b.quantity,
                        pick_sequence: b.pick_sequence,
                    })
                    .collect(),
                picked_quantity: l.picked_quantity,
                packed_quantity: l.packed_quantity,
            })
            .collect(),
        parcels: parcels.iter().map(|p| parcel_pb(p, &f.currency)).collect(),
        wave_id: f.wave_id.map(|w| w.to_string()).unwrap_or_default(),
        customer: Some(common::Customer {
            id: f.customer.0.id.clone(),
            name: f.customer.0.name.clone(),
            email: f.customer.0.email.clone(),
            phone: f.customer.0.phone.clone(),
        }),
        ship_to,
        collect_cash_on_delivery: f.collect_cod,
        pickup_code: f.pickup_code.clone().unwrap_or_default(),
        shelf_location: f.shelf_location.clone().unwrap_or_default(),
        created_at: Some(to_timestamp(f.created_at)),
        updated_at: Some(to_timestamp(f.updated_at)),
        picked_at: f.picked_at.map(to_timestamp),
        ready_for_pickup_at: f.ready_for_pickup_at.map(to_timestamp),
        picked_up_at: f.picked_up_at.map(to_timestamp),
        cancelled_at: f.cancelled_at.map(to_timestamp),
        cancel_reason: f.cancel_reason.clone().unwrap_or_default(),
    }
}

pub fn receipt_pb(r: &ReceiptRow) -> pb::ReturnReceipt {
    pb::ReturnReceipt {
        return_id: r.return_id.clone(),
        order_id: r.order_id.clone(),
        warehouse_id: r.warehouse_id.clone(),
        status: if r.status == "INSPECTED" {
            pb::ReturnReceiptStatus::Inspected
        } else {
            pb::ReturnReceiptStatus::Received
        }
        .into(),
        tracking_number: r.tracking_number.clone(),
        received_by: r.received_by.clone(),
        received_at: Some(to_timestamp(r.received_at)),
        lines: r
            .lines
            .0
            .iter()
            .map(|l| pb::InspectedLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                grade: pb::InspectionGrade::from_str_name(&l.grade)
                    .unwrap_or(pb::InspectionGrade::Unspecified)
                    .into(),
                note: l.note.clone(),
            })
            .collect(),
        inspected_by: r.inspected_by.clone().unwrap_or_default(),
        inspected_at: r.inspected_at.map(to_timestamp),
        note: r.note.clone(),
    }
}
