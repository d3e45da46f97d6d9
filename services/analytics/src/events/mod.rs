//! How events enter analytics: one durable consumer per subject (the messaging crate's unit),
//! all with the same generic [`Record`] handler. It keeps the event in `raw_events` and then
//! projects it into the read models ([`project`]) — in the runner's transaction, together with
//! the inbox record, so a redelivered event counts once.
//!
//! Analytics subscribes to every fact of the platform it can interpret (DESIGN §2a: observers
//! may read any fact) — not to the `…_requested` commands, which are orders' instructions to
//! other services (one of them carries a payment token, which analytics must not keep).

pub mod project;

use contracts::Event;
use messaging::consumer::ConsumerError;
use messaging::{Bus, Envelope, Handler, HandlerError};
use runtime::{Clock, Host};
use sqlx::PgConnection;

use crate::store::raw::{self, RawEvent};

/// Keeps an event and projects it; the same code for every event type.
#[derive(Clone)]
pub struct Record {
    pub clock: Clock,
}

impl<E: Event> Handler<E> for Record {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<E>,
    ) -> Result<(), HandlerError> {
        let event = RawEvent {
            event_id: envelope.id,
            subject: E::SUBJECT.to_owned(),
            type_name: E::full_name(),
            aggregate_id: envelope.aggregate_id.clone(),
            source: envelope.source.clone(),
            occurred_at: envelope.time,
            body: envelope.event.encode_to_vec(),
        };
        // The inbox already filters redeliveries per consumer; the raw table's key also
        // catches an event id seen by another path (a replay tool, a second subscription).
        if !raw::insert(tx, &event, self.clock.now()).await? {
            return Ok(());
        }
        project::apply(tx, &event.subject, &event.body, event.occurred_at)
            .await
            .map_err(|err| match err {
                project::ProjectError::Decode(err) => HandlerError::permanent(err),
                project::ProjectError::Store(err) => HandlerError::from(err),
            })
    }
}

macro_rules! consumed {
    ($($ty:ty),* $(,)?) => {
        /// Every subject analytics subscribes to.
        pub const SUBJECTS: &[&str] = &[$(<$ty as Event>::SUBJECT),*];

        /// Starts one durable consumer per subject, all with `handler`.
        pub async fn subscribe(
            bus: &Bus,
            host: &mut Host,
            handler: &Record,
        ) -> Result<(), ConsumerError> {
            $(bus.consume::<$ty, _>(host, handler.clone()).await?;)*
            Ok(())
        }
    };
}

consumed! {
    contracts::orders::OrderPlaced,
    contracts::orders::OrderHeld,
    contracts::orders::OrderApproved,
    contracts::orders::OrderRejected,
    contracts::orders::OrderConfirmed,
    contracts::orders::OrderUpdated,
    contracts::orders::OrderDelivered,
    contracts::orders::OrderAccepted,
    contracts::orders::OrderProblemReported,
    contracts::orders::OrderCompleted,
    contracts::orders::OrderCancelled,
    contracts::orders::ReturnRequested,
    contracts::orders::ReturnApproved,
    contracts::orders::ReturnRejected,
    contracts::orders::ReturnClosed,
    contracts::inventory::StockReserved,
    contracts::inventory::StockShortage,
    contracts::inventory::ReservationExpired,
    contracts::inventory::ItemUpserted,
    contracts::inventory::StockLow,
    contracts::inventory::ReservationAmended,
    contracts::inventory::ReservationAmendRefused,
    contracts::payments::RiskAssessed,
    contracts::payments::PaymentPending,
    contracts::payments::PaymentAuthorized,
    contracts::payments::PaymentDeclined,
    contracts::payments::PaymentCaptured,
    contracts::payments::PaymentVoided,
    contracts::payments::PaymentRefunded,
    contracts::payments::OrderSettled,
    contracts::payments::InstallmentMissed,
    contracts::payments::PaymentAmended,
    contracts::payments::PaymentAmendDeclined,
    contracts::fulfillment::FulfillmentCreated,
    contracts::fulfillment::FulfillmentPicked,
    contracts::fulfillment::FulfillmentShortPicked,
    contracts::fulfillment::ParcelPacked,
    contracts::fulfillment::ParcelHandedOver,
    contracts::fulfillment::FulfillmentReadyForPickup,
    contracts::fulfillment::FulfillmentPickedUp,
    contracts::fulfillment::FulfillmentCancelled,
    contracts::fulfillment::ReturnReceived,
    contracts::fulfillment::ReturnInspected,
    contracts::fulfillment::FulfillmentAmended,
    contracts::fulfillment::FulfillmentAmendRefused,
    contracts::shipping::ShipmentCreated,
    contracts::shipping::ShipmentStatusChanged,
    contracts::shipping::ShipmentDelivered,
    contracts::shipping::ShipmentDeliveryFailed,
    contracts::feedback::CaseOpened,
    contracts::feedback::CaseResolved,
    contracts::feedback::SlaBreached,
    contracts::feedback::SurveySubmitted,
    contracts::feedback::ReviewPublished,
    contracts::feedback::SurveyInvited,
}

#[cfg(test)]
mod tests {
    use contracts::Event as _;

    use super::*;

    /// Consumed by [`crate::privacy`], which pseudonymises; not a fact the projections record.
    const ERASURE: &str = contracts::orders::CustomerDataErased::SUBJECT;

    #[test]
    fn every_event_listed_for_analytics_is_consumed() {
        for info in contracts::EVENTS {
            if info.consumers.contains(&"analytics") {
                assert!(
                    SUBJECTS.contains(&info.subject) || info.subject == ERASURE,
                    "{} is not consumed",
                    info.subject
                );
            }
        }
    }

    #[test]
    fn every_fact_is_consumed_and_no_command() {
        for info in contracts::EVENTS.iter().filter(|i| i.subject != ERASURE) {
            let command =
                info.subject.ends_with("requested") && info.subject != "orders.return.requested";
            assert_eq!(
                SUBJECTS.contains(&info.subject),
                !command,
                "{}",
                info.subject
            );
        }
    }
}
