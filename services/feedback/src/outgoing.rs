//! The events feedback publishes, built from domain values: `case.opened`, `case.resolved`,
//! `sla.breached`, `survey.invited`, `survey.submitted`, `review.published`.
//!
//! `feedback.survey.invited` is new and `contracts` does not bind it to its subject yet, so
//! [`SurveyInvitedEvent`] does it here: a wrapper with the generated message's exact wire form
//! and protobuf name (`ordercycle.feedback.v1.SurveyInvited`), so subscribers decode it with
//! the `.proto` alone. Once `contracts::events` lists it, the wrapper can go.

use chrono::{DateTime, Utc};
use contracts::common::{CaseResolution, Money, ProblemKind as PbProblemKind};
use contracts::feedback as pb;
use contracts::time::to_timestamp;
use prost::bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType};

use crate::domain::case::{
    Case, CaseKind, CaseLine, CasePriority, ProblemKind, Resolution, SlaKind,
};
use crate::domain::review::Review;
use crate::domain::survey::{Survey, SurveyTag};
use crate::store::orders::Contact;

/// `feedback.survey.invited`, carried by the generated `SurveyInvited` message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SurveyInvitedEvent(pub pb::SurveyInvited);

impl prost::Message for SurveyInvitedEvent {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        self.0.encode_raw(buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        self.0.merge_field(tag, wire_type, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.encoded_len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

impl prost::Name for SurveyInvitedEvent {
    const NAME: &'static str = <pb::SurveyInvited as prost::Name>::NAME;
    const PACKAGE: &'static str = <pb::SurveyInvited as prost::Name>::PACKAGE;
}

impl contracts::Event for SurveyInvitedEvent {
    const SUBJECT: &'static str = "feedback.survey.invited";

    fn aggregate_id(&self) -> String {
        self.0.survey_id.clone()
    }

    fn order_id(&self) -> Option<&str> {
        Some(&self.0.order_id)
    }
}

fn ts(time: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(to_timestamp(time))
}

pub fn survey_invited(survey: &Survey, contact: Contact, skus: Vec<String>) -> SurveyInvitedEvent {
    SurveyInvitedEvent(pb::SurveyInvited {
        survey_id: survey.id.to_string(),
        order_id: survey.order_id.to_string(),
        order_number: survey.order_number.clone(),
        customer: Some(contracts::common::Customer {
            id: survey.customer_id.clone(),
            name: contact.name,
            email: contact.email,
            phone: contact.phone,
        }),
        skus,
        delivered_at: ts(survey.delivered_at),
        invited_at: survey.invited_at.map(to_timestamp),
        expires_at: survey.expires_at.map(to_timestamp),
    })
}

pub fn survey_submitted(survey: &Survey) -> pb::SurveySubmitted {
    let answer = survey.answer.as_ref();
    pb::SurveySubmitted {
        survey_id: survey.id.to_string(),
        order_id: survey.order_id.to_string(),
        customer_id: survey.customer_id.clone(),
        csat_score: answer.map(|a| a.csat.get()).unwrap_or_default(),
        nps_score: answer.and_then(|a| a.nps).map(|n| n.get()),
        comment: answer.map(|a| a.comment.clone()).unwrap_or_default(),
        delivered_at: ts(survey.delivered_at),
        submitted_at: survey.submitted_at.map(to_timestamp),
        tags: answer
            .map(|a| a.tags.iter().map(|t| i32::from(survey_tag(*t))).collect())
            .unwrap_or_default(),
    }
}

pub fn review_published(review: &Review) -> pb::ReviewPublished {
    pb::ReviewPublished {
        review_id: review.id.to_string(),
        sku: review.sku.clone(),
        order_id: review.order_id.to_string(),
        customer_id: review.customer_id.clone(),
        rating: review.rating.get(),
        title: review.title.clone(),
        body: review.body.clone(),
        submitted_at: ts(review.created_at),
        published_at: review.published_at.map(to_timestamp),
    }
}

pub fn case_opened(case: &Case) -> pb::CaseOpened {
    pb::CaseOpened {
        case_id: case.id.to_string(),
        case_number: case.number.clone(),
        order_id: case.order_id.map(|id| id.to_string()).unwrap_or_default(),
        customer_id: case.customer_id.clone(),
        kind: case_kind(case.kind).into(),
        problem_kind: problem_kind(case.problem_kind).into(),
        problem_id: case.problem_id.clone().unwrap_or_default(),
        priority: case_priority(case.priority).into(),
        subject: case.subject.clone(),
        first_response_due_at: ts(case.first_response_due_at),
        resolve_due_at: ts(case.resolve_due_at),
        opened_at: ts(case.opened_at),
    }
}

pub fn case_resolved(case: &Case) -> pb::CaseResolved {
    pb::CaseResolved {
        case_id: case.id.to_string(),
        case_number: case.number.clone(),
        order_id: case.order_id.map(|id| id.to_string()).unwrap_or_default(),
        problem_id: case.problem_id.clone().unwrap_or_default(),
        kind: case_kind(case.kind).into(),
        resolution: resolution(case.resolution).into(),
        refund_amount: case.refund.as_ref().map(|r| Money {
            currency_code: r.currency.clone(),
            amount_minor: r.amount_minor,
        }),
        lines: case.resolution_lines.iter().map(case_line).collect(),
        note: case.resolution_note.clone(),
        resolved_by: case.resolved_by.clone(),
        sla_breached: case.sla_breached(),
        opened_at: ts(case.opened_at),
        resolved_at: case.resolved_at.map(to_timestamp),
    }
}

pub fn sla_breached(
    case: &Case,
    sla: SlaKind,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> pb::SlaBreached {
    pb::SlaBreached {
        case_id: case.id.to_string(),
        case_number: case.number.clone(),
        order_id: case.order_id.map(|id| id.to_string()).unwrap_or_default(),
        sla: match sla {
            SlaKind::FirstResponse => pb::SlaKind::FirstResponse,
            SlaKind::Resolution => pb::SlaKind::Resolution,
        }
        .into(),
        priority: case_priority(case.priority).into(),
        assignee_id: case.assignee_id.clone().unwrap_or_default(),
        due_at: ts(due_at),
        breached_at: ts(now),
    }
}

// Domain → protobuf enums, shared with the gRPC layer.

pub fn case_line(line: &CaseLine) -> pb::CaseLine {
    pb::CaseLine {
        line_id: line.line_id.clone(),
        sku: line.sku.clone(),
        quantity: line.quantity,
    }
}

pub fn survey_tag(tag: SurveyTag) -> pb::SurveyTag {
    match tag {
        SurveyTag::ProductQuality => pb::SurveyTag::ProductQuality,
        SurveyTag::DeliverySpeed => pb::SurveyTag::DeliverySpeed,
        SurveyTag::ServiceAttitude => pb::SurveyTag::ServiceAttitude,
    }
}

pub fn case_kind(kind: CaseKind) -> pb::CaseKind {
    match kind {
        CaseKind::ProblemReport => pb::CaseKind::ProblemReport,
        CaseKind::Inquiry => pb::CaseKind::Inquiry,
        CaseKind::Complaint => pb::CaseKind::Complaint,
        CaseKind::Repair => pb::CaseKind::Repair,
        CaseKind::DeliveryProblem => pb::CaseKind::DeliveryProblem,
        CaseKind::Other => pb::CaseKind::Other,
    }
}

pub fn case_priority(priority: CasePriority) -> pb::CasePriority {
    match priority {
        CasePriority::Low => pb::CasePriority::Low,
        CasePriority::Normal => pb::CasePriority::Normal,
        CasePriority::High => pb::CasePriority::High,
        CasePriority::Urgent => pb::CasePriority::Urgent,
    }
}

pub fn problem_kind(kind: Option<ProblemKind>) -> PbProblemKind {
    match kind {
        None => PbProblemKind::Unspecified,
        Some(ProblemKind::MissingItem) => PbProblemKind::MissingItem,
        Some(ProblemKind::DamagedItem) => PbProblemKind::DamagedItem,
        Some(ProblemKind::WrongItem) => PbProblemKind::WrongItem,
        Some(ProblemKind::Other) => PbProblemKind::Other,
    }
}

pub fn resolution(resolution: Option<Resolution>) -> CaseResolution {
    match resolution {
        None => CaseResolution::Unspecified,
        Some(Resolution::Refund) => CaseResolution::Refund,
        Some(Resolution::Reship) => CaseResolution::Reship,
        Some(Resolution::Return) => CaseResolution::Return,
        Some(Resolution::Nothing) => CaseResolution::None,
    }
}

#[cfg(test)]
mod tests {
    use prost::{Message as _, Name as _};

    use super::*;

    #[test]
    fn the_invitation_wrapper_is_the_generated_message_on_the_wire() {
        let inner = pb::SurveyInvited {
            survey_id: "s-1".into(),
            skus: vec!["TEA".into()],
            ..Default::default()
        };
        let event = SurveyInvitedEvent(inner.clone());
        assert_eq!(event.encode_to_vec(), inner.encode_to_vec());
        assert_eq!(
            SurveyInvitedEvent::decode(inner.encode_to_vec().as_slice()).unwrap(),
            event
        );
        assert_eq!(
            SurveyInvitedEvent::full_name(),
            "ordercycle.feedback.v1.SurveyInvited"
        );
        assert_eq!(contracts::Event::aggregate_id(&event), "s-1");
    }
}
