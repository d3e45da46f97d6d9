//! OpenCase, AddCaseMessage, AssignCase, ResolveCase, ListCases, GetCase.

use contracts::feedback::{
    AddCaseMessageRequest, AssignCaseRequest, ListCasesRequest, OpenCaseRequest, ResolveCaseRequest,
};
use runtime::grpc::FieldViolations;
use runtime::{Actor, Role};
use uuid::Uuid;

use super::convert::{self, MAX_ID_CHARS, text};
use super::{FeedbackApi, request_hash};
use crate::domain::case::{
    AuthorType, Case, CaseKind, CasePriority, MAX_SUBJECT_CHARS, MAX_TEXT_CHARS, NewCase,
    NewMessage, Refund, Resolution, Resolve, Resolved,
};
use crate::error::Error;
use crate::outgoing;
use crate::store::cases::{CaseCursor, CaseFilter, CaseKey};
use crate::store::{self, request_ids::Claim};
use crate::timers::sla;

const OPEN: &str = "OpenCase";
const MESSAGE: &str = "AddCaseMessage";
const MAX_NOTE_CHARS: usize = 4000;

fn new_case(actor: &Actor, r: &OpenCaseRequest) -> Result<(String, NewCase), FieldViolations> {
    let mut v = FieldViolations::new();
    let request_id = text(&mut v, "request_id", &r.request_id, true, MAX_ID_CHARS);
    let order_id = convert::uuid(&mut v, "order_id", &r.order_id, false);
    let customer_id = convert::customer_for(&mut v, actor, "customer_id", &r.customer_id);
    let kind = match convert::case_kind_in(r.kind) {
        None => {
            v.add("kind", "must be a CaseKind other than UNSPECIFIED");
            None
        }
        Some(CaseKind::ProblemReport) => {
            v.add(
                "kind",
                "problem reports are opened through orders' ReportProblem, not OpenCase",
            );
            None
        }
        Some(kind) => Some(kind),
    };
    let problem_kind = convert::problem_kind_in(r.problem_kind).unwrap_or_else(|()| {
        v.add("problem_kind", "must be a known ProblemKind");
        None
    });
    let subject = text(&mut v, "subject", &r.subject, true, MAX_SUBJECT_CHARS);
    let description = text(&mut v, "description", &r.description, true, MAX_TEXT_CHARS);
    let priority = convert::case_priority_in(r.priority).unwrap_or_else(|()| {
        v.add("priority", "must be a known CasePriority");
        None
    });
    let lines = convert::case_lines(&mut v, "lines", &r.lines);
    if !lines.is_empty() && r.order_id.trim().is_empty() {
        v.add("lines", "lines need the order_id they belong to");
    }
    match kind {
        Some(kind) if v.is_empty() => Ok((
            request_id,
            NewCase {
                order_id,
                opened_by: actor.id.clone(),
                opened_by_type: if actor.is_staff() {
                    AuthorType::Agent
                } else {
                    AuthorType::Customer
                },
                customer_id,
                kind,
                problem_kind,
                problem_id: None,
                subject,
                description,
                priority: priority.unwrap_or(CasePriority::Normal),
                lines,
            },
        )),
        _ => Err(v),
    }
}

fn new_message(
    actor: &Actor,
    r: &AddCaseMessageRequest,
) -> Result<(String, Uuid, NewMessage), Error> {
    let mut v = FieldViolations::new();
    let request_id = text(&mut v, "request_id", &r.request_id, true, MAX_ID_CHARS);
    let case_id = convert::uuid(&mut v, "case_id", &r.case_id, true);
    let author_id = convert::acting_as(&mut v, actor, "author_id", &r.author_id);
    let body = text(&mut v, "body", &r.body, true, MAX_TEXT_CHARS);
    let requested = convert::author_type_in(r.author_type).unwrap_or_else(|()| {
        v.add("author_type", "must be a known CaseAuthorType");
        None
    });
    if r.internal && r.awaiting_customer {
        v.add(
            "awaiting_customer",
            "an internal note cannot ask the customer anything",
        );
    }
    let Some(case_id) = case_id.filter(|_| v.is_empty()) else {
        return Err(v.into());
    };
    let author_type = requested.unwrap_or(if actor.is_staff() {
        AuthorType::Agent
    } else {
        AuthorType::Customer
    });
    // Who may write as whom: customers as themselves; agents as agents; a service relays for
    // anyone (a chat integration, the platform itself).
    let allowed = match author_type {
        AuthorType::Customer => !actor.is_staff() || actor.has(Role::Service),
        AuthorType::Agent => actor.is_staff(),
        AuthorType::System => actor.has(Role::Service),
    };
    if !allowed {
        return Err(Error::PermissionDenied(format!(
            "the caller may not write as {}",
            author_type.as_str().to_lowercase()
        )));
    }
    if author_type != AuthorType::Agent && (r.internal || r.awaiting_customer) {
        return Err(Error::PermissionDenied(
            "only agents write internal notes or put a case on hold for the customer".into(),
        ));
    }
    Ok((
        request_id,
        case_id,
        NewMessage {
            author_id,
            author_type,
            body,
            internal: r.internal,
            awaiting_customer: r.awaiting_customer,
        },
    ))
}

