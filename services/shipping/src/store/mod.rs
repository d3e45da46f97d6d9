//! All of shipping's SQL (runtime-checked sqlx). Functions take `&mut PgConnection`, so they
//! run inside the caller's transaction.

pub mod events;
pub mod shipments;
pub mod warehouses;

use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("stored shipment {0} is unreadable: {1}")]
    Corrupt(Uuid, String),
}
