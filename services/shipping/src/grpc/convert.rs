//! Protobuf ↔ domain. Requests become domain values here or are refused with every invalid
//! field named; no protobuf type goes further in than `grpc`, `ingest` and the event mapping.

use chrono::{DateTime, Utc};
use contracts::common;
use contracts::shipping as pb;
use contracts::time::{from_timestamp, to_timestamp};
use runtime::grpc::FieldViolations;

use crate::booking::NewShipment;
use crate::domain::label::LabelFormat;
use crate::domain::{
    Address, Courier, Dimensions, Direction, FailureReason, Money, RecordedEvent, Shipment,
    ShipmentLine, TrackingStatus,
};

const MAX_LINES: usize = 1000;

// --- domain → protobuf ------------------------------------------------------------------------

pub fn status(s: TrackingStatus) -> pb::TrackingStatus {
    match s {
        TrackingStatus::LabelCreated => pb::TrackingStatus::LabelCreated,
        TrackingStatus::Accepted => pb::TrackingStatus::Accepted,
        TrackingStatus::InTransit => pb::TrackingStatus::InTransit,
        TrackingStatus::OutForDelivery => pb::TrackingStatus::OutForDelivery,
        TrackingStatus::DeliveryFailed => pb::TrackingStatus::DeliveryFailed,
        TrackingStatus::Delivered => pb::TrackingStatus::Delivered,
        TrackingStatus::ReturnedToSender => pb::TrackingStatus::ReturnedToSender,
        TrackingStatus::Exception => pb::TrackingStatus::Exception,
        TrackingStatus::Cancelled => pb::TrackingStatus::Cancelled,
    }
}

pub fn status_from(raw: i32) -> Option<TrackingStatus> {
    match pb::TrackingStatus::try_from(raw).ok()? {
        pb::TrackingStatus::Unspecified => None,
        pb::TrackingStatus::LabelCreated => Some(TrackingStatus::LabelCreated),
        pb::TrackingStatus::Accepted => Some(TrackingStatus::Accepted),
        pb::TrackingStatus::InTransit => Some(TrackingStatus::InTransit),
        pb::TrackingStatus::OutForDelivery => Some(TrackingStatus::OutForDelivery),
        pb::TrackingStatus::DeliveryFailed => Some(TrackingStatus::DeliveryFailed),
        pb::TrackingStatus::Delivered => Some(TrackingStatus::Delivered),
        pb::TrackingStatus::ReturnedToSender => Some(TrackingStatus::ReturnedToSender),
        pb::TrackingStatus::Exception => Some(TrackingStatus::Exception),
        pb::TrackingStatus::Cancelled => Some(TrackingStatus::Cancelled),
    }
}

pub fn direction(d: Direction) -> pb::ShipmentDirection {
    match d {
        Direction::Outbound => pb::ShipmentDirection::Outbound,
        Direction::Return => pb::ShipmentDirection::Return,
    }
}

pub fn failure_reason(r: Option<FailureReason>) -> pb::DeliveryFailureReason {
    match r {
        None => pb::DeliveryFailureReason::Unspecified,
        Some(FailureReason::RecipientAbsent) => pb::DeliveryFailureReason::RecipientAbsent,
        Some(FailureReason::AddressInvalid) => pb::DeliveryFailureReason::AddressInvalid,
        Some(FailureReason::Refused) => pb::DeliveryFailureReason::Refused,
        Some(FailureReason::NoAccess) => pb::DeliveryFailureReason::NoAccess,
        Some(FailureReason::PaymentNotAvailable) => pb::DeliveryFailureReason::PaymentNotAvailable,
        Some(FailureReason::Other) => pb::DeliveryFailureReason::Other,
    }
}

fn failure_reason_from(raw: i32) -> Result<Option<FailureReason>, ()> {
    Ok(
        match pb::DeliveryFailureReason::try_from(raw).map_err(|_| ())? {
            pb::DeliveryFailureReason::Unspecified => None,
            pb::DeliveryFailureReason::RecipientAbsent => Some(FailureReason::RecipientAbsent),
            pb::DeliveryFailureReason::AddressInvalid => Some(FailureReason::AddressInvalid),
            pb::DeliveryFailureReason::Refused => Some(FailureReason::Refused),
            pb::DeliveryFailureReason::NoAccess => Some(FailureReason::NoAccess),
            pb::DeliveryFailureReason::PaymentNotAvailable => {
                Some(FailureReason::PaymentNotAvailable)
            }
            pb::DeliveryFailureReason::Other => Some(FailureReason::Other),
        },
    )
}

pub fn courier(c: &Courier) -> pb::Courier {
    pb::Courier {
        name: c.name.clone(),
        phone: c.phone.clone(),
    }
}

