//! Handlers for the events feedback consumes, one module each. Every handler runs in the
//! consumer's transaction together with the event's inbox row, and is idempotent by natural
//! key as well (order id, problem id), so a replay under a new event id changes nothing.

pub mod order_accepted;
pub mod order_delivered;
pub mod problem_reported;

use messaging::HandlerError;
use uuid::Uuid;

/// Orders' ids are UUIDs; anything else can never apply.
fn order_id(raw: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(raw)
        .map_err(|_| HandlerError::permanent(format!("order_id {raw:?} is not a UUID")))
}

fn required<'a>(what: &str, value: &'a str) -> Result<&'a str, HandlerError> {
    let value = value.trim();
    if value.is_empty() {
        Err(HandlerError::permanent(format!("the event has no {what}")))
    } else {
        Ok(value)
    }
}