fn resolve_command(
    actor: &Actor,
    r: &ResolveCaseRequest,
) -> Result<(Uuid, Resolve), FieldViolations> {
    let mut v = FieldViolations::new();
    let case_id = convert::uuid(&mut v, "case_id", &r.case_id, true);
    let resolution = convert::resolution_in(r.resolution);
    if resolution.is_none() {
        v.add("resolution", "must be REFUND, RESHIP, RETURN or NONE");
    }
    let refund = match (resolution, &r.refund_amount) {
        (Some(Resolution::Refund), None) => {
            v.add("refund_amount", "is required for CASE_RESOLUTION_REFUND");
            None
        }
        (Some(Resolution::Refund), Some(money)) => {
            if !convert::is_currency(&money.currency_code) {
                v.add(
                    "refund_amount.currency_code",
                    "must be an ISO 4217 code of three upper-case letters",
                );
            }
            if money.amount_minor <= 0 {
                v.add("refund_amount.amount_minor", "must be positive");
            }
            Some(Refund {
                currency: money.currency_code.clone(),
                amount_minor: money.amount_minor,
            })
        }
        (_, Some(_)) => {
            v.add("refund_amount", "is only for CASE_RESOLUTION_REFUND");
            None
        }
        (_, None) => None,
    };
    let lines = convert::case_lines(&mut v, "lines", &r.lines);
    let note = text(&mut v, "note", &r.note, false, MAX_NOTE_CHARS);
    let resolved_by = convert::acting_as(&mut v, actor, "resolved_by", &r.resolved_by);
    match (case_id, resolution) {
        (Some(case_id), Some(resolution)) if v.is_empty() => Ok((
            case_id,
            Resolve {
                resolution,
                refund,
                lines,
                note,
                resolved_by,
            },
        )),
        _ => Err(v),
    }
}

impl FeedbackApi {
    pub(super) async fn case_open(
        &self,
        actor: &Actor,
        request: OpenCaseRequest,
    ) -> Result<Case, Error> {
        let hash = request_hash(actor, &request);
        let (request_id, new) = new_case(actor, &request)?;
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        match store::request_ids::claim(&mut tx, OPEN, &request_id, &hash, now).await? {
            Claim::Conflict => {
                return Err(Error::AlreadyExists(format!(
                    "request_id {request_id} was already used for a different request"
                )));
            }
            Claim::Replay(id) => {
                let id = id.ok_or_else(|| Error::NotFound("case".into()))?;
                return self
                    .case_visible(&mut tx, actor, CaseKey::Id(id), &id.to_string())
                    .await;
            }
            Claim::New => {}
        }
        if let Some(order_id) = new.order_id
            && let Some(owner) = store::orders::customer_of(&mut tx, order_id).await?
            && owner != new.customer_id
        {
            return Err(Error::field(
                "order_id",
                format!("is not an order of customer {}", new.customer_id),
            ));
        }
        let number = store::cases::next_number(&mut tx, now).await?;
        let case = Case::open(new, Uuid::now_v7(), number, &self.config.sla, now);
        store::cases::insert(&mut tx, &case).await?;
        sla::schedule_new(&mut tx, &case).await?;
        self.outbox
            .append(&mut tx, &outgoing::case_opened(&case))
            .await?;
        store::request_ids::complete(&mut tx, OPEN, &request_id, case.id).await?;
        self.outbox.commit(tx).await?;
        tracing::info!(case_id = %case.id, case_number = %case.number, "case opened");
        Ok(case)
    }

    pub(super) async fn case_add_message(
        &self,
        actor: &Actor,
        request: AddCaseMessageRequest,
    ) -> Result<Case, Error> {
        let hash = request_hash(actor, &request);
        let (request_id, case_id, message) = new_message(actor, &request)?;
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        match store::request_ids::claim(&mut tx, MESSAGE, &request_id, &hash, now).await? {
            Claim::Conflict => {
                return Err(Error::AlreadyExists(format!(
                    "request_id {request_id} was already used for a different request"
                )));
            }
            Claim::Replay(_) => {
                return self
                    .case_visible(&mut tx, actor, CaseKey::Id(case_id), &request.case_id)
                    .await;
            }
            Claim::New => {}
        }
        let mut case = store::cases::get_for_update(&mut tx, CaseKey::Id(case_id))
            .await?
            .filter(|c| actor.may_access_customer(&c.customer_id))
            .ok_or_else(|| Error::NotFound(format!("case {case_id}")))?;
        let message_id = Uuid::now_v7();
        let effects = case.add_message(message, message_id, now)?;
        store::cases::save(&mut tx, &case).await?;
        if let Some(added) = case.messages.last() {
            store::cases::insert_message(&mut tx, case.id, added).await?;
        }
        sla::follow_message(&mut tx, &case, effects).await?;
        store::request_ids::complete(&mut tx, MESSAGE, &request_id, message_id).await?;
        tx.commit().await?;
        Ok(case)
    }