pub fn money(m: &Money) -> common::Money {
    common::Money {
        currency_code: m.currency.clone(),
        amount_minor: m.minor,
    }
}

fn address_out(a: &Address) -> common::Address {
    common::Address {
        recipient: a.recipient.clone(),
        line1: a.line1.clone(),
        line2: a.line2.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country_code: a.country_code.clone(),
        phone: a.phone.clone(),
    }
}

pub fn event(e: &RecordedEvent) -> pb::TrackingEvent {
    pb::TrackingEvent {
        id: e.id.to_string(),
        status: status(e.status) as i32,
        carrier_status_code: e.carrier_status_code.clone(),
        description: e.description.clone(),
        location: e.location.clone(),
        occurred_at: Some(to_timestamp(e.occurred_at)),
        recorded_at: Some(to_timestamp(e.recorded_at)),
        carrier_event_id: e.carrier_event_id.clone().unwrap_or_default(),
        failure_reason: failure_reason(e.failure_reason) as i32,
    }
}

pub fn shipment(s: &Shipment, history: &[RecordedEvent]) -> pb::Shipment {
    pb::Shipment {
        id: s.id.to_string(),
        order_number: s.order_number.clone(),
        order_id: s.order_id.clone(),
        direction: direction(s.direction) as i32,
        fulfillment_id: s.fulfillment_id.clone(),
        parcel_id: s.parcel_id.clone(),
        return_id: s.return_id.clone(),
        carrier: s.carrier.clone(),
        service_level: s.service_level.clone(),
        tracking_number: s.tracking_number.clone(),
        tracking_url: s.tracking_url.clone(),
        status: status(s.status) as i32,
        ship_from: Some(address_out(&s.ship_from)),
        ship_to: Some(address_out(&s.ship_to)),
        warehouse_id: s.warehouse_id.clone(),
        weight_grams: s.weight_grams,
        dimensions: s.dimensions.map(|d| common::Dimensions {
            length_mm: d.length_mm,
            width_mm: d.width_mm,
            height_mm: d.height_mm,
        }),
        cash_on_delivery_amount: s.cash_on_delivery.as_ref().map(money),
        cash_collected: s.cash_collected.as_ref().map(money),
        eta: s.eta.map(to_timestamp),
        courier: s.courier.as_ref().map(courier),
        delivery_attempts: s.delivery_attempts,
        events: history.iter().map(event).collect(),
        created_at: Some(to_timestamp(s.created_at)),
        updated_at: Some(to_timestamp(s.updated_at)),
        delivered_at: s.delivered_at.map(to_timestamp),
    }
}

pub fn tracking(s: &Shipment, history: &[RecordedEvent]) -> pb::TrackingInfo {
    pb::TrackingInfo {
        shipment_id: s.id.to_string(),
        order_id: s.order_id.clone(),
        direction: direction(s.direction) as i32,
        carrier: s.carrier.clone(),
        tracking_number: s.tracking_number.clone(),
        tracking_url: s.tracking_url.clone(),
        status: status(s.status) as i32,
        eta: s.eta.map(to_timestamp),
        courier: s.courier.as_ref().map(courier),
        last_location: s.last_location.clone(),
        events: history.iter().map(event).collect(),
        delivered_at: s.delivered_at.map(to_timestamp),
        updated_at: Some(to_timestamp(s.updated_at)),
    }
}

pub fn label_format(f: LabelFormat) -> common::LabelFormat {
    match f {
        LabelFormat::Pdf => common::LabelFormat::Pdf,
        LabelFormat::Zpl => common::LabelFormat::Zpl,
    }
}

// --- protobuf → domain, with validation -------------------------------------------------------

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

