//! The events notifications listens to, grouped by the service that publishes them (one
//! [`Notifier`] handles them all; each event's own rule is a few lines beside its neighbours).
//!
//! Every handler runs in the consumer's transaction (the runner records the event id in the
//! inbox in the same one, so a redelivered event is skipped before it gets here). It keeps what
//! later events will need (the order's contact, a shipment's tracking link), decides the
//! message, renders it, and records one notification row per channel and recipient — pending
//! or suppressed — all before commit. Nothing is sent here: [`crate::dispatch`] sends rows after
//! they are committed. An event about an order whose contact is not known yet (its
//! `orders.order.placed` is still on its way) is retried; a malformed one is dead-lettered.

pub mod dead_letters;
mod feedback;
mod fulfillment;
mod inventory;
mod orders;
mod payments;
mod shipping;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use contracts::common;
use messaging::{Envelope, HandlerError};
use prost_types::Timestamp;
use runtime::Clock;
use serde_json::{Map, Value};
use sqlx::PgConnection;

use crate::config::NotificationsConfig;
use crate::domain::messages::Message;
use crate::domain::plan::{self, Configured, Contact, Delivery, Planned};
use crate::domain::preferences::Preferences;
use crate::domain::{self, Audience, Channel, Status, money};
use crate::store::contacts::OrderContact;
use crate::store::notifications::NewNotification;
use crate::store::{self, contacts};
use crate::templates::{Rendered, Templates};

/// Records the notifications events call for.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    templates: Templates,
    clock: Clock,
    configured: Configured,
    config: Arc<NotificationsConfig>,
}

/// The event a notification comes from.
pub struct Source {
    pub event_id: String,
    pub subject: String,
}

impl Source {
    pub fn of<E>(envelope: &Envelope<E>) -> Self {
        Self {
            event_id: envelope.id.to_string(),
            subject: envelope.subject.clone(),
        }
    }
}

impl Notifier {
    pub fn new(
        templates: Templates,
        clock: Clock,
        configured: Configured,
        config: Arc<NotificationsConfig>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                templates,
                clock,
                configured,
                config,
            }),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The contact of `order_id`; retried while the order's first event has not arrived.
    async fn contact_of(
        &self,
        tx: &mut PgConnection,
        order_id: &str,
    ) -> Result<OrderContact, HandlerError> {
        if order_id.is_empty() {
            return Err(HandlerError::permanent("the event names no order"));
        }
        contacts::get(tx, order_id).await?.ok_or_else(|| {
            HandlerError::transient(format!("the contact of order {order_id} is not known yet"))
        })
    }

    /// Keeps the contact an order event carries and returns it as now known.
    async fn remember(
        &self,
        tx: &mut PgConnection,
        order_id: &str,
        order_number: &str,
        customer: Option<&common::Customer>,
    ) -> Result<OrderContact, HandlerError> {
        if order_id.is_empty() {
            return Err(HandlerError::permanent("the event names no order"));
        }
        let customer = customer.cloned().unwrap_or_default();
        let contact = OrderContact {
            order_id: order_id.to_owned(),
            order_number: order_number.to_owned(),
            customer_id: customer.id,
            name: customer.name,
            email: customer.email,
            phone: customer.phone,
        };
        contacts::upsert(tx, &contact, self.now()).await?;
        Ok(contacts::get(tx, order_id).await?.unwrap_or(contact))
    }

    /// Records the customer's notifications of `message` about the contact's order.
    async fn to_customer(
        &self,
        tx: &mut PgConnection,
        source: &Source,
        message: Message,
        contact: &OrderContact,
        context: Value,
    ) -> Result<(), HandlerError> {
        if contact.customer_id.is_empty() {
            return Err(HandlerError::permanent("the order has no customer id"));
        }
        let prefs = store::preferences::get(tx, &contact.customer_id)
            .await?
            .unwrap_or_else(|| Preferences::defaults(&contact.customer_id));
        let now = self.now();
        let planned = plan::for_customer(
            message.kind,
            &Contact {
                customer_id: contact.customer_id.clone(),
                email: contact.email.clone(),
                phone: contact.phone.clone(),
            },
            &prefs,
            self.inner.configured,
            now,
        );
        let context = with_order(context, contact);
        let rendered = self.render(message, &prefs.locale, &context)?;
        let recipients = Recipients {
            audience: Audience::Customer,
            customer_id: &contact.customer_id,
            order_id: &contact.order_id,
        };
        self.record(tx, source, message, &rendered, &planned, &recipients, now)
            .await?;
        tracing::info!(
            event_id = %source.event_id,
            template = message.template,
            customer_id = %contact.customer_id,
            order_id = %contact.order_id,
            notifications = planned.len(),
            "customer notifications recorded"
        );
        Ok(())
    }

    /// Records a staff alert to every configured staff recipient.
    pub(crate) async fn to_staff(
        &self,
        tx: &mut PgConnection,
        source: &Source,
        message: Message,
        order_id: &str,
        context: Value,
    ) -> Result<(), HandlerError> {
        let config = &self.inner.config;
        let now = self.now();
        let planned = plan::for_staff(
            &config.staff_emails,
            &config.staff_phones,
            self.inner.configured,
            now,
        );
        if planned.is_empty() {
            tracing::info!(event_id = %source.event_id, template = message.template, "no staff recipients configured");
            return Ok(());
        }
        let rendered = self.render(message, &config.staff_locale, &context)?;
        let recipients = Recipients {
            audience: Audience::Staff,
            customer_id: "",
            order_id,
        };
        self.record(tx, source, message, &rendered, &planned, &recipients, now)
            .await?;
        tracing::info!(event_id = %source.event_id, template = message.template, notifications = planned.len(), "staff alerts recorded");
        Ok(())
    }

    fn render(
        &self,
        message: Message,
        locale: &str,
        context: &Value,
    ) -> Result<Rendered, HandlerError> {
        self.inner
            .templates
            .render(message.template, locale, context)
            .map_err(HandlerError::permanent)
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        tx: &mut PgConnection,
        source: &Source,
        message: Message,
        rendered: &Rendered,
        planned: &[Planned],
        recipients: &Recipients<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        for p in planned {
            let (subject, body) = match p.channel {
                Channel::Email => (rendered.subject.clone(), rendered.body.clone()),
                Channel::Sms => (String::new(), rendered.short.clone()),
                Channel::Push => (rendered.subject.clone(), rendered.short.clone()),
            };
            let (status, failure_reason, send_after) = match &p.delivery {
                Delivery::Send { after } => (Status::Pending, String::new(), Some(*after)),
                Delivery::Suppress(why) => (Status::Suppressed, (*why).to_owned(), None),
            };
            let row = NewNotification {
                source_event_id: source.event_id.clone(),
                source_subject: source.subject.clone(),
                channel: p.channel,
                recipient: p.recipient.clone(),
                audience: recipients.audience,
                topic: message.kind.topic,
                template: message.template.to_owned(),
                locale: rendered.locale.to_owned(),
                customer_id: recipients.customer_id.to_owned(),
                order_id: recipients.order_id.to_owned(),
                subject,
                body,
                idempotency_key: domain::idempotency_key(&source.event_id, p.channel, &p.recipient),
                status,
                failure_reason,
                send_after,
            };
            store::notifications::insert(tx, &row, now).await?;
        }
        Ok(())
    }
}

