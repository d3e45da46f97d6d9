//! The service running for real (gRPC, NATS, Postgres) with its channels pointed at this
//! test's own fakes, through per-instance settings (`Settings::overrides`), so tests in this
//! binary run in parallel without sharing a mail box; plus typed ways to play other services'
//! events and read the delivery log.

use std::time::Duration;

use contracts::Event;
use contracts::common::{Customer, Money};
use contracts::notifications::notification_service_client::NotificationServiceClient;
use contracts::notifications::{
    ListNotificationsRequest, Notification, NotificationChannel, NotificationStatus,
};
use contracts::orders::OrderPlaced;
use messaging::envelope::{Outgoing, publish_direct};
use runtime::Settings;
use testkit::{RunningService, TestEnv};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::fakes::{Gateway, SmtpServer};

pub type Client = NotificationServiceClient<Channel>;

pub const SMS_SECRET: &str = "Bearer sms-test-secret";
pub const PUSH_SECRET: &str = "push-test-secret";
pub const STAFF: [&str; 2] = ["ops@example.com", "lead@example.com"];

pub struct TestApp {
    pub env: TestEnv,
    pub service: RunningService,
    pub smtp: SmtpServer,
    pub gateway: Gateway,
}

fn overrides(smtp: &SmtpServer, gateway: &Gateway) -> Vec<(&'static str, String)> {
    vec![
        ("OC_NOTIFICATIONS_SMTP_URL", smtp.url()),
        (
            "OC_NOTIFICATIONS_EMAIL_FROM",
            "ordercycle <no-reply@shop.example>".into(),
        ),
        ("OC_NOTIFICATIONS_MESSAGE_ID_DOMAIN", "shop.example".into()),
        ("OC_NOTIFICATIONS_SMS_URL", gateway.url("/sms")),
        ("OC_NOTIFICATIONS_SMS_AUTH", SMS_SECRET.into()),
        ("OC_NOTIFICATIONS_PUSH_URL", gateway.url("/push")),
        ("OC_NOTIFICATIONS_PUSH_AUTH_HEADER", "X-Api-Key".into()),
        ("OC_NOTIFICATIONS_PUSH_AUTH", PUSH_SECRET.into()),
        ("OC_NOTIFICATIONS_STAFF_EMAILS", STAFF.join(",")),
        ("OC_NOTIFICATIONS_POLL_MS", "50".into()),
        ("OC_NOTIFICATIONS_RETRY_BACKOFF_MS", "50".into()),
        ("OC_NOTIFICATIONS_RETRY_BACKOFF_MAX_MS", "200".into()),
        ("OC_NOTIFICATIONS_SEND_TIMEOUT_MS", "5000".into()),
        ("OC_NOTIFICATIONS_SEND_LEASE_MS", "10000".into()),
    ]
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with the settings `tweak` changes after the defaults above are in.
    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let smtp = SmtpServer::start().await;
        let gateway = Gateway::start().await;
        let env = TestEnv::with(|s| {
            for (key, value) in overrides(&smtp, &gateway) {
                s.overrides.insert(key.into(), value);
            }
            tweak(s);
        })
        .await;
        let service = env.start(&notifications::SERVICE).await;
        Self {
            env,
            service,
            smtp,
            gateway,
        }
    }

    pub async fn client(&self) -> Client {
        NotificationServiceClient::new(self.service.channel().await)
    }

    /// Plays another service publishing `event`; returns its event id.
    pub async fn publish<E: Event>(&self, event: &E) -> Uuid {
        publish_direct(
            self.env.jetstream(),
            &self.env.subjects(),
            "ordercycle/test",
            event,
        )
        .await
        .unwrap()
    }

    /// Publishes the same event (same id) again, as a relay that crashed before marking it
    /// would, once JetStream's duplicate window has passed.
    pub async fn publish_again(&self, outgoing: &Outgoing) {
        let js = self.env.jetstream();
        js.publish_with_headers(
            self.env.subjects().absolute(&outgoing.subject),
            outgoing.headers("ordercycle/test"),
            outgoing.payload.clone().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }

    /// The delivery log of one order, as support staff see it.
    pub async fn log_of_order(&self, order_id: &str) -> Vec<Notification> {
        let mut client = self.client().await;
        client
            .list_notifications(ListNotificationsRequest {
                order_id: order_id.into(),
                page_size: 200,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .notifications
    }

    /// Everything recorded for one source event.
    pub async fn log_of_event(&self, event_id: &str) -> Vec<Notification> {
        let mut client = self.client().await;
        client
            .list_notifications(ListNotificationsRequest {
                page_size: 200,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .notifications
            .into_iter()
            .filter(|n| n.source_event_id == event_id)
            .collect()
    }

    /// Waits until the event's notification on `channel` reaches `status`.
    pub async fn wait_status(
        &self,
        event_id: &str,
        channel: NotificationChannel,
        status: NotificationStatus,
    ) -> Notification {
        testkit::eventually(
            &format!("{channel:?} of {event_id} to be {status:?}"),
            || async {
                self.log_of_event(event_id)
                    .await
                    .into_iter()
                    .find(|n| n.channel == channel as i32 && n.status == status as i32)
            },
        )
        .await
    }
}

pub fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        currency_code: "EUR".into(),
        amount_minor,
    })
}

/// A customer whose addresses no other test uses.
pub fn customer(tag: &str) -> Customer {
    let unique = &Uuid::new_v4().simple().to_string()[..8];
    Customer {
        id: format!("cust-{tag}-{unique}"),
        name: "Mei Lin".into(),
        email: format!("{tag}-{unique}@example.com"),
        phone: format!("+4915{}", &Uuid::new_v4().as_u128().to_string()[..9]),
    }
}

pub fn order_placed(customer: &Customer) -> OrderPlaced {
    let order_id = Uuid::new_v4().to_string();
    OrderPlaced {
        order_number: format!("OC-{}", &order_id[..8].to_uppercase()),
        order_id,
        customer: Some(customer.clone()),
        lines: vec![contracts::orders::OrderLine {
            line_id: "L1".into(),
            sku: "TEA-001".into(),
            name: "Green tea".into(),
            quantity: 2,
            unit_price: eur(1250),
            line_total: eur(2500),
            ..Default::default()
        }],
        total: eur(2500),
        ..Default::default()
    }
}

/// Lets JetStream's duplicate window (100 ms in these tests) pass, so a republished event is
/// stored again and only our own records can stop a second effect.
pub async fn outlast_duplicate_window() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}
