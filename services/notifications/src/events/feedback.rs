//! Feedback's events: the survey invitation (sent when feedback's delay after delivery has
//! passed) and, for staff, a support case past its SLA.

use contracts::feedback::{CasePriority, SlaBreached, SlaKind, SurveyInvited};
use messaging::{Envelope, Handler, HandlerError};
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::{Notifier, Source, code, when};
use crate::domain::messages::{STAFF_SLA_BREACHED, SURVEY_INVITED};

impl Handler<SurveyInvited> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<SurveyInvited>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        let contact = self
            .remember(tx, &e.order_id, &e.order_number, e.customer.as_ref())
            .await?;
        self.to_customer(
            tx,
            &Source::of(envelope),
            SURVEY_INVITED,
            &contact,
            invited(e),
        )
        .await
    }
}

fn invited(e: &SurveyInvited) -> Value {
    json!({"survey_id": e.survey_id, "expires_at": when(e.expires_at.as_ref())})
}

impl Handler<SlaBreached> for Notifier {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<SlaBreached>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        self.to_staff(
            tx,
            &Source::of(envelope),
            STAFF_SLA_BREACHED,
            &e.order_id,
            breached(e),
        )
        .await
    }
}

fn breached(e: &SlaBreached) -> Value {
    let sla = SlaKind::try_from(e.sla).unwrap_or(SlaKind::Unspecified);
    let priority = CasePriority::try_from(e.priority).unwrap_or(CasePriority::Unspecified);
    json!({
        "case_number": if e.case_number.is_empty() { &e.case_id } else { &e.case_number },
        "case_id": e.case_id,
        "order_id": e.order_id,
        "sla": code(sla.as_str_name(), "SLA_KIND_"),
        "priority": code(priority.as_str_name(), "CASE_PRIORITY_"),
        "assignee": e.assignee_id,
        "due_at": when(e.due_at.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::renders;
    use super::*;

    #[test]
    fn every_feedback_message_renders_from_its_event() {
        renders(SURVEY_INVITED, invited(&SurveyInvited::default()));
        renders(STAFF_SLA_BREACHED, breached(&SlaBreached::default()));
    }
}
