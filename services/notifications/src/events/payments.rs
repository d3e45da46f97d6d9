//! Payments' events: bank transfer instructions, a declined payment, a refund, a missed
//! installment.

use contracts::payments::{
    DeclineReason, InstallmentMissed, PaymentDeclined, PaymentPending, PaymentRefunded,
};
use messaging::{Envelope, Handler, HandlerError};
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::{Notifier, Source, amount, code, when};
use crate::domain::messages::{
    INSTALLMENT_MISSED, PAYMENT_DECLINED, PAYMENT_PENDING, PAYMENT_REFUNDED,
};

impl Handler<PaymentPending> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentPending>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if e.instructions.is_none() {
            return Err(HandlerError::permanent(
                "a pending payment without instructions",
            ));
        }
        let contact = self.contact_of(tx, &e.order_id).await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            PAYMENT_PENDING,
            &contact,
            pending(e),
        )
        .await
    }
}

fn pending(e: &PaymentPending) -> Value {
    let i = e.instructions.clone().unwrap_or_default();
    json!({
        "beneficiary": i.beneficiary_name,
        "iban": i.iban,
        "bic": i.bic,
        "reference": i.reference,
        "amount": amount(i.amount.as_ref()),
        "pay_by": when(i.pay_by.as_ref()),
    })
}

impl Handler<PaymentDeclined> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentDeclined>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let contact = self.contact_of(tx, &e.order_id).await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            PAYMENT_DECLINED,
            &contact,
            declined(e),
        )
        .await
    }
}

fn declined(e: &PaymentDeclined) -> Value {
    let reason = DeclineReason::try_from(e.reason).unwrap_or(DeclineReason::Unspecified);
    json!({"reason": code(reason.as_str_name(), "DECLINE_REASON_")})
}

impl Handler<PaymentRefunded> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<PaymentRefunded>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let contact = self.contact_of(tx, &e.order_id).await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            PAYMENT_REFUNDED,
            &contact,
            refunded(e),
        )
        .await
    }
}

fn refunded(e: &PaymentRefunded) -> Value {
    json!({"amount": amount(e.amount.as_ref())})
}

impl Handler<InstallmentMissed> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<InstallmentMissed>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let contact = self.contact_of(tx, &e.order_id).await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            INSTALLMENT_MISSED,
            &contact,
            missed(e),
        )
        .await
    }
}

fn missed(e: &InstallmentMissed) -> Value {
    json!({
        "number": e.number,
        "amount": amount(e.amount.as_ref()),
        "defaulted": e.defaulted,
        "next_attempt_at": when(e.next_attempt_at.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::renders;
    use super::*;

    #[test]
    fn every_payment_message_renders_from_its_event() {
        renders(PAYMENT_PENDING, pending(&PaymentPending::default()));
        renders(PAYMENT_DECLINED, declined(&PaymentDeclined::default()));
        renders(PAYMENT_REFUNDED, refunded(&PaymentRefunded::default()));
        renders(INSTALLMENT_MISSED, missed(&InstallmentMissed::default()));
    }
}
