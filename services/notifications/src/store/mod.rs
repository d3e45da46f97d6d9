//! Postgres access for notifications; functions take a connection so they run in the caller's
//! transaction (the event consumer's, for everything an event writes). No rule lives here.

pub mod contacts;
pub mod dead_letters;
pub mod notifications;
pub mod preferences;
pub mod shipments;
