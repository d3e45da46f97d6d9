//! Handlers for the events shipping consumes.

pub mod return_shipment_requested;