    pub(super) async fn case_assign(
        &self,
        actor: &Actor,
        request: &AssignCaseRequest,
    ) -> Result<Case, Error> {
        let mut v = FieldViolations::new();
        let case_id = convert::uuid(&mut v, "case_id", &request.case_id, true);
        let assignee = text(
            &mut v,
            "assignee_id",
            &request.assignee_id,
            false,
            MAX_ID_CHARS,
        );
        convert::acting_as(&mut v, actor, "assigned_by", &request.assigned_by);
        let Some(case_id) = case_id.filter(|_| v.is_empty()) else {
            return Err(v.into());
        };
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let mut case = store::cases::get_for_update(&mut tx, CaseKey::Id(case_id))
            .await?
            .ok_or_else(|| Error::NotFound(format!("case {case_id}")))?;
        if case.assign((!assignee.is_empty()).then_some(assignee), now)? {
            store::cases::save(&mut tx, &case).await?;
            tx.commit().await?;
        }
        Ok(case)
    }

    pub(super) async fn case_resolve(
        &self,
        actor: &Actor,
        request: &ResolveCaseRequest,
    ) -> Result<Case, Error> {
        let (case_id, resolve) = resolve_command(actor, request)?;
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let mut case = store::cases::get_for_update(&mut tx, CaseKey::Id(case_id))
            .await?
            .ok_or_else(|| Error::NotFound(format!("case {case_id}")))?;
        if case.resolve(resolve, now)? == Resolved::Already {
            return Ok(case);
        }
        store::cases::save(&mut tx, &case).await?;
        sla::cancel_all(&mut tx, &case).await?;
        self.outbox
            .append(&mut tx, &outgoing::case_resolved(&case))
            .await?;
        self.outbox.commit(tx).await?;
        tracing::info!(
            case_id = %case.id,
            resolution = case.resolution.map_or("", Resolution::as_str),
            "case resolved"
        );
        Ok(case)
    }

    pub(super) async fn case_list(
        &self,
        actor: &Actor,
        request: &ListCasesRequest,
    ) -> Result<(Vec<Case>, String), Error> {
        let mut v = FieldViolations::new();
        let limit = convert::page_size(&mut v, request.page_size);
        let after = convert::case_cursor(&mut v, &request.page_token);
        let order_id = convert::uuid(&mut v, "order_id", &request.order_id, false);
        let customer_id = text(
            &mut v,
            "customer_id",
            &request.customer_id,
            false,
            MAX_ID_CHARS,
        );
        let assignee_id = text(
            &mut v,
            "assignee_id",
            &request.assignee_id,
            false,
            MAX_ID_CHARS,
        );
        let mut statuses = Vec::new();
        for (i, raw) in request.statuses.iter().enumerate() {
            match convert::case_status_in(*raw) {
                Some(status) => statuses.push(status),
                None => v.add(format!("statuses[{i}]"), "must be a known CaseStatus"),
            }
        }
        let kind = if request.kind == 0 {
            None
        } else {
            let kind = convert::case_kind_in(request.kind);
            if kind.is_none() {
                v.add("kind", "must be a known CaseKind");
            }
            kind
        };
        if !v.is_empty() {
            return Err(v.into());
        }
        let customer_id = if actor.is_staff() {
            (!customer_id.is_empty()).then_some(customer_id)
        } else {
            // Customers always get only theirs, whatever they asked for.
            Some(actor.id.clone())
        };
        let filter = CaseFilter {
            order_id,
            customer_id,
            statuses,
            assignee_id: (!assignee_id.is_empty()).then_some(assignee_id),
            kind,
        };
        let mut conn = self.pool.acquire().await?;
        let mut cases = store::cases::list(&mut conn, &filter, after, limit + 1).await?;
        let next = if cases.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
            cases.truncate(cases.len() - 1);
            cases
                .last()
                .map(|c| convert::case_token(CaseCursor::after(c)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok((cases, next))
    }

    pub(super) async fn case_get(&self, actor: &Actor, id: &str) -> Result<Case, Error> {
        let id = id.trim();
        let key = match Uuid::parse_str(id) {
            Ok(uuid) => CaseKey::Id(uuid),
            Err(_) if id.starts_with("CS-") => CaseKey::Number(id),
            Err(_) => {
                return Err(Error::field(
                    "id",
                    "must be a case id (UUID) or a case number (CS-…)",
                ));
            }
        };
        let mut conn = self.pool.acquire().await?;
        self.case_visible(&mut conn, actor, key, id).await
    }

    async fn case_visible(
        &self,
        conn: &mut sqlx::PgConnection,
        actor: &Actor,
        key: CaseKey<'_>,
        shown: &str,
    ) -> Result<Case, Error> {
        // A customer asking for someone else's case learns nothing, not even that it exists.
        store::cases::get(conn, key)
            .await?
            .filter(|c| actor.may_access_customer(&c.customer_id))
            .ok_or_else(|| Error::NotFound(format!("case {shown}")))
    }
}
