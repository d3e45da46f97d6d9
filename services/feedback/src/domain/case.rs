//! Support cases: inquiries, complaints, repairs, delivery problems and orders' problem
//! reports, each with a conversation, an assignee, two SLA deadlines (first response and
//! resolution, from the [`SlaPolicy`] for its priority) and, at the end, a resolution that
//! orders may act on (refund, reship, return).
//!
//! SLA rules: an agent's first public message meets the first-response deadline (internal
//! notes do not count). While a case waits on the customer the resolution deadline pauses and
//! moves by the time waited once the customer answers. A deadline that passes unmet is
//! breached once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::survey::chrono_duration;
use super::text_enum;

text_enum!(
    CaseKind {
        ProblemReport = "PROBLEM_REPORT",
        Inquiry = "INQUIRY",
        Complaint = "COMPLAINT",
        Repair = "REPAIR",
        DeliveryProblem = "DELIVERY_PROBLEM",
        Other = "OTHER",
    }
);

text_enum!(
    CaseStatus {
        Open = "OPEN",
        InProgress = "IN_PROGRESS",
        WaitingOnCustomer = "WAITING_ON_CUSTOMER",
        Resolved = "RESOLVED",
    }
);

text_enum!(
    CasePriority {
        Low = "LOW",
        Normal = "NORMAL",
        High = "HIGH",
        Urgent = "URGENT",
    }
);

text_enum!(
    AuthorType {
        Customer = "CUSTOMER",
        Agent = "AGENT",
        System = "SYSTEM",
    }
);

text_enum!(
    ProblemKind {
        MissingItem = "MISSING_ITEM",
        DamagedItem = "DAMAGED_ITEM",
        WrongItem = "WRONG_ITEM",
        Other = "OTHER",
    }
);

text_enum!(
    Resolution {
        Refund = "REFUND",
        Reship = "RESHIP",
        Return = "RETURN",
        Nothing = "NONE",
    }
);

text_enum!(
    SlaKind {
        FirstResponse = "FIRST_RESPONSE",
        Resolution = "RESOLUTION",
    }
);

pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_LINES: usize = 200;

impl CasePriority {
    /// Position in per-priority tables.
    pub fn index(self) -> usize {
        match self {
            Self::Low => 0,
            Self::Normal => 1,
            Self::High => 2,
            Self::Urgent => 3,
        }
    }
}

/// How long agents have, per priority, to answer a case and to resolve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    first_response: [Duration; 4],
    resolution: [Duration; 4],
}

impl SlaPolicy {
    /// Both tables indexed by [`CasePriority::index`].
    pub fn new(first_response: [Duration; 4], resolution: [Duration; 4]) -> Self {
        Self {
            first_response,
            resolution,
        }
    }

    pub fn uniform(first_response: Duration, resolution: Duration) -> Self {
        Self::new([first_response; 4], [resolution; 4])
    }

    pub fn first_response(&self, priority: CasePriority) -> Duration {
        self.first_response[priority.index()]
    }

    pub fn resolution(&self, priority: CasePriority) -> Duration {
        self.resolution[priority.index()]
    }
}

/// Units of one order line a case is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: i32,
}

/// An amount to refund, in minor units of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub currency: String,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseMessage {
    pub id: Uuid,
    pub author_id: String,
    pub author_type: AuthorType,
    pub body: String,
    pub internal: bool,
    pub created_at: DateTime<Utc>,
}

/// A validated request to open a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCase {
    pub order_id: Option<Uuid>,
    pub customer_id: String,
    pub kind: CaseKind,
    pub problem_kind: Option<ProblemKind>,
    /// Orders' problem id, for cases opened from a problem report.
    pub problem_id: Option<String>,
    pub subject: String,
    pub description: String,
    pub priority: CasePriority,
    pub lines: Vec<CaseLine>,
    /// Who wrote the description (the case's first message).
    pub opened_by: String,
    pub opened_by_type: AuthorType,
}

/// A validated message to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub author_id: String,
    pub author_type: AuthorType,
    pub body: String,
    pub internal: bool,
    /// An agent's question: the case waits on the customer.
    pub awaiting_customer: bool,
}

