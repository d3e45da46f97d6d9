//! The payments service's errors and their one mapping to gRPC statuses.

use runtime::grpc::FieldViolations;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid request")]
    InvalidArgument(FieldViolations),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::InvalidArgument(violations) => violations.into_status(),
            Error::Store(err) => runtime::grpc::internal("the payments store failed", &err),
        }
    }
}