fn currency_ok(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

pub fn money_in(v: &mut FieldViolations, field: &str, m: Option<&common::Money>) -> Option<Money> {
    let m = m?;
    let mut ok = true;
    if !currency_ok(&m.currency_code) {
        v.add(
            format!("{field}.currency_code"),
            "must be an ISO 4217 code of three upper-case letters",
        );
        ok = false;
    }
    if m.amount_minor < 0 {
        v.add(format!("{field}.amount_minor"), "must not be negative");
        ok = false;
    }
    ok.then(|| Money {
        currency: m.currency_code.clone(),
        minor: m.amount_minor,
    })
}

pub fn address_in(v: &mut FieldViolations, field: &str, a: &common::Address) -> Address {
    let mut f = |name: &str, value: &str, required: bool, max: usize| {
        text(v, &format!("{field}.{name}"), value, required, max)
    };
    let address = Address {
        recipient: f("recipient", &a.recipient, true, 200),
        line1: f("line1", &a.line1, true, 200),
        line2: f("line2", &a.line2, false, 200),
        city: f("city", &a.city, true, 100),
        region: f("region", &a.region, false, 100),
        postal_code: f("postal_code", &a.postal_code, false, 20),
        country_code: a.country_code.trim().to_owned(),
        phone: f("phone", &a.phone, false, 40),
    };
    let cc = address.country_code.as_bytes();
    if !(cc.len() == 2 && cc.iter().all(u8::is_ascii_uppercase)) {
        v.add(
            format!("{field}.country_code"),
            "must be an ISO 3166-1 alpha-2 code (two upper-case letters)",
        );
    }
    address
}

/// The label format asked for; UNSPECIFIED means PDF.
pub fn label_format_in(v: &mut FieldViolations, field: &str, raw: i32) -> LabelFormat {
    match common::LabelFormat::try_from(raw) {
        Ok(common::LabelFormat::Unspecified | common::LabelFormat::Pdf) => LabelFormat::Pdf,
        Ok(common::LabelFormat::Zpl) => LabelFormat::Zpl,
        Ok(common::LabelFormat::Png) => {
            v.add(
                field,
                "PNG labels are not rendered; ask for LABEL_FORMAT_PDF or LABEL_FORMAT_ZPL",
            );
            LabelFormat::Pdf
        }
        Err(_) => {
            v.add(field, "is not a LabelFormat");
            LabelFormat::Pdf
        }
    }
}

fn time_in(
    v: &mut FieldViolations,
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Option<DateTime<Utc>> {
    let ts = ts?;
    let parsed = from_timestamp(ts);
    if parsed.is_none() {
        v.add(field, "is not a valid timestamp");
    }
    parsed
}

/// A validated CreateShipment.
pub struct CreateShipment {
    pub request_id: String,
    pub shipment: NewShipment,
    pub label_format: LabelFormat,
}

impl TryFrom<pb::CreateShipmentRequest> for CreateShipment {
    type Error = FieldViolations;

    fn try_from(r: pb::CreateShipmentRequest) -> Result<Self, FieldViolations> {
        let mut v = FieldViolations::new();
        let request_id = text(&mut v, "request_id", &r.request_id, true, 128);
        let order_id = text(&mut v, "order_id", &r.order_id, true, 128);
        let fulfillment_id = text(&mut v, "fulfillment_id", &r.fulfillment_id, true, 128);
        let parcel_id = text(&mut v, "parcel_id", &r.parcel_id, true, 128);
        let warehouse_id = text(&mut v, "warehouse_id", &r.warehouse_id, true, 64);
        let ship_from = r
            .ship_from
            .as_ref()
            .map(|a| address_in(&mut v, "ship_from", a));
        let ship_to = match &r.ship_to {
            Some(a) => address_in(&mut v, "ship_to", a),
            None => {
                v.add("ship_to", "is required");
                Address::default()
            }
        };
        if r.weight_grams <= 0 {
            v.add("weight_grams", "must be positive (grams)");
        }
        let dimensions = r.dimensions.as_ref().map(|d| {
            for (name, value) in [
                ("length_mm", d.length_mm),
                ("width_mm", d.width_mm),
                ("height_mm", d.height_mm),
            ] {
                if value <= 0 {
                    v.add(
                        format!("dimensions.{name}"),
                        "must be positive (millimetres)",
                    );
                }
            }
            Dimensions {
                length_mm: d.length_mm,
                width_mm: d.width_mm,
                height_mm: d.height_mm,
            }
        });
        if r.lines.len() > MAX_LINES {
            v.add("lines", format!("at most {MAX_LINES} lines"));
        }
        let lines = r
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                if l.quantity <= 0 {
                    v.add(format!("lines[{i}].quantity"), "must be positive");
                }
                ShipmentLine {
                    sku: text(&mut v, &format!("lines[{i}].sku"), &l.sku, true, 64),
                    name: text(&mut v, &format!("lines[{i}].name"), &l.name, false, 200),
                    quantity: l.quantity,
                }
            })
            .collect();
        let declared_value = money_in(&mut v, "declared_value", r.declared_value.as_ref());
        let cash_on_delivery = money_in(
            &mut v,
            "cash_on_delivery_amount",
            r.cash_on_delivery_amount.as_ref(),
        );
        if cash_on_delivery.as_ref().is_some_and(|m| m.minor == 0) {
            v.add(
                "cash_on_delivery_amount.amount_minor",
                "must be positive when set",
            );
        }
        let preferred_carrier = text(&mut v, "preferred_carrier", &r.preferred_carrier, false, 64);
        let service_level =
            text(&mut v, "service_level", &r.service_level, false, 64).to_lowercase();
        let label_format = label_format_in(&mut v, "label_format", r.label_format);
        if !v.is_empty() {
            return Err(v);
        }
        Ok(Self {
            request_id,
            label_format,
            shipment: NewShipment {
                direction: Direction::Outbound,
                order_id,
                fulfillment_id,
                parcel_id,
                return_id: String::new(),
                rma_number: String::new(),
                order_number: text(&mut v, "order_number", &r.order_number, false, 64),
                warehouse_id,
                ship_from,
                ship_to,
                weight_grams: r.weight_grams,
                dimensions,
                lines,
                declared_value,
                cash_on_delivery,
                preferred_carrier,
                service_level,
            },
        })
    }
}