/// A validated resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    pub resolution: Resolution,
    pub refund: Option<Refund>,
    /// Empty: the case's own lines.
    pub lines: Vec<CaseLine>,
    pub note: String,
    pub resolved_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub id: Uuid,
    pub number: String,
    pub order_id: Option<Uuid>,
    pub customer_id: String,
    pub kind: CaseKind,
    pub problem_kind: Option<ProblemKind>,
    pub problem_id: Option<String>,
    pub subject: String,
    pub description: String,
    pub status: CaseStatus,
    pub priority: CasePriority,
    pub lines: Vec<CaseLine>,
    pub messages: Vec<CaseMessage>,
    pub assignee_id: Option<String>,
    pub first_response_due_at: DateTime<Utc>,
    pub resolve_due_at: DateTime<Utc>,
    pub first_responded_at: Option<DateTime<Utc>>,
    /// Set while the case waits on the customer (the resolution deadline is paused).
    pub resolve_paused_at: Option<DateTime<Utc>>,
    pub first_response_breached: bool,
    pub resolution_breached: bool,
    pub resolution: Option<Resolution>,
    pub refund: Option<Refund>,
    pub resolution_lines: Vec<CaseLine>,
    pub resolution_note: String,
    pub resolved_by: String,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    #[error("the case is resolved; it takes no more changes")]
    Resolved,
    #[error("the case was already resolved with resolution {}", .0.as_str())]
    ResolvedOtherwise(Resolution),
    #[error("resolution {} needs a case about an order", .0.as_str())]
    NeedsOrder(Resolution),
}

/// What adding a message changed about the SLA timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageEffects {
    /// The first-response deadline is met: its timer can go.
    pub first_response_met: bool,
    /// The case now waits on the customer: the resolution timer pauses.
    pub paused: bool,
    /// The customer answered: the resolution timer runs again, to the moved deadline.
    pub resumed: bool,
}

/// What [`Case::resolve`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    Now,
    /// Resolved before with the same resolution.
    Already,
}

impl Case {
    /// A new case with its deadlines from `policy` and its description as the first message.
    pub fn open(
        new: NewCase,
        id: Uuid,
        number: String,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
    ) -> Self {
        let first_message = CaseMessage {
            id: Uuid::now_v7(),
            author_id: new.opened_by,
            author_type: new.opened_by_type,
            body: new.description.clone(),
            internal: false,
            created_at: now,
        };
        Self {
            id,
            number,
            order_id: new.order_id,
            customer_id: new.customer_id,
            kind: new.kind,
            problem_kind: new.problem_kind,
            problem_id: new.problem_id,
            subject: new.subject,
            description: new.description,
            status: CaseStatus::Open,
            priority: new.priority,
            lines: new.lines,
            messages: vec![first_message],
            assignee_id: None,
            first_response_due_at: now + chrono_duration(policy.first_response(new.priority)),
            resolve_due_at: now + chrono_duration(policy.resolution(new.priority)),
            first_responded_at: None,
            resolve_paused_at: None,
            first_response_breached: false,
            resolution_breached: false,
            resolution: None,
            refund: None,
            resolution_lines: Vec::new(),
            resolution_note: String::new(),
            resolved_by: String::new(),
            opened_at: now,
            updated_at: now,
            resolved_at: None,
        }
    }

    pub fn sla_breached(&self) -> bool {
        self.first_response_breached || self.resolution_breached
    }

    /// The deadline that matters next (what queues sort by): the first response while it is
    /// owed, else the resolution.
    pub fn next_due_at(&self) -> DateTime<Utc> {
        if self.status != CaseStatus::Resolved && self.first_responded_at.is_none() {
            self.first_response_due_at.min(self.resolve_due_at)
        } else {
            self.resolve_due_at
        }
    }

