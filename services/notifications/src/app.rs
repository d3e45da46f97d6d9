//! Wires notifications into its host: the configured senders, the templates, one consumer per
//! event it listens to plus the dead-letter watcher, the sender loop, and the gRPC API.

use std::sync::Arc;

use contracts::feedback::{SlaBreached, SurveyInvited};
use contracts::fulfillment::{FulfillmentReadyForPickup, ParcelHandedOver};
use contracts::inventory::StockLow;
use contracts::notifications::notification_service_server::NotificationServiceServer;
use contracts::orders::{
    OrderCancelled, OrderConfirmed, OrderHeld, OrderPlaced, OrderUpdated, ReturnApproved,
};
use contracts::payments::{InstallmentMissed, PaymentDeclined, PaymentPending, PaymentRefunded};
use contracts::shipping::{
    ShipmentCreated, ShipmentDelivered, ShipmentDeliveryFailed, ShipmentStatusChanged,
};
use messaging::Bus;
use messaging::failpoint::FailPoints;
use runtime::{BoxError, Host};

use crate::channels::Senders;
use crate::channels::http::{Gateway, HttpSender};
use crate::channels::smtp::SmtpSender;
use crate::config::NotificationsConfig;
use crate::dispatch::Dispatcher;
use crate::events::Notifier;
use crate::events::dead_letters::DeadLetters;
use crate::grpc::NotificationsApi;
use crate::templates::Templates;

/// Builds the service with its `OC_NOTIFICATIONS_…` settings, read through the host's
/// settings so a test can give one instance its own.
pub async fn build(host: &mut Host) -> Result<(), BoxError> {
    let config = NotificationsConfig::from(&host.settings().env())?;
    build_with(host, config).await
}

/// Builds the service with `config`.
pub async fn build_with(host: &mut Host, config: NotificationsConfig) -> Result<(), BoxError> {
    let config = Arc::new(config);
    // Notifications publishes no events, but the relay is every service's plumbing.
    let bus = Bus::attach(host);
    messaging::privacy::subscribe(&bus, host, crate::privacy::PERSONAL_DATA).await?;
    let senders = senders(&config, host.clock())?;
    let notifier = Notifier::new(
        Templates::new(&config.default_locale)?,
        host.clock().clone(),
        senders.configured(),
        config.clone(),
    );

    bus.consume::<OrderPlaced, _>(host, notifier.clone())
        .await?;
    bus.consume::<OrderConfirmed, _>(host, notifier.clone())
        .await?;
    bus.consume::<OrderUpdated, _>(host, notifier.clone())
        .await?;
    bus.consume::<OrderCancelled, _>(host, notifier.clone())
        .await?;
    bus.consume::<OrderHeld, _>(host, notifier.clone()).await?;
    bus.consume::<ReturnApproved, _>(host, notifier.clone())
        .await?;
    bus.consume::<PaymentPending, _>(host, notifier.clone())
        .await?;
    bus.consume::<PaymentDeclined, _>(host, notifier.clone())
        .await?;
    bus.consume::<PaymentRefunded, _>(host, notifier.clone())
        .await?;
    bus.consume::<InstallmentMissed, _>(host, notifier.clone())
        .await?;
    bus.consume::<ParcelHandedOver, _>(host, notifier.clone())
        .await?;
    bus.consume::<FulfillmentReadyForPickup, _>(host, notifier.clone())
        .await?;
    bus.consume::<ShipmentCreated, _>(host, notifier.clone())
        .await?;
    bus.consume::<ShipmentStatusChanged, _>(host, notifier.clone())
        .await?;
    bus.consume::<ShipmentDelivered, _>(host, notifier.clone())
        .await?;
    bus.consume::<ShipmentDeliveryFailed, _>(host, notifier.clone())
        .await?;
    bus.consume::<StockLow, _>(host, notifier.clone()).await?;
    bus.consume::<SurveyInvited, _>(host, notifier.clone())
        .await?;
    bus.consume::<SlaBreached, _>(host, notifier.clone())
        .await?;

    let dead_letters = DeadLetters::provision(
        host.jetstream().clone(),
        host.subjects().clone(),
        host.settings().clone(),
        host.pool().clone(),
        notifier,
    )
    .await?;
    host.spawn("dead-letter-alerts", move |token| dead_letters.run(token));

    let dispatcher = Dispatcher {
        pool: host.pool().clone(),
        clock: host.clock().clone(),
        senders,
        config: config.clone(),
        failpoints: FailPoints::from_spec(&config.failpoints),
    };
    host.spawn("notification-sender", move |token| dispatcher.run(token));

    host.add_service(NotificationServiceServer::new(NotificationsApi {
        pool: host.pool().clone(),
        clock: host.clock().clone(),
    }));
    Ok(())
}

fn senders(config: &NotificationsConfig, clock: &runtime::Clock) -> Result<Senders, BoxError> {
    let mut senders = Senders::default();
    if let Some(smtp) = &config.smtp {
        senders.email = Some(Arc::new(SmtpSender::new(
            smtp,
            config.send_timeout,
            clock.clone(),
        )?));
    }
    if let Some(sms) = &config.sms {
        let gateway = Gateway::Sms {
            sender: config.sms_sender.clone(),
        };
        senders.sms = Some(Arc::new(HttpSender::new(
            "OC_NOTIFICATIONS_SMS_URL",
            sms,
            gateway,
            config.send_timeout,
        )?));
    }
    if let Some(push) = &config.push {
        senders.push = Some(Arc::new(HttpSender::new(
            "OC_NOTIFICATIONS_PUSH_URL",
            push,
            Gateway::Push,
            config.send_timeout,
        )?));
    }
    let configured = senders.configured();
    tracing::info!(
        email = configured.email,
        sms = configured.sms,
        push = configured.push,
        staff_recipients = config.staff_emails.len() + config.staff_phones.len(),
        "notification channels"
    );
    Ok(senders)
}