struct Recipients<'a> {
    audience: Audience,
    customer_id: &'a str,
    order_id: &'a str,
}

/// Adds what every customer message may use: the customer's name and the order's number.
fn with_order(context: Value, contact: &OrderContact) -> Value {
    let mut map = match context {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    map.entry("name")
        .or_insert_with(|| contact.name.clone().into());
    map.entry("order_id")
        .or_insert_with(|| contact.order_id.clone().into());
    map.entry("order_number").or_insert_with(|| {
        if contact.order_number.is_empty() {
            contact.order_id.clone()
        } else {
            contact.order_number.clone()
        }
        .into()
    });
    Value::Object(map)
}

/// `12.50 EUR`, or empty when unset.
fn amount(money: Option<&common::Money>) -> String {
    money.map_or_else(String::new, |m| {
        money::format(m.amount_minor, &m.currency_code)
    })
}

/// `2026-03-13 15:00 UTC`, or empty when unset.
fn when(ts: Option<&Timestamp>) -> String {
    ts.and_then(contracts::time::from_timestamp)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A protobuf enum value's name without its type prefix, lower case: `out_of_stock`.
fn code(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

fn lines(lines: &[contracts::orders::OrderLine]) -> Value {
    lines
        .iter()
        .map(|l| serde_json::json!({"sku": l.sku, "name": l.name, "quantity": l.quantity}))
        .collect()
}

#[cfg(test)]
mod tests {
    //! Every handler's context renders in every locale, so no event sends a broken message.

    use super::*;
    use crate::domain::messages;
    use crate::templates::LOCALES;

    pub(super) fn renders(message: Message, context: Value) {
        let templates = Templates::new("en").unwrap();
        let contact = OrderContact {
            order_id: "o-1".into(),
            order_number: "OC-1".into(),
            customer_id: "c-1".into(),
            name: "Mei".into(),
            ..Default::default()
        };
        let context = if message.kind.topic == domain::Topic::Operations {
            context
        } else {
            with_order(context, &contact)
        };
        for locale in LOCALES {
            templates
                .render(message.template, locale, &context)
                .unwrap_or_else(|e| panic!("{}: {e}", message.template));
        }
    }

    #[test]
    fn enum_codes_lose_their_prefix() {
        assert_eq!(
            code("CANCEL_REASON_OUT_OF_STOCK", "CANCEL_REASON_"),
            "out_of_stock"
        );
        assert_eq!(amount(None), "");
        assert_eq!(when(None), "");
        let _ = messages::ALL;
    }
}
