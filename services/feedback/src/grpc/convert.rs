//! Protobuf ↔ domain for the whole API: field checks that report every bad field, the
//! caller's identity in actor fields, page tokens, and domain values back to messages. No
//! protobuf type goes further in than `grpc/`.

use chrono::{DateTime, Utc};
use contracts::common::{Money, ProblemKind as PbProblemKind};
use contracts::feedback as pb;
use contracts::time::to_timestamp;
use prost_types::Timestamp;
use runtime::Actor;
use runtime::grpc::FieldViolations;
use uuid::Uuid;

use crate::domain::case::{
    AuthorType, Case, CaseKind, CaseLine, CaseMessage, CasePriority, CaseStatus, ProblemKind,
    Resolution,
};
use crate::domain::review::{Review, ReviewFlag, ReviewStatus};
use crate::domain::survey::{Survey, SurveyTag};
use crate::outgoing::{case_kind, case_line, case_priority, problem_kind, resolution, survey_tag};
use crate::store::cases::CaseCursor;
use crate::store::reviews::ReviewCursor;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;
pub const MAX_ID_CHARS: usize = 128;
pub const MAX_SKU_CHARS: usize = 64;

/// Trimmed text, checked for presence and length.
pub fn text(
    v: &mut FieldViolations,
    field: &str,
    value: &str,
    required: bool,
    max: usize,
) -> String {
    let value = value.trim();
    if required && value.is_empty() {
        v.add(field, "is required");
    } else if value.chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    }
    value.to_owned()
}

/// A UUID field; `None` when absent (reported if required) or malformed (always reported).
pub fn uuid(v: &mut FieldViolations, field: &str, value: &str, required: bool) -> Option<Uuid> {
    let value = value.trim();
    if value.is_empty() {
        if required {
            v.add(field, "is required");
        }
        return None;
    }
    let parsed = Uuid::parse_str(value).ok();
    if parsed.is_none() {
        v.add(field, "must be a UUID");
    }
    parsed
}

/// An actor field of the request body (`moderator_id`, `author_id`, …): empty means the
/// caller; anything else must be the caller, unless a service acts for a person.
pub fn acting_as(v: &mut FieldViolations, actor: &Actor, field: &str, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() || value == actor.id {
        return actor.id.clone();
    }
    if actor.has(runtime::Role::Service) {
        return text(v, field, value, true, MAX_ID_CHARS);
    }
    v.add(field, "must be the id of the caller");
    value.to_owned()
}

/// The customer a request is for: a customer acts for themself (empty means them); staff
/// name the customer.
pub fn customer_for(v: &mut FieldViolations, actor: &Actor, field: &str, value: &str) -> String {
    let value = value.trim();
    if actor.is_staff() {
        return text(v, field, value, true, MAX_ID_CHARS);
    }
    if !value.is_empty() && value != actor.id {
        v.add(field, "must be the id of the calling customer");
    }
    actor.id.clone()
}

pub fn page_size(v: &mut FieldViolations, raw: i32) -> i64 {
    match i64::from(raw) {
        0 => DEFAULT_PAGE_SIZE,
        n if n < 0 => {
            v.add("page_size", "must not be negative");
            DEFAULT_PAGE_SIZE
        }
        n => n.min(MAX_PAGE_SIZE),
    }
}

fn micros(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(raw.parse().ok()?)
}

pub fn review_cursor(v: &mut FieldViolations, token: &str) -> Option<ReviewCursor> {
    if token.is_empty() {
        return None;
    }
    let parsed = token.split_once('~').and_then(|(at, id)| {
        Some(ReviewCursor {
            created_at: micros(at)?,
            id: Uuid::parse_str(id).ok()?,
        })
    });
    if parsed.is_none() {
        v.add("page_token", "is not a token this API returned");
    }
    parsed
}

pub fn review_token(cursor: ReviewCursor) -> String {
    format!(
        "{}~{}",
        cursor.created_at.timestamp_micros(),
        cursor.id.simple()
    )
}

