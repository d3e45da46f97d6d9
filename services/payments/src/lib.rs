//! The payments service: payment methods and money movement for every order, and risk scoring
//! of every placed order.
//!
//! Payments acts only on orders' requests (DESIGN §2a). Events enter through [`events`]
//! (`orders.order.placed` → risk; `orders.payment.requested` / `.capture_requested` /
//! `.void_requested` / `.refund_requested` / `.amend_requested` → money), one transaction per
//! event with the inbox;
//! operators and services call [`grpc`]. Both go through [`movements`], the one place where
//! balances change: checked by [`domain`] (balances, double-entry [`domain::ledger`],
//! installment splits), sent to the payment [`provider`], stored by [`store`] with the events
//! they cause (outbox). Deadlines and schedules are durable [`timers`]. [`app`] wires it all
//! to a host; [`config`] lists the `OC_PAYMENTS_…` settings.
//!
//! When money moves (DESIGN §2b):
//!
//! | method | accepted | captured | settled |
//! |---|---|---|---|
//! | card, wallet | provider authorization of the total | per `capture_requested` (a shipment's share) | captures = amount − voids |
//! | bank transfer | `ConfirmBankTransfer` (pending until then; unpaid by `pay_by` → declined) | in full at confirmation | at confirmation |
//! | cash on delivery | at once (declined above `OC_PAYMENTS_COD_LIMIT_MINOR`) | the cash collected (`capture_requested` with `cash_collected`) | collections = amount − voids |
//! | installments (3, 6, 12) | plan accepted: split exactly, first installment authorized | installment 1 at once, the rest on their due dates (durable timers); a missed one retried, then the plan DEFAULTED | when installment 1 is captured |
//!
//! The amount is the order total, until an order update after confirmation amends it
//! (`amend_requested`, before the first capture; card, wallet and cash on delivery only): an
//! increase is authorized again for the difference, a decrease voids it, and from then on the
//! amount is the new total (see `movements::amend`).
//!
//! The payment provider is a third party behind [`provider::PaymentProvider`]; this repository
//! ships the deterministic [`provider::simulated`] provider, whose tokens behave as follows:
//! `tok_decline` is declined; `tok_timeout` times out once per operation and succeeds on the
//! idempotent retry (a retry never charges twice); `tok_lapse` is approved once and declined
//! afterwards (a missed installment, a raise of the hold); any other `tok_…` is approved. An
//! incremental authorization that would take a hold to 1,000,000 minor units or more is
//! declined.
//!
//! Card data is never stored or logged: a request field that looks like a card number (13–19
//! digits passing Luhn) is refused, a "token" that is not a provider token is declined and not
//! kept, and no API or event returns a token.

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod metrics;
pub mod movements;
pub mod privacy;
pub mod provider;
pub mod store;
pub mod timers;

use runtime::{BoxError, BoxFuture, Host, ServiceDef};

/// This service's migrations (the messaging tables are applied with them).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "payments",
    migrations: &[&messaging::MIGRATOR, &MIGRATOR],
    build,
};

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(app::build(host))
}
