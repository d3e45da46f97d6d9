//! All of feedback's SQL. Functions take `&mut PgConnection` so they run inside the caller's
//! transaction (an RPC's, or the event runner's together with its inbox row).

pub mod cases;
pub mod orders;
pub mod request_ids;
pub mod reviews;
pub mod surveys;

/// What can go wrong reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // Not transparent: the sqlx error stays in the source chain, where the gRPC mapping looks
    // for a value the database refused.
    #[error("database error")]
    Db(#[from] sqlx::Error),
    /// A row that the domain cannot read (an unknown enum name): a bug or a bad migration.
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt { what: String, detail: String },
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.to_string(),
            detail: detail.into(),
        }
    }
}

/// Parses a stored enum name, or reports the row as corrupt.
pub(crate) fn parse_text<T>(
    what: impl std::fmt::Display,
    text: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::corrupt(what, format!("unknown value `{text}`")))
}
