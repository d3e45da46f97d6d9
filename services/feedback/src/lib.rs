//! Feedback: post-delivery surveys, moderated reviews, after-sales support cases.
//!
//! Foundation stage: the service owns its database (`ordercycle_feedback`, with the messaging
//! tables), runs its outbox relay, and serves `FeedbackService` with health and reflection; every RPC
//! answers UNIMPLEMENTED until its issue lands.

use contracts::feedback::feedback_service_server::{FeedbackService, FeedbackServiceServer};
use messaging::Bus;
use runtime::{BoxError, BoxFuture, Host, ServiceDef};

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "feedback",
    migrations: &[&messaging::MIGRATOR],
    build,
};

#[derive(Clone)]
struct Api;

impl FeedbackService for Api {}

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(async move {
        Bus::attach(host);
        host.add_service(FeedbackServiceServer::new(Api));
        Ok(())
    })
}
