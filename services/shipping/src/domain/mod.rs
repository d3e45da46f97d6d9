//! Shipping's rules, free of I/O and protobuf: what a shipment is ([`shipment`]), how tracking
//! events move it and what its ETA is ([`tracking`]), which carrier takes a parcel
//! ([`rates`]), how tracking numbers look ([`tracking_number`]), how labels are drawn
//! ([`label`]), and what the simulated carrier does ([`simulation`]).

pub mod label;
pub mod rates;
pub mod shipment;
pub mod simulation;
pub mod tracking;
pub mod tracking_number;

pub use shipment::{
    Address, Courier, Dimensions, Direction, FailureReason, Money, RecordedEvent, Shipment,
    ShipmentLine, TrackingStatus,
};
