//! The orders gRPC API. Requests are converted to domain values in [`crate::convert`] (every
//! bad field reported at once); state changes go through [`crate::workflow`] inside one
//! transaction; errors map once through [`crate::error::Error`].

mod invoices;
mod orders;
mod pricing;
mod privacy;
mod returns;
mod review;
mod updates;

use runtime::grpc::FieldViolations;
use runtime::{Actor, Role};
use uuid::Uuid;

pub use invoices::InvoicesApi;
pub use orders::OrdersApi;
pub use pricing::PricingApi;
pub use privacy::PrivacyApi;
pub use returns::ReturnsApi;
pub use review::ReviewApi;
pub use updates::OrderUpdateApi;

use crate::error::Error;
use crate::workflow::{Who, WorkflowError};

fn who(actor: &Actor) -> Who {
    Who {
        id: actor.id.clone(),
        kind: if actor.has(Role::Operator) {
            "operator"
        } else if actor.has(Role::Service) {
            "service"
        } else {
            "customer"
        },
    }
}

fn parse_order_id(field: &str, raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        let mut v = FieldViolations::new();
        v.add(field, "must be an order id (UUID)");
        Error::InvalidArgument(v)
    })
}

/// Whose rows a List RPC returns: staff may ask for any customer's (or all, when `asked` is
/// empty); a customer only their own — asking for another's is a field violation on
/// `customer_id` naming `what`.
fn listed_customer(
    actor: &Actor,
    asked: &str,
    what: &str,
    v: &mut FieldViolations,
) -> Option<String> {
    if actor.is_staff() {
        Some(asked.trim().to_owned()).filter(|c| !c.is_empty())
    } else {
        v.check(
            asked.is_empty() || asked == actor.id,
            "customer_id",
            format!("customers may list only their own {what}"),
        );
        Some(actor.id.clone())
    }
}

/// An optional order id filter: empty is none, anything else must be a UUID.
fn optional_order_id(raw: &str, v: &mut FieldViolations) -> Option<Uuid> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = Uuid::parse_str(raw).ok();
    v.check(parsed.is_some(), "order_id", "must be an order id (UUID)");
    parsed
}

/// `page_size` as the protos define it: 0 means `default`, above 500 is capped at 500.
fn page_size(raw: i32, default: i64) -> Result<i64, Error> {
    match raw {
        0 => Ok(default),
        1.. => Ok(i64::from(raw.min(500))),
        _ => {
            let mut v = FieldViolations::new();
            v.add("page_size", "must not be negative");
            Err(Error::InvalidArgument(v))
        }
    }
}

impl From<WorkflowError> for Error {
    fn from(err: WorkflowError) -> Self {
        match err {
            WorkflowError::UnknownOrder(id) => Error::NotFound(format!("order {id}")),
            WorkflowError::NotAllowed(not) => Error::FailedPrecondition(not.to_string()),
            WorkflowError::Store(store) => Error::Store(store),
            WorkflowError::Corrupt(id) => Error::Store(crate::store::orders::StoreError::Corrupt(
                id,
                "saga state".into(),
            )),
        }
    }
}
