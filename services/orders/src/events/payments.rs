//! Payments' facts: the risk score (→ review rules), payment outcomes, money totals,
//! settlement.

use contracts::payments::{
    OrderSettled, PaymentAuthorized, PaymentCaptured, PaymentDeclined, PaymentPending,
    PaymentRefunded, PaymentVoided, RiskAssessed,
};
use contracts::time::from_timestamp;
use messaging::{Bus, Envelope, Handler, HandlerError};
use runtime::Host;
use sqlx::PgConnection;

use super::order_id;
use crate::domain::review;
use crate::domain::saga::Input;
use crate::store;
use crate::workflow::{Facts, Workflow, WorkflowError};

struct OnPayments(Workflow);

impl Handler<RiskAssessed> for OnPayments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<RiskAssessed>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        let order = store::orders::get(tx, id)
            .await
            .map_err(WorkflowError::from)?
            .ok_or_else(|| HandlerError::permanent(format!("unknown order {id}")))?;
        let codes: Vec<String> = e.reasons.iter().map(|r| r.code.clone()).collect();
        let reasons = review::hold_reasons(&self.0.config, &order, e.score, &codes);
        let row = store::saga::read(tx, id).await?;
        // Only the first assessment of a pending order decides (a replay changes nothing).
        if row.is_some_and(|r| r.status == "PENDING") {
            store::saga::set_risk(tx, id, e.score, &reasons).await?;
        }
        let facts =
            Facts::event("payments", envelope.id).because(format!("risk score {}", e.score));
        self.0
            .apply(
                tx,
                id,
                Input::RiskAssessed {
                    hold: !reasons.is_empty(),
                },
                &facts,
            )
            .await?;
        Ok(())
    }
}

impl Handler<PaymentPending> for OnPayments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentPending>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        let instructions = e.instructions.clone().unwrap_or_default();
        store::saga::set_payment(
            tx,
            id,
            &e.payment_id,
            instructions.pay_by.as_ref().and_then(from_timestamp),
            Some(instructions.reference.as_str()).filter(|r| !r.is_empty()),
        )
        .await?;
        self.0
            .apply(
                tx,
                id,
                Input::PaymentPending,
                &Facts::event("payments", envelope.id),
            )
            .await?;
        Ok(())
    }
}

impl Handler<PaymentAuthorized> for OnPayments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentAuthorized>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        store::saga::set_payment(tx, id, &e.payment_id, None, None).await?;
        self.0
            .apply(
                tx,
                id,
                Input::PaymentAccepted,
                &Facts::event("payments", envelope.id),
            )
            .await?;
        Ok(())
    }
}

impl Handler<PaymentDeclined> for OnPayments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentDeclined>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        store::saga::set_payment(tx, id, &e.payment_id, None, None).await?;
        let facts = Facts::event("payments", envelope.id).because(if e.message.is_empty() {
            "payment declined".to_owned()
        } else {
            e.message.clone()
        });
        self.0.apply(tx, id, Input::PaymentDeclined, &facts).await?;
        Ok(())
    }
}

impl Handler<PaymentCaptured> for OnPayments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentCaptured>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let total = e.captured_total.as_ref().map(|m| m.amount_minor);
        store::saga::set_money_totals(tx, order_id(&e.order_id)?, total, None).await?;
        Ok(())
    }
}

impl Handler<PaymentRefunded> for OnPayments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentRefunded>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let total = e.refunded_total.as_ref().map(|m| m.amount_minor);
        store::saga::set_money_totals(tx, order_id(&e.order_id)?, None, total).await?;
        Ok(())
    }
}

impl Handler<PaymentVoided> for OnPayments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentVoided>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        store::timeline::append(
            tx,
            store::timeline::Entry {
                order_id: order_id(&e.order_id)?,
                occurred_at: self.0.clock.now(),
                kind: "payments.payment.voided",
                summary: format!(
                    "authorization voided ({} minor units)",
                    e.amount.as_ref().map_or(0, |m| m.amount_minor)
                ),
                actor_id: "payments",
                actor_type: "service",
                reason: Some(e.reason.as_str()).filter(|r| !r.is_empty()),
                status_before: None,
                status_after: None,
                event_id: Some(envelope.id),
            },
        )
        .await?;
        Ok(())
    }
}

impl Handler<OrderSettled> for OnPayments {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<OrderSettled>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let id = order_id(&e.order_id)?;
        let total = e.captured_total.as_ref().map(|m| m.amount_minor);
        store::saga::set_money_totals(tx, id, total, None).await?;
        self.0
            .apply(
                tx,
                id,
                Input::Settled,
                &Facts::event("payments", envelope.id),
            )
            .await?;
        Ok(())
    }
}

pub async fn subscribe(
    bus: &Bus,
    host: &mut Host,
    wf: &Workflow,
) -> Result<(), messaging::consumer::ConsumerError> {
    bus.consume::<RiskAssessed, _>(host, OnPayments(wf.clone()))
        .await?;
    bus.consume::<PaymentPending, _>(host, OnPayments(wf.clone()))
        .await?;
    bus.consume::<PaymentAuthorized, _>(host, OnPayments(wf.clone()))
        .await?;
    bus.consume::<PaymentDeclined, _>(host, OnPayments(wf.clone()))
        .await?;
    bus.consume::<PaymentCaptured, _>(host, OnPayments(wf.clone()))
        .await?;
    bus.consume::<PaymentRefunded, _>(host, OnPayments(wf.clone()))
        .await?;
    bus.consume::<PaymentVoided, _>(host, OnPayments(wf.clone()))
        .await?;
    bus.consume::<OrderSettled, _>(host, OnPayments(wf.clone()))
        .await
}
