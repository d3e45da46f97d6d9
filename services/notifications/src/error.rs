//! The notifications service's errors and their one mapping to gRPC statuses.

use runtime::grpc::FieldViolations;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    InvalidArgument(FieldViolations),
    #[error("{0}")]
    PermissionDenied(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<FieldViolations> for Error {
    fn from(violations: FieldViolations) -> Self {
        Self::InvalidArgument(violations)
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(violations) => violations.into_status(),
            Error::PermissionDenied(msg) => Status::permission_denied(msg),
            Error::Store(err) => runtime::grpc::internal("the notifications store failed", &err),
        }
    }
}
