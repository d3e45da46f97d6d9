//! All of inventory's SQL. Functions take a `&mut PgConnection`, so they run inside the
//! caller's transaction; rows are turned into [`crate::domain`] values here.
//!
//! Lock order, kept by every writer so concurrent transactions never deadlock: the
//! reservation row, then its `reservation_updates` row, then `bin_stock` rows in (sku,
//! warehouse, bin) order, then `stock_levels` rows in (sku, warehouse) order. A timer is
//! cancelled before its reservation is locked (the timer poller holds the timer row while it
//! locks the reservation).

pub mod catalog;
pub mod demand;
pub mod requests;
pub mod reservations;
pub mod stock;
pub mod updates;

use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // Not transparent: the sqlx error stays in the source chain, where the gRPC mapping looks
    // for a value the database refused.
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

impl From<crate::domain::UnknownVariant> for StoreError {
    fn from(err: crate::domain::UnknownVariant) -> Self {
        Self::Corrupt(err.to_string())
    }
}

impl From<StoreError> for messaging::HandlerError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Db(err) => err.into(),
            StoreError::Corrupt(what) => Self::permanent(what),
        }
    }
}

/// A fresh id for rows that have no natural key.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}
