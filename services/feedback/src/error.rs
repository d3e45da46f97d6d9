//! Feedback's errors and their one mapping to gRPC statuses.

use runtime::grpc::FieldViolations;
use tonic::Status;

use crate::domain::case::CaseError;
use crate::domain::review::ReviewError;
use crate::domain::survey::SurveyError;
use crate::store::StoreError;

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
    PermissionDenied(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(StoreError::Db(err))
    }
}

impl From<FieldViolations> for Error {
    fn from(violations: FieldViolations) -> Self {
        Self::InvalidArgument(violations)
    }
}

impl From<SurveyError> for Error {
    fn from(err: SurveyError) -> Self {
        Self::FailedPrecondition(err.to_string())
    }
}

impl From<ReviewError> for Error {
    fn from(err: ReviewError) -> Self {
        Self::FailedPrecondition(err.to_string())
    }
}

impl From<CaseError> for Error {
    fn from(err: CaseError) -> Self {
        Self::FailedPrecondition(err.to_string())
    }
}

impl Error {
    /// INVALID_ARGUMENT naming one field.
    pub fn field(field: &str, description: impl Into<String>) -> Self {
        let mut v = FieldViolations::new();
        v.add(field, description);
        Self::InvalidArgument(v)
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::InvalidArgument(violations) => violations.into_status(),
            Error::AlreadyExists(msg) => Status::already_exists(msg),
            Error::FailedPrecondition(msg) => Status::failed_precondition(msg),
            Error::PermissionDenied(msg) => Status::permission_denied(msg),
            Error::Store(err) => runtime::grpc::internal("the feedback store failed", &err),
        }
    }
}
