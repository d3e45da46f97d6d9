//! Fulfillment's errors and their one mapping to gRPC statuses.

use runtime::grpc::FieldViolations;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid request")]
    InvalidArgument(FieldViolations),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// Shipping could not be reached or refused the shipment; nothing was recorded.
    #[error("shipping: {0}")]
    Shipping(Status),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<FieldViolations> for Error {
    fn from(v: FieldViolations) -> Self {
        Self::InvalidArgument(v)
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::InvalidArgument(v) => v.into_status(),
            Error::FailedPrecondition(msg) => Status::failed_precondition(msg),
            Error::AlreadyExists(msg) => Status::already_exists(msg),
            // Shipping answered and said no: retrying the same request cannot help.
            Error::Shipping(status)
                if matches!(
                    status.code(),
                    tonic::Code::InvalidArgument
                        | tonic::Code::FailedPrecondition
                        | tonic::Code::AlreadyExists
                        | tonic::Code::NotFound
                        | tonic::Code::PermissionDenied
                        | tonic::Code::Unauthenticated
                ) =>
            {
                Status::failed_precondition(format!(
                    "shipping refused the parcel ({:?}): {}",
                    status.code(),
                    status.message()
                ))
            }
            Error::Shipping(status) => Status::unavailable(format!(
                "shipping is unavailable ({}); retry with the same request_id",
                status.code()
            )),
            Error::Store(err) => runtime::grpc::internal("the fulfillment store failed", &err),
        }
    }
}
