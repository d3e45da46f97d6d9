//! The answers to an order update's requests (see [`crate::update_saga`]): inventory's added
//! units, payments' amended amount, fulfillment's amended copy — or their refusals.

use contracts::fulfillment::{FulfillmentAmendRefused, FulfillmentAmended};
use contracts::inventory::{ReservationAmendRefused, ReservationAmended};
use contracts::payments::{PaymentAmendDeclined, PaymentAmended};
use messaging::{Bus, Envelope, Handler, HandlerError};
use runtime::Host;
use sqlx::PgConnection;

use crate::domain::updates::Step;
use crate::store::saga::Allocation;
use crate::update_saga::{self, Answer};
use crate::workflow::Workflow;

#[derive(Clone)]
pub struct OnUpdateAnswer(pub Workflow);

impl OnUpdateAnswer {
    async fn take(
        &self,
        tx: &mut PgConnection,
        update_id: &str,
        answer: Answer,
        event_id: uuid::Uuid,
    ) -> Result<(), HandlerError> {
        update_saga::answer(tx, &self.0, update_id, answer, event_id).await?;
        Ok(())
    }
}

impl Handler<ReservationAmended> for OnUpdateAnswer {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReservationAmended>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let units = e
            .allocations
            .iter()
            .map(|a| Allocation {
                line_id: a.line_id.clone(),
                sku: a.sku.clone(),
                warehouse_id: a.warehouse_id.clone(),
                quantity: a.quantity,
            })
            .collect();
        self.take(tx, &e.update_id, Answer::StockAdded(units), envelope.id)
            .await
    }
}

impl Handler<ReservationAmendRefused> for OnUpdateAnswer {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<ReservationAmendRefused>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let mut why = e.reason.clone();
        for short in &e.short_lines {
            why.push_str(&format!(
                "; {} ({}): {} wanted, {} available",
                short.line_id, short.sku, short.requested_quantity, short.available_quantity
            ));
        }
        self.take(
            tx,
            &e.update_id,
            Answer::Refused(Step::Stock, why),
            envelope.id,
        )
        .await
    }
}

impl Handler<PaymentAmended> for OnUpdateAnswer {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentAmended>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let answer = Answer::PaymentAmended {
            compensation: e.compensation,
        };
        self.take(tx, &e.update_id, answer, envelope.id).await
    }
}

impl Handler<PaymentAmendDeclined> for OnUpdateAnswer {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentAmendDeclined>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let answer = Answer::Refused(Step::Payment, e.message.clone());
        self.take(tx, &e.update_id, answer, envelope.id).await
    }
}

impl Handler<FulfillmentAmended> for OnUpdateAnswer {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentAmended>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        self.take(tx, &e.update_id, Answer::FulfillmentAmended, envelope.id)
            .await
    }
}

impl Handler<FulfillmentAmendRefused> for OnUpdateAnswer {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<FulfillmentAmendRefused>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let answer = Answer::Refused(Step::Fulfillment, e.reason.clone());
        self.take(tx, &e.update_id, answer, envelope.id).await
    }
}

pub async fn subscribe(
    bus: &Bus,
    host: &mut Host,
    wf: &Workflow,
) -> Result<(), messaging::consumer::ConsumerError> {
    let on = OnUpdateAnswer(wf.clone());
    bus.consume::<ReservationAmended, _>(host, on.clone())
        .await?;
    bus.consume::<ReservationAmendRefused, _>(host, on.clone())
        .await?;
    bus.consume::<PaymentAmended, _>(host, on.clone()).await?;
    bus.consume::<PaymentAmendDeclined, _>(host, on.clone())
        .await?;
    bus.consume::<FulfillmentAmended, _>(host, on.clone())
        .await?;
    bus.consume::<FulfillmentAmendRefused, _>(host, on).await
}
