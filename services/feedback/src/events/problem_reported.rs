//! `orders.order.problem_reported` → open a support case for the problem (one per problem id),
//! with its SLA deadlines, and publish `feedback.case.opened`.

use contracts::common::ProblemKind as PbProblemKind;
use contracts::orders::OrderProblemReported;
use messaging::{Envelope, Handler, HandlerError, Outbox};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{order_id, required};
use crate::domain::case::{
    AuthorType, Case, CaseKind, CaseLine, CasePriority, NewCase, ProblemKind, SlaPolicy,
};
use crate::outgoing;
use crate::store;
use crate::timers::sla;

pub struct OpenProblemCase {
    pub outbox: Outbox,
    pub clock: runtime::Clock,
    pub sla: SlaPolicy,
    pub priority: CasePriority,
}

fn problem_kind(raw: i32) -> Option<ProblemKind> {
    match PbProblemKind::try_from(raw).ok()? {
        PbProblemKind::Unspecified => None,
        PbProblemKind::MissingItem => Some(ProblemKind::MissingItem),
        PbProblemKind::DamagedItem => Some(ProblemKind::DamagedItem),
        PbProblemKind::WrongItem => Some(ProblemKind::WrongItem),
        PbProblemKind::Other => Some(ProblemKind::Other),
    }
}

impl Handler<OrderProblemReported> for OpenProblemCase {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<OrderProblemReported>,
    ) -> Result<(), HandlerError> {
        let report = &envelope.event;
        let order_id = order_id(&report.order_id)?;
        let problem_id = required("problem id", &report.problem_id)?.to_owned();
        let customer_id = required(
            "customer id",
            report.customer.as_ref().map_or("", |c| c.id.as_str()),
        )?
        .to_owned();
        if store::cases::get(tx, store::cases::CaseKey::ProblemId(&problem_id))
            .await?
            .is_some()
        {
            return Ok(());
        }
        let kind = problem_kind(report.kind);
        let what = kind.map_or("a problem", |k| match k {
            ProblemKind::MissingItem => "a missing item",
            ProblemKind::DamagedItem => "a damaged item",
            ProblemKind::WrongItem => "a wrong item",
            ProblemKind::Other => "a problem",
        });
        let mut description = report.description.trim().to_owned();
        if description.is_empty() {
            description = format!("The customer reported {what}.");
        }
        if !report.attachment_urls.is_empty() {
            description.push_str("\n\nAttachments:\n");
            description.push_str(&report.attachment_urls.join("\n"));
        }
        let now = self.clock.now();
        let number = store::cases::next_number(tx, now).await?;
        let case = Case::open(
            NewCase {
                order_id: Some(order_id),
                customer_id: customer_id.clone(),
                kind: CaseKind::ProblemReport,
                problem_kind: kind,
                problem_id: Some(problem_id),
                subject: format!("Order {}: {what}", report.order_number),
                description,
                priority: self.priority,
                lines: report
                    .lines
                    .iter()
                    .map(|l| CaseLine {
                        line_id: l.line_id.clone(),
                        sku: l.sku.clone(),
                        quantity: l.quantity,
                    })
                    .collect(),
                opened_by: customer_id,
                opened_by_type: AuthorType::Customer,
            },
            Uuid::now_v7(),
            number,
            &self.sla,
            now,
        );
        if !store::cases::insert(tx, &case).await? {
            return Ok(());
        }
        sla::schedule_new(tx, &case).await?;
        self.outbox
            .append(tx, &outgoing::case_opened(&case))
            .await?;
        tracing::info!(case_id = %case.id, case_number = %case.number, order_id = %order_id, "case opened from a problem report");
        Ok(())
    }
}
