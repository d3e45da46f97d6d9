//! The payments service's errors and their one mapping to gRPC statuses.

use runtime::grpc::FieldViolations;
use tonic::Status;

use crate::movements::MoveFailure;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid request")]
    InvalidArgument(FieldViolations),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<FieldViolations> for Error {
    fn from(violations: FieldViolations) -> Self {
        Self::InvalidArgument(violations)
    }
}

impl From<MoveFailure> for Error {
    fn from(err: MoveFailure) -> Self {
        match err {
            MoveFailure::Refused(why) => Self::FailedPrecondition(why),
            MoveFailure::Declined(_) => Self::FailedPrecondition(err.to_string()),
            MoveFailure::Unavailable(_) => Self::Unavailable(err.to_string()),
            MoveFailure::Store(err) => Self::Store(err),
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::InvalidArgument(violations) => violations.into_status(),
            Error::AlreadyExists(msg) => Status::already_exists(msg),
            Error::FailedPrecondition(msg) => Status::failed_precondition(msg),
            Error::Unavailable(msg) => Status::unavailable(msg),
            Error::Store(err) => runtime::grpc::internal("the payments store failed", &err),
        }
    }
}