pub fn case_cursor(v: &mut FieldViolations, token: &str) -> Option<CaseCursor> {
    if token.is_empty() {
        return None;
    }
    let mut parts = token.splitn(3, '~');
    let parsed = (|| {
        let resolved = match parts.next()? {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        Some(CaseCursor {
            resolved,
            next_due_at: micros(parts.next()?)?,
            id: Uuid::parse_str(parts.next()?).ok()?,
        })
    })();
    if parsed.is_none() {
        v.add("page_token", "is not a token this API returned");
    }
    parsed
}

pub fn case_token(cursor: CaseCursor) -> String {
    format!(
        "{}~{}~{}",
        u8::from(cursor.resolved),
        cursor.next_due_at.timestamp_micros(),
        cursor.id.simple()
    )
}

// Protobuf enums → domain. `None` for UNSPECIFIED or a number this build does not know.

pub fn survey_tag_in(raw: i32) -> Option<SurveyTag> {
    match pb::SurveyTag::try_from(raw).ok()? {
        pb::SurveyTag::Unspecified => None,
        pb::SurveyTag::ProductQuality => Some(SurveyTag::ProductQuality),
        pb::SurveyTag::DeliverySpeed => Some(SurveyTag::DeliverySpeed),
        pb::SurveyTag::ServiceAttitude => Some(SurveyTag::ServiceAttitude),
    }
}

pub fn review_status_in(raw: i32) -> Option<ReviewStatus> {
    match pb::ReviewStatus::try_from(raw).ok()? {
        pb::ReviewStatus::Unspecified => None,
        pb::ReviewStatus::Pending => Some(ReviewStatus::Pending),
        pb::ReviewStatus::Published => Some(ReviewStatus::Published),
        pb::ReviewStatus::Rejected => Some(ReviewStatus::Rejected),
    }
}

pub fn case_kind_in(raw: i32) -> Option<CaseKind> {
    match pb::CaseKind::try_from(raw).ok()? {
        pb::CaseKind::Unspecified => None,
        pb::CaseKind::ProblemReport => Some(CaseKind::ProblemReport),
        pb::CaseKind::Inquiry => Some(CaseKind::Inquiry),
        pb::CaseKind::Complaint => Some(CaseKind::Complaint),
        pb::CaseKind::Repair => Some(CaseKind::Repair),
        pb::CaseKind::DeliveryProblem => Some(CaseKind::DeliveryProblem),
        pb::CaseKind::Other => Some(CaseKind::Other),
    }
}

pub fn case_status_in(raw: i32) -> Option<CaseStatus> {
    match pb::CaseStatus::try_from(raw).ok()? {
        pb::CaseStatus::Unspecified => None,
        pb::CaseStatus::Open => Some(CaseStatus::Open),
        pb::CaseStatus::InProgress => Some(CaseStatus::InProgress),
        pb::CaseStatus::WaitingOnCustomer => Some(CaseStatus::WaitingOnCustomer),
        pb::CaseStatus::Resolved => Some(CaseStatus::Resolved),
    }
}

/// `Ok(None)` for UNSPECIFIED (the default applies), `Err` for an unknown number.
pub fn case_priority_in(raw: i32) -> Result<Option<CasePriority>, ()> {
    match pb::CasePriority::try_from(raw).map_err(|_| ())? {
        pb::CasePriority::Unspecified => Ok(None),
        pb::CasePriority::Low => Ok(Some(CasePriority::Low)),
        pb::CasePriority::Normal => Ok(Some(CasePriority::Normal)),
        pb::CasePriority::High => Ok(Some(CasePriority::High)),
        pb::CasePriority::Urgent => Ok(Some(CasePriority::Urgent)),
    }
}

/// `Ok(None)` for UNSPECIFIED, `Err` for an unknown number.
pub fn problem_kind_in(raw: i32) -> Result<Option<ProblemKind>, ()> {
    match PbProblemKind::try_from(raw).map_err(|_| ())? {
        PbProblemKind::Unspecified => Ok(None),
        PbProblemKind::MissingItem => Ok(Some(ProblemKind::MissingItem)),
        PbProblemKind::DamagedItem => Ok(Some(ProblemKind::DamagedItem)),
        PbProblemKind::WrongItem => Ok(Some(ProblemKind::WrongItem)),
        PbProblemKind::Other => Ok(Some(ProblemKind::Other)),
    }
}

pub fn author_type_in(raw: i32) -> Result<Option<AuthorType>, ()> {
    match pb::CaseAuthorType::try_from(raw).map_err(|_| ())? {
        pb::CaseAuthorType::Unspecified => Ok(None),
        pb::CaseAuthorType::Customer => Ok(Some(AuthorType::Customer)),
        pb::CaseAuthorType::Agent => Ok(Some(AuthorType::Agent)),
        pb::CaseAuthorType::System => Ok(Some(AuthorType::System)),
    }
}

pub fn resolution_in(raw: i32) -> Option<Resolution> {
    use contracts::common::CaseResolution as R;
    match R::try_from(raw).ok()? {
        R::Unspecified => None,
        R::Refund => Some(Resolution::Refund),
        R::Reship => Some(Resolution::Reship),
        R::Return => Some(Resolution::Return),
        R::None => Some(Resolution::Nothing),
    }
}

/// Case lines of a request, each checked.
pub fn case_lines(v: &mut FieldViolations, field: &str, lines: &[pb::CaseLine]) -> Vec<CaseLine> {
    if lines.len() > crate::domain::case::MAX_LINES {
        v.add(
            field,
            format!("must have at most {} lines", crate::domain::case::MAX_LINES),
        );
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let line_id = text(
                v,
                &format!("{field}[{i}].line_id"),
                &line.line_id,
                true,
                MAX_ID_CHARS,
            );
            let sku = text(
                v,
                &format!("{field}[{i}].sku"),
                &line.sku,
                false,
                MAX_SKU_CHARS,
            );
            if line.quantity <= 0 {
                v.add(format!("{field}[{i}].quantity"), "must be positive");
            }
            CaseLine {
                line_id,
                sku,
                quantity: line.quantity,
            }
        })
        .collect()
}