/// A validated RecordTrackingEvent, before the carrier's codes are consulted.
pub struct RecordEvent {
    pub shipment_id: Option<uuid::Uuid>,
    pub carrier: String,
    pub tracking_number: String,
    pub carrier_event_id: Option<String>,
    pub status: Option<TrackingStatus>,
    pub carrier_status_code: String,
    pub description: String,
    pub location: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub eta: Option<DateTime<Utc>>,
    pub courier: Option<Courier>,
    pub cash_collected: Option<Money>,
    pub failure_reason: Option<FailureReason>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl TryFrom<pb::RecordTrackingEventRequest> for RecordEvent {
    type Error = FieldViolations;

    fn try_from(r: pb::RecordTrackingEventRequest) -> Result<Self, FieldViolations> {
        let mut v = FieldViolations::new();
        let shipment_id = match r.shipment_id.trim() {
            "" => None,
            raw => {
                let id = uuid::Uuid::parse_str(raw).ok();
                if id.is_none() {
                    v.add("shipment_id", "must be a shipment id (UUID)");
                }
                id
            }
        };
        let carrier = text(&mut v, "carrier", &r.carrier, false, 64);
        let tracking_number = text(&mut v, "tracking_number", &r.tracking_number, false, 64);
        if r.shipment_id.trim().is_empty() && (carrier.is_empty() || tracking_number.is_empty()) {
            v.add(
                "shipment_id",
                "is required unless carrier and tracking_number identify the shipment",
            );
        }
        let carrier_event_id = text(&mut v, "carrier_event_id", &r.carrier_event_id, false, 128);
        let status = status_from(r.status);
        if r.status != 0 && status.is_none() {
            v.add("status", "is not a TrackingStatus");
        }
        let carrier_status_code = text(
            &mut v,
            "carrier_status_code",
            &r.carrier_status_code,
            false,
            64,
        );
        if status.is_none() && carrier_status_code.is_empty() {
            v.add(
                "status",
                "is required unless carrier_status_code names the carrier's code",
            );
        }
        let failure_reason = failure_reason_from(r.failure_reason).unwrap_or_else(|()| {
            v.add("failure_reason", "is not a DeliveryFailureReason");
            None
        });
        let courier = r.courier.as_ref().map(|c| Courier {
            name: text(&mut v, "courier.name", &c.name, true, 200),
            phone: text(&mut v, "courier.phone", &c.phone, false, 40),
        });
        let out = Self {
            shipment_id,
            carrier,
            tracking_number,
            carrier_event_id: (!carrier_event_id.is_empty()).then_some(carrier_event_id),
            status,
            carrier_status_code,
            description: text(&mut v, "description", &r.description, false, 500),
            location: text(&mut v, "location", &r.location, false, 200),
            occurred_at: time_in(&mut v, "occurred_at", r.occurred_at.as_ref()),
            eta: time_in(&mut v, "eta", r.eta.as_ref()),
            courier,
            cash_collected: money_in(&mut v, "cash_collected", r.cash_collected.as_ref()),
            failure_reason,
            next_attempt_at: time_in(&mut v, "next_attempt_at", r.next_attempt_at.as_ref()),
        };
        if v.is_empty() { Ok(out) } else { Err(v) }
    }
}

/// Checks of an event that need its canonical status (known once the carrier's code is
/// mapped).
pub fn check_status_fields(
    v: &mut FieldViolations,
    status: TrackingStatus,
    failure_reason: Option<FailureReason>,
    next_attempt_at: Option<DateTime<Utc>>,
) {
    if status != TrackingStatus::DeliveryFailed {
        v.check(
            failure_reason.is_none(),
            "failure_reason",
            "is only for TRACKING_STATUS_DELIVERY_FAILED",
        );
        v.check(
            next_attempt_at.is_none(),
            "next_attempt_at",
            "is only for TRACKING_STATUS_DELIVERY_FAILED",
        );
    }
    v.check(
        status != TrackingStatus::LabelCreated,
        "status",
        "TRACKING_STATUS_LABEL_CREATED is recorded by shipping when the shipment is created",
    );
}
