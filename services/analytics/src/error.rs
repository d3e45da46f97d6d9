//! The analytics service's errors and their one mapping to gRPC statuses.

use runtime::grpc::FieldViolations;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    InvalidArgument(FieldViolations),
    #[error("{0}")]
    Unimplemented(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
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
            Error::Unimplemented(msg) => Status::unimplemented(msg),
            Error::Store(err) => runtime::grpc::internal("the analytics store failed", &err),
            Error::Archive(err) => runtime::grpc::internal("the order archive failed", &err),
        }
    }
}