/// Three upper-case letters.
pub fn is_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

// Domain → protobuf.

fn ts(time: DateTime<Utc>) -> Option<Timestamp> {
    Some(to_timestamp(time))
}

fn ts_opt(time: Option<DateTime<Utc>>) -> Option<Timestamp> {
    time.map(to_timestamp)
}

pub fn survey_out(survey: &Survey, now: DateTime<Utc>) -> pb::Survey {
    let answer = survey.answer.as_ref();
    pb::Survey {
        id: survey.id.to_string(),
        order_id: survey.order_id.to_string(),
        customer_id: survey.customer_id.clone(),
        status: match survey.status_at(now) {
            crate::domain::survey::SurveyStatus::Scheduled => pb::SurveyStatus::Scheduled,
            crate::domain::survey::SurveyStatus::Invited => pb::SurveyStatus::Invited,
            crate::domain::survey::SurveyStatus::Submitted => pb::SurveyStatus::Submitted,
            crate::domain::survey::SurveyStatus::Expired => pb::SurveyStatus::Expired,
        }
        .into(),
        csat_score: answer.map(|a| a.csat.get()),
        nps_score: answer.and_then(|a| a.nps).map(|n| n.get()),
        comment: answer.map(|a| a.comment.clone()).unwrap_or_default(),
        invited_at: ts_opt(survey.invited_at),
        expires_at: ts_opt(survey.expires_at),
        submitted_at: ts_opt(survey.submitted_at),
        tags: answer
            .map(|a| a.tags.iter().map(|t| i32::from(survey_tag(*t))).collect())
            .unwrap_or_default(),
        order_number: survey.order_number.clone(),
        delivered_at: ts(survey.delivered_at),
        invite_at: ts(survey.invite_at),
    }
}

/// Who is looking: staff see moderation details and internal notes; others do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Staff,
    Public,
}

impl View {
    pub fn of(actor: &Actor) -> Self {
        if actor.is_staff() {
            Self::Staff
        } else {
            Self::Public
        }
    }
}

