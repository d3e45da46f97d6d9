//! What orders does with the other services' facts. Each handler reads its event, records the
//! facts worth keeping, and hands the saga its input through [`crate::workflow::Workflow`] —
//! in the transaction the consumer runner opened, together with the inbox row.

mod catalog;
mod feedback;
mod fulfillment;
mod inventory;
mod payments;
mod returns;
mod shipping;
pub mod timers;
mod updates;

use messaging::{Bus, HandlerError};
use runtime::Host;
use uuid::Uuid;

use crate::workflow::Workflow;

/// Parses an order id carried by an event; a malformed one can never apply.
fn order_id(raw: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(raw)
        .map_err(|_| HandlerError::permanent(format!("order_id {raw:?} is not a UUID")))
}

/// Subscribes orders to every fact it reacts to.
pub async fn subscribe(
    bus: &Bus,
    host: &mut Host,
    wf: &Workflow,
) -> Result<(), messaging::consumer::ConsumerError> {
    catalog::subscribe(bus, host).await?;
    payments::subscribe(bus, host, wf).await?;
    inventory::subscribe(bus, host, wf).await?;
    fulfillment::subscribe(bus, host, wf).await?;
    shipping::subscribe(bus, host, wf).await?;
    feedback::subscribe(bus, host, wf).await?;
    returns::subscribe(bus, host, wf).await?;
    updates::subscribe(bus, host, wf).await?;
    Ok(())
}
