//! Handlers for the events payments consumes.

pub mod order_placed;
