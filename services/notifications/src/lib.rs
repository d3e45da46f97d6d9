//! Notifications: customer and staff messages over e-mail, SMS and app push.
//!
//! Foundation stage: the service owns its database (`ordercycle_notifications`, with the messaging
//! tables), runs its outbox relay, and serves `NotificationService` with health and reflection; every RPC
//! answers UNIMPLEMENTED until its issue lands.

use contracts::notifications::notification_service_server::{
    NotificationService, NotificationServiceServer,
};
use messaging::Bus;
use runtime::{BoxError, BoxFuture, Host, ServiceDef};

/// How the `ordercycle` binary and the testkit run this service.
pub static SERVICE: ServiceDef = ServiceDef {
    name: "notifications",
    migrations: &[&messaging::MIGRATOR],
    build,
};

#[derive(Clone)]
struct Api;

impl NotificationService for Api {}

fn build(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(async move {
        Bus::attach(host);
        host.add_service(NotificationServiceServer::new(Api));
        Ok(())
    })
}
