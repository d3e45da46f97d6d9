//! All of shipping's SQL (runtime-checked sqlx). Functions take `&mut PgConnection`, so they
//! run inside the caller's transaction.

pub mod events;
pub mod shipments;
pub mod warehouses;

use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // Not transparent: the sqlx error stays in the source chain, where the gRPC mapping looks
    // for a value the database refused.
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("stored shipment {0} is unreadable: {1}")]
    Corrupt(Uuid, String),
}
