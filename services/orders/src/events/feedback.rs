//! Feedback's case resolutions end a dispute: refund, reship, return, or nothing.

use contracts::common::CaseResolution;
use contracts::feedback::CaseResolved;
use messaging::{Bus, Envelope, Handler, HandlerError};
use runtime::Host;
use sqlx::PgConnection;
use uuid::Uuid;

use super::order_id;
use crate::domain::saga::{Input, Resolution};
use crate::store;
use crate::workflow::{CaseFacts, Facts, Workflow};

struct OnFeedback(Workflow);

impl Handler<CaseResolved> for OnFeedback {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<CaseResolved>,
    ) -> Result<(), HandlerError> {
        let e = &envelope.event;
        if e.order_id.is_empty() {
            // A general inquiry: nothing for an order to do.
            return Ok(());
        }
        let id = order_id(&e.order_id)?;
        let resolution = match e.resolution() {
            CaseResolution::Refund => Resolution::Refund,
            CaseResolution::Reship => Resolution::Reship,
            CaseResolution::Return => Resolution::Return,
            CaseResolution::None | CaseResolution::Unspecified => Resolution::None,
        };
        let problem = Uuid::parse_str(&e.problem_id).ok();
        let name = e
            .resolution()
            .as_str_name()
            .trim_start_matches("CASE_RESOLUTION_")
            .to_owned();
        let mut lines = store::shipments::resolve_problem(
            tx,
            id,
            problem,
            &e.case_id,
            &name,
            self.0.clock.now(),
        )
        .await?;
        if !e.lines.is_empty() {
            lines = e
                .lines
                .iter()
                .map(|l| store::shipments::ProblemLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect();
        }
        let mut facts = Facts::event("feedback", envelope.id).because(format!(
            "case {} resolved: {}",
            e.case_number,
            name.to_lowercase()
        ));
        facts.case = Some(CaseFacts {
            case_id: e.case_id.clone(),
            refund: e.refund_amount.as_ref().map(|m| m.amount_minor),
            lines,
        });
        self.0
            .apply(tx, id, Input::CaseResolved(resolution), &facts)
            .await?;
        Ok(())
    }
}

pub async fn subscribe(
    bus: &Bus,
    host: &mut Host,
    wf: &Workflow,
) -> Result<(), messaging::consumer::ConsumerError> {
    bus.consume::<CaseResolved, _>(host, OnFeedback(wf.clone()))
        .await
}
