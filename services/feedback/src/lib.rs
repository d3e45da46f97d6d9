//! Feedback: post-delivery surveys, moderated product reviews, after-sales support cases.
//!
//! - Surveys: [`events::order_delivered`] records each delivery (what the customer received)
//!   and schedules one survey per order; [`timers::survey_invitation`] sends the invitation
//!   (`feedback.survey.invited`, for notifications) after the configured delay on the service
//!   clock; `SubmitSurvey` takes the answer once (`feedback.survey.submitted`).
//! - Reviews: only for a SKU the customer received; automatic moderation flags blocked words
//!   and links; a moderator publishes (`feedback.review.published`) or rejects; staff reply.
//! - Cases: opened by `OpenCase` or from orders' problem reports ([`events::problem_reported`]),
//!   with a conversation, assignment and SLA deadlines ([`timers::sla`],
//!   `feedback.sla.breached`); resolution publishes `feedback.case.resolved` for orders.
//!
//! A request enters through [`grpc`] (protobuf → [`domain`] values, every bad field reported),
//! is applied in one transaction through [`store`] together with the events it causes
//! ([`outgoing`], written to the outbox), and is answered after commit. [`app`] wires it all;
//! [`config`] holds the `OC_FEEDBACK_…` settings.

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod outgoing;
pub mod privacy;
pub mod store;
pub mod timers;

use runtime::{BoxError, BoxFuture, Host, ServiceDef};

/// Feedback's own tables (versions from 2026…; 1–999 belong to messaging).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Messaging's migrations, then feedback's.
pub static MIGRATIONS: &[&sqlx::migrate::Migrator] = &[&messaging::MIGRATOR, &MIGRATOR];

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "feedback",
    migrations: MIGRATIONS,
    build,
};

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(app::build(host))
}