    /// Adds `message` (with id `id`) and applies what it means for the status and the SLAs.
    pub fn add_message(
        &mut self,
        message: NewMessage,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<MessageEffects, CaseError> {
        if self.status == CaseStatus::Resolved {
            return Err(CaseError::Resolved);
        }
        let mut effects = MessageEffects::default();
        match message.author_type {
            AuthorType::Agent if !message.internal => {
                if self.first_responded_at.is_none() {
                    self.first_responded_at = Some(now);
                    effects.first_response_met = true;
                }
                if message.awaiting_customer {
                    if self.resolve_paused_at.is_none() {
                        self.resolve_paused_at = Some(now);
                        effects.paused = true;
                    }
                    self.status = CaseStatus::WaitingOnCustomer;
                } else {
                    effects.resumed = self.resume(now);
                    self.status = CaseStatus::InProgress;
                }
            }
            AuthorType::Customer => {
                if self.status == CaseStatus::WaitingOnCustomer {
                    effects.resumed = self.resume(now);
                    self.status = CaseStatus::InProgress;
                }
            }
            AuthorType::Agent | AuthorType::System => {}
        }
        self.messages.push(CaseMessage {
            id,
            author_id: message.author_id,
            author_type: message.author_type,
            body: message.body,
            internal: message.internal,
            created_at: now,
        });
        self.updated_at = now;
        Ok(effects)
    }

    /// Ends a pause: the resolution deadline moves by the time waited.
    fn resume(&mut self, now: DateTime<Utc>) -> bool {
        match self.resolve_paused_at.take() {
            Some(paused) => {
                if !self.resolution_breached {
                    self.resolve_due_at += now - paused;
                }
                true
            }
            None => false,
        }
    }

    /// Hands the case to `assignee` (None unassigns); true if anything changed. An assigned
    /// open case is being worked on.
    pub fn assign(
        &mut self,
        assignee: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<bool, CaseError> {
        if self.status == CaseStatus::Resolved {
            return Err(CaseError::Resolved);
        }
        if self.assignee_id == assignee {
            return Ok(false);
        }
        if assignee.is_some() && self.status == CaseStatus::Open {
            self.status = CaseStatus::InProgress;
        }
        self.assignee_id = assignee;
        self.updated_at = now;
        Ok(true)
    }

    /// Resolves the case. Idempotent by state: the same resolution again changes nothing.
    pub fn resolve(&mut self, resolve: Resolve, now: DateTime<Utc>) -> Result<Resolved, CaseError> {
        if let Some(done) = self.resolution {
            return if done == resolve.resolution {
                Ok(Resolved::Already)
            } else {
                Err(CaseError::ResolvedOtherwise(done))
            };
        }
        if self.order_id.is_none() && resolve.resolution != Resolution::Nothing {
            return Err(CaseError::NeedsOrder(resolve.resolution));
        }
        self.status = CaseStatus::Resolved;
        self.resolution = Some(resolve.resolution);
        self.refund = resolve.refund;
        self.resolution_lines = if resolve.lines.is_empty() {
            self.lines.clone()
        } else {
            resolve.lines
        };
        self.resolution_note = resolve.note;
        self.resolved_by = resolve.resolved_by;
        self.resolve_paused_at = None;
        self.resolved_at = Some(now);
        self.updated_at = now;
        Ok(Resolved::Now)
    }

    /// Marks `sla` breached if, at `now`, its deadline has passed unmet and was not marked
    /// before; returns the deadline that was missed.
    pub fn breach(&mut self, sla: SlaKind, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.status == CaseStatus::Resolved {
            return None;
        }
        let due = match sla {
            SlaKind::FirstResponse
                if !self.first_response_breached && self.first_responded_at.is_none() =>
            {
                self.first_response_due_at
            }
            SlaKind::Resolution
                if !self.resolution_breached && self.resolve_paused_at.is_none() =>
            {
                self.resolve_due_at
            }
            _ => return None,
        };
        if now < due {
            return None;
        }
        match sla {
            SlaKind::FirstResponse => self.first_response_breached = true,
            SlaKind::Resolution => self.resolution_breached = true,
        }
        self.updated_at = now;
        Some(due)
    }
}

/// `CS-2026-000077`.
pub fn case_number(year: i32, sequence: i64) -> String {
    format!("CS-{year}-{sequence:06}")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn policy() -> SlaPolicy {
        SlaPolicy::uniform(Duration::from_secs(100), Duration::from_secs(1000))
    }

    fn case(order: bool) -> Case {
        Case::open(
            NewCase {
                order_id: order.then(Uuid::nil),
                customer_id: "c-1".into(),
                kind: CaseKind::Complaint,
                problem_kind: None,
                problem_id: None,
                subject: "Late".into(),
                description: "Where is it?".into(),
                priority: CasePriority::Normal,
                lines: vec![CaseLine {
                    line_id: "L1".into(),
                    sku: "TEA".into(),
                    quantity: 1,
                }],
                opened_by: "c-1".into(),
                opened_by_type: AuthorType::Customer,
            },
            Uuid::nil(),
            case_number(2026, 7),
            &policy(),
            t(0),
        )
    }

    fn msg(author_type: AuthorType, internal: bool, awaiting_customer: bool) -> NewMessage {
        NewMessage {
            author_id: "a".into(),
            author_type,
            body: "…".into(),
            internal,
            awaiting_customer,
        }
    }

    fn resolve(resolution: Resolution) -> Resolve {
        Resolve {
            resolution,
            refund: None,
            lines: vec![],
            note: String::new(),
            resolved_by: "agent".into(),
        }
    }

    #[test]
    fn a_new_case_has_both_deadlines_and_its_description_as_first_message() {
        let c = case(true);
        assert_eq!(c.number, "CS-2026-000007");
        assert_eq!(c.first_response_due_at, t(100));
        assert_eq!(c.resolve_due_at, t(1000));
        assert_eq!(c.next_due_at(), t(100));
        assert_eq!(c.messages.len(), 1);
        assert_eq!(c.status, CaseStatus::Open);
    }

    #[test]
    fn an_internal_note_is_not_a_first_response_but_a_public_answer_is() {
        let mut c = case(true);
        let e = c
            .add_message(msg(AuthorType::Agent, true, false), Uuid::nil(), t(10))
            .unwrap();
        assert!(!e.first_response_met);
        assert_eq!(c.status, CaseStatus::Open);
        let e = c
            .add_message(msg(AuthorType::Agent, false, false), Uuid::nil(), t(20))
            .unwrap();
        assert!(e.first_response_met);
        assert_eq!(c.status, CaseStatus::InProgress);
        assert_eq!(c.breach(SlaKind::FirstResponse, t(500)), None);
        assert_eq!(c.next_due_at(), t(1000));
    }

    #[test]
    fn waiting_on_the_customer_pauses_the_resolution_deadline() {
        let mut c = case(true);
        let e = c
            .add_message(msg(AuthorType::Agent, false, true), Uuid::nil(), t(50))
            .unwrap();
        assert!(e.paused && e.first_response_met);
        assert_eq!(c.status, CaseStatus::WaitingOnCustomer);
        assert_eq!(c.breach(SlaKind::Resolution, t(5000)), None, "paused");
        let e = c
            .add_message(msg(AuthorType::Customer, false, false), Uuid::nil(), t(450))
            .unwrap();
        assert!(e.resumed);
        assert_eq!(c.status, CaseStatus::InProgress);
        assert_eq!(c.resolve_due_at, t(1400));
        assert_eq!(c.breach(SlaKind::Resolution, t(1399)), None);
        assert_eq!(c.breach(SlaKind::Resolution, t(1400)), Some(t(1400)));
        assert_eq!(c.breach(SlaKind::Resolution, t(1500)), None, "once");
        assert!(c.sla_breached());
    }

    #[test]
    fn a_missed_first_response_is_breached_once() {
        let mut c = case(true);
        assert_eq!(c.breach(SlaKind::FirstResponse, t(99)), None);
        assert_eq!(c.breach(SlaKind::FirstResponse, t(100)), Some(t(100)));
        assert_eq!(c.breach(SlaKind::FirstResponse, t(101)), None);
    }

    #[test]
    fn resolving_is_final_and_idempotent_by_state() {
        let mut c = case(true);
        assert_eq!(
            c.resolve(resolve(Resolution::Reship), t(5)),
            Ok(Resolved::Now)
        );
        assert_eq!(c.resolution_lines, c.lines, "defaults to the case's lines");
        assert_eq!(
            c.resolve(resolve(Resolution::Reship), t(6)),
            Ok(Resolved::Already)
        );
        assert_eq!(
            c.resolve(resolve(Resolution::Refund), t(6)),
            Err(CaseError::ResolvedOtherwise(Resolution::Reship))
        );
        assert_eq!(
            c.add_message(msg(AuthorType::Customer, false, false), Uuid::nil(), t(7)),
            Err(CaseError::Resolved)
        );
        assert_eq!(c.breach(SlaKind::FirstResponse, t(5000)), None);
        assert_eq!(c.assign(Some("a".into()), t(8)), Err(CaseError::Resolved));
    }

    #[test]
    fn only_a_case_about_an_order_can_be_refunded_reshipped_or_returned() {
        let mut c = case(false);
        assert_eq!(
            c.resolve(resolve(Resolution::Refund), t(5)),
            Err(CaseError::NeedsOrder(Resolution::Refund))
        );
        assert_eq!(
            c.resolve(resolve(Resolution::Nothing), t(5)),
            Ok(Resolved::Now)
        );
    }

    #[test]
    fn assigning_an_open_case_puts_it_in_progress() {
        let mut c = case(true);
        assert_eq!(c.assign(Some("agent-1".into()), t(1)), Ok(true));
        assert_eq!(c.status, CaseStatus::InProgress);
        assert_eq!(c.assign(Some("agent-1".into()), t(2)), Ok(false));
        assert_eq!(c.assign(None, t(3)), Ok(true));
        assert_eq!(c.assignee_id, None);
    }

    proptest! {
        /// Whatever messages arrive, a breach is reported at most once per deadline and never
        /// for a met or paused one.
        #[test]
        fn breaches_are_reported_at_most_once(steps in proptest::collection::vec((0u8..4, 0i64..300), 0..30)) {
            let mut c = case(true);
            let mut now = 0;
            let mut reported = [0; 2];
            for (step, wait) in steps {
                now += wait;
                match step {
                    0 => { let _ = c.add_message(msg(AuthorType::Agent, false, true), Uuid::nil(), t(now)); }
                    1 => { let _ = c.add_message(msg(AuthorType::Customer, false, false), Uuid::nil(), t(now)); }
                    2 => if c.breach(SlaKind::FirstResponse, t(now)).is_some() { reported[0] += 1 },
                    _ => if c.breach(SlaKind::Resolution, t(now)).is_some() {
                        prop_assert!(c.resolve_paused_at.is_none());
                        reported[1] += 1
                    },
                }
            }
            prop_assert!(reported[0] <= 1 && reported[1] <= 1);
            if c.first_responded_at.is_some_and(|r| r <= c.first_response_due_at) {
                prop_assert_eq!(reported[0], 0);
            }
        }
    }
}
