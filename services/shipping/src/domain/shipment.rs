//! A shipment and the values it is made of. The canonical tracking states live here because
//! every other part (carrier code maps, the ETA, the simulator) speaks in them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Canonical tracking states; every carrier's own codes map onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackingStatus {
    /// Shipment and label exist; the carrier does not have the parcel yet.
    LabelCreated,
    /// The carrier picked the parcel up (handed over).
    Accepted,
    InTransit,
    OutForDelivery,
    /// A delivery attempt failed; another may follow.
    DeliveryFailed,
    /// Final.
    Delivered,
    /// Final.
    ReturnedToSender,
    /// Lost, damaged or held; needs a person. Not final: the carrier may recover it.
    Exception,
    /// Cancelled before the carrier took it. Final.
    Cancelled,
}

impl TrackingStatus {
    pub const ALL: [Self; 9] = [
        Self::LabelCreated,
        Self::Accepted,
        Self::InTransit,
        Self::OutForDelivery,
        Self::DeliveryFailed,
        Self::Delivered,
        Self::ReturnedToSender,
        Self::Exception,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LabelCreated => "LABEL_CREATED",
            Self::Accepted => "ACCEPTED",
            Self::InTransit => "IN_TRANSIT",
            Self::OutForDelivery => "OUT_FOR_DELIVERY",
            Self::DeliveryFailed => "DELIVERY_FAILED",
            Self::Delivered => "DELIVERED",
            Self::ReturnedToSender => "RETURNED_TO_SENDER",
            Self::Exception => "EXCEPTION",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Nothing moves a shipment out of a final state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::ReturnedToSender | Self::Cancelled
        )
    }

    /// Words for people (labels, descriptions of simulated scans).
    pub fn describe(self) -> &'static str {
        match self {
            Self::LabelCreated => "label created",
            Self::Accepted => "picked up by the carrier",
            Self::InTransit => "in transit",
            Self::OutForDelivery => "out for delivery",
            Self::DeliveryFailed => "delivery attempt failed",
            Self::Delivered => "delivered",
            Self::ReturnedToSender => "returned to sender",
            Self::Exception => "exception",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    RecipientAbsent,
    AddressInvalid,
    Refused,
    NoAccess,
    PaymentNotAvailable,
    Other,
}

impl FailureReason {
    pub const ALL: [Self; 6] = [
        Self::RecipientAbsent,
        Self::AddressInvalid,
        Self::Refused,
        Self::NoAccess,
        Self::PaymentNotAvailable,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RecipientAbsent => "RECIPIENT_ABSENT",
            Self::AddressInvalid => "ADDRESS_INVALID",
            Self::Refused => "REFUSED",
            Self::NoAccess => "NO_ACCESS",
            Self::PaymentNotAvailable => "PAYMENT_NOT_AVAILABLE",
            Self::Other => "OTHER",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Outbound,
    Return,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbound => "OUTBOUND",
            Self::Return => "RETURN",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "OUTBOUND" => Some(Self::Outbound),
            "RETURN" => Some(Self::Return),
            _ => None,
        }
    }
}

/// An amount in integer minor units of an ISO 4217 currency (checked at the edge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub currency: String,
    pub minor: i64,
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Labels show two decimals; currencies without minor units are rare on COD labels and
        // still read correctly as an amount with a currency code.
        write!(
            f,
            "{} {}.{:02}",
            self.currency,
            self.minor / 100,
            (self.minor % 100).abs()
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub recipient: String,
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    pub city: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub postal_code: String,
    pub country_code: String,
    #[serde(default)]
    pub phone: String,
}

impl Address {
    /// The lines printed on a label, empty parts left out.
    pub fn label_lines(&self) -> Vec<String> {
        let mut lines = vec![self.recipient.clone(), self.line1.clone()];
        if !self.line2.is_empty() {
            lines.push(self.line2.clone());
        }
        let city = [self.postal_code.as_str(), self.city.as_str()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        lines.push(city);
        let country = if self.region.is_empty() {
            self.country_code.clone()
        } else {
            format!("{} {}", self.region, self.country_code)
        };
        lines.push(country);
        if !self.phone.is_empty() {
            lines.push(format!("Tel. {}", self.phone));
        }
        lines
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimensions {
    pub length_mm: i32,
    pub width_mm: i32,
    pub height_mm: i32,
}

impl Dimensions {
    pub fn longest_side(&self) -> i32 {
        self.length_mm.max(self.width_mm).max(self.height_mm)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentLine {
    pub sku: String,
    #[serde(default)]
    pub name: String,
    pub quantity: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Courier {
    pub name: String,
    #[serde(default)]
    pub phone: String,
}

/// A parcel on its way, outbound to a customer or back to a warehouse.
#[derive(Debug, Clone, PartialEq)]
pub struct Shipment {
    pub id: Uuid,
    pub order_id: String,
    pub direction: Direction,
    pub fulfillment_id: String,
    pub parcel_id: String,
    pub return_id: String,
    pub rma_number: String,
    pub order_number: String,
    pub warehouse_id: String,
    pub carrier: String,
    pub service_level: String,
    pub tracking_number: String,
    pub tracking_url: String,
    pub status: TrackingStatus,
    /// When the event that set `status` happened (carrier clock): later events compare to it.
    pub status_at: DateTime<Utc>,
    pub ship_from: Address,
    pub ship_to: Address,
    pub weight_grams: i32,
    pub dimensions: Option<Dimensions>,
    pub lines: Vec<ShipmentLine>,
    pub declared_value: Option<Money>,
    pub cash_on_delivery: Option<Money>,
    pub cash_collected: Option<Money>,
    /// The carrier's transit days for this lane, counted from hand-over.
    pub transit_days: i32,
    pub handed_over_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub eta: Option<DateTime<Utc>>,
    pub courier: Option<Courier>,
    pub delivery_attempts: i32,
    pub last_location: String,
    pub received_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A tracking event as recorded in a shipment's history.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub id: Uuid,
    pub status: TrackingStatus,
    pub carrier_status_code: String,
    pub description: String,
    pub location: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub carrier_event_id: Option<String>,
    pub failure_reason: Option<FailureReason>,
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub(crate) fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
            + chrono::Duration::hours(hours)
    }

    /// A standard-service outbound shipment, label created at hour 0, two transit days.
    pub(crate) fn shipment() -> Shipment {
        Shipment {
            id: Uuid::nil(),
            order_id: "o-1".into(),
            direction: Direction::Outbound,
            fulfillment_id: "f-1".into(),
            parcel_id: "p-1".into(),
            return_id: String::new(),
            rma_number: String::new(),
            order_number: String::new(),
            warehouse_id: "wh-1".into(),
            carrier: "sim-post".into(),
            service_level: "standard".into(),
            tracking_number: "SP000000016DE".into(),
            tracking_url: String::new(),
            status: TrackingStatus::LabelCreated,
            status_at: at(0),
            ship_from: Address::default(),
            ship_to: Address::default(),
            weight_grams: 1000,
            dimensions: None,
            lines: Vec::new(),
            declared_value: None,
            cash_on_delivery: None,
            cash_collected: None,
            transit_days: 2,
            handed_over_at: None,
            next_attempt_at: None,
            eta: Some(at(48)),
            courier: None,
            delivery_attempts: 0,
            last_location: String::new(),
            received_by: String::new(),
            created_at: at(0),
            updated_at: at(0),
            delivered_at: None,
        }
    }
}
