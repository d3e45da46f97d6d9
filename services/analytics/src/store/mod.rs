//! All of analytics' SQL: the kept events ([`raw`]), the read models' writes ([`facts`]), the
//! questions asked of them ([`kpis`], [`export`]) and the archive's manifest ([`archive`]).
//! Functions take a connection (or the pool for read-only questions) so writes run inside the
//! caller's transaction.

pub mod archive;
pub mod export;
pub mod facts;
pub mod kpis;
pub mod raw;
pub mod rollup;

/// The read-model tables, emptied and refilled by a rebuild. `raw_events` is not among them.
pub const READ_MODELS: &[&str] = &[
    "order_facts",
    "order_lines",
    "payment_facts",
    "money_moves",
    "fulfillment_facts",
    "parcel_facts",
    "shipment_facts",
    "delivery_failures",
    "return_facts",
    "return_lines",
    "problem_facts",
    "survey_facts",
    "review_facts",
    "case_facts",
    "sla_breaches",
    "stock_lows",
];