pub fn review_out(review: &Review, view: View) -> pb::Review {
    let staff = view == View::Staff;
    pb::Review {
        id: review.id.to_string(),
        sku: review.sku.clone(),
        order_id: review.order_id.to_string(),
        customer_id: review.customer_id.clone(),
        display_name: review.display_name.clone(),
        rating: review.rating.get(),
        title: review.title.clone(),
        body: review.body.clone(),
        status: match review.status {
            ReviewStatus::Pending => pb::ReviewStatus::Pending,
            ReviewStatus::Published => pb::ReviewStatus::Published,
            ReviewStatus::Rejected => pb::ReviewStatus::Rejected,
        }
        .into(),
        // A rejection's reason is for the author too; who moderated is not.
        moderation_note: review.moderation_note.clone(),
        moderated_by: if staff {
            review.moderated_by.clone()
        } else {
            String::new()
        },
        moderated_at: ts_opt(review.moderated_at),
        replies: review
            .replies
            .iter()
            .map(|r| pb::ReviewReply {
                id: r.id.to_string(),
                author_id: r.author_id.clone(),
                body: r.body.clone(),
                created_at: ts(r.created_at),
            })
            .collect(),
        created_at: ts(review.created_at),
        published_at: ts_opt(review.published_at),
        flags: if staff {
            review
                .flags
                .iter()
                .map(|f| {
                    i32::from(match f {
                        ReviewFlag::BlockedWord => pb::ReviewFlag::BlockedWord,
                        ReviewFlag::Link => pb::ReviewFlag::Link,
                    })
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn message_out(message: &CaseMessage) -> pb::CaseMessage {
    pb::CaseMessage {
        id: message.id.to_string(),
        author_id: message.author_id.clone(),
        author_type: match message.author_type {
            AuthorType::Customer => pb::CaseAuthorType::Customer,
            AuthorType::Agent => pb::CaseAuthorType::Agent,
            AuthorType::System => pb::CaseAuthorType::System,
        }
        .into(),
        body: message.body.clone(),
        internal: message.internal,
        created_at: ts(message.created_at),
    }
}

pub fn case_out(case: &Case, view: View) -> pb::SupportCase {
    pb::SupportCase {
        id: case.id.to_string(),
        case_number: case.number.clone(),
        order_id: case.order_id.map(|id| id.to_string()).unwrap_or_default(),
        customer_id: case.customer_id.clone(),
        kind: case_kind(case.kind).into(),
        problem_kind: problem_kind(case.problem_kind).into(),
        problem_id: case.problem_id.clone().unwrap_or_default(),
        subject: case.subject.clone(),
        description: case.description.clone(),
        status: match case.status {
            CaseStatus::Open => pb::CaseStatus::Open,
            CaseStatus::InProgress => pb::CaseStatus::InProgress,
            CaseStatus::WaitingOnCustomer => pb::CaseStatus::WaitingOnCustomer,
            CaseStatus::Resolved => pb::CaseStatus::Resolved,
        }
        .into(),
        priority: case_priority(case.priority).into(),
        lines: case.lines.iter().map(case_line).collect(),
        messages: case
            .messages
            .iter()
            // Internal notes are never shown to the customer.
            .filter(|m| view == View::Staff || !m.internal)
            .map(message_out)
            .collect(),
        assignee_id: case.assignee_id.clone().unwrap_or_default(),
        first_response_due_at: ts(case.first_response_due_at),
        resolve_due_at: ts(case.resolve_due_at),
        first_responded_at: ts_opt(case.first_responded_at),
        sla_breached: case.sla_breached(),
        resolution: resolution(case.resolution).into(),
        refund_amount: case.refund.as_ref().map(|r| Money {
            currency_code: r.currency.clone(),
            amount_minor: r.amount_minor,
        }),
        resolution_note: case.resolution_note.clone(),
        resolved_by: case.resolved_by.clone(),
        opened_at: ts(case.opened_at),
        updated_at: ts(case.updated_at),
        resolved_at: ts_opt(case.resolved_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_garbage_is_a_field_error() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let review = ReviewCursor {
            created_at: at,
            id: Uuid::now_v7(),
        };
        let mut v = FieldViolations::new();
        assert_eq!(review_cursor(&mut v, &review_token(review)), Some(review));
        let case = CaseCursor {
            resolved: true,
            next_due_at: at,
            id: Uuid::now_v7(),
        };
        assert_eq!(case_cursor(&mut v, &case_token(case)), Some(case));
        assert!(v.is_empty());
        assert_eq!(case_cursor(&mut v, "2~x~y"), None);
        assert_eq!(review_cursor(&mut v, "nonsense"), None);
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn actor_fields_default_to_the_caller_and_must_match_it() {
        let customer = Actor {
            id: "c-1".into(),
            roles: [runtime::Role::Customer].into(),
        };
        let mut v = FieldViolations::new();
        assert_eq!(acting_as(&mut v, &customer, "author_id", ""), "c-1");
        assert_eq!(customer_for(&mut v, &customer, "customer_id", "c-1"), "c-1");
        assert!(v.is_empty());
        acting_as(&mut v, &customer, "author_id", "c-2");
        customer_for(&mut v, &customer, "customer_id", "c-2");
        assert_eq!(v.len(), 2);
        let service = Actor {
            id: "svc".into(),
            roles: [runtime::Role::Service].into(),
        };
        let mut v = FieldViolations::new();
        assert_eq!(
            acting_as(&mut v, &service, "author_id", "agent-7"),
            "agent-7"
        );
        customer_for(&mut v, &service, "customer_id", "");
        assert_eq!(v.len(), 1, "staff must name the customer");
    }
}
