use contracts::common::{CaseResolution, Money, ProblemKind};
use contracts::feedback::{
    AddCaseMessageRequest, AssignCaseRequest, CaseAuthorType, CaseKind, CaseLine, CaseOpened,
    CasePriority, CaseResolved, CaseStatus, GetCaseRequest, ListCasesRequest, OpenCaseRequest,
    ResolveCaseRequest, SlaBreached, SlaKind, SupportCase,
};
use contracts::time::from_timestamp;
use tonic::Code;

use crate::helpers::{QUIET, TestApp, bad_fields, delivered, problem, request_id};

fn open(customer: &str, kind: CaseKind, priority: CasePriority) -> OpenCaseRequest {
    OpenCaseRequest {
        request_id: request_id(),
        order_id: String::new(),
        customer_id: customer.into(),
        kind: kind.into(),
        problem_kind: 0,
        subject: "Where is my parcel?".into(),
        description: "It was due on Monday.".into(),
        priority: priority.into(),
        lines: vec![],
    }
}

fn message(case: &SupportCase, author: CaseAuthorType, body: &str) -> AddCaseMessageRequest {
    AddCaseMessageRequest {
        request_id: request_id(),
        case_id: case.id.clone(),
        author_id: String::new(),
        author_type: author.into(),
        body: body.into(),
        internal: false,
        awaiting_customer: false,
    }
}

fn resolve(case: &SupportCase, resolution: CaseResolution) -> ResolveCaseRequest {
    ResolveCaseRequest {
        case_id: case.id.clone(),
        resolution: resolution.into(),
        refund_amount: None,
        lines: vec![],
        note: "Sorted".into(),
        resolved_by: "agent-1".into(),
    }
}

async fn timer_fire_at(
    app: &TestApp,
    kind: &str,
    case: &SupportCase,
) -> Option<chrono::DateTime<chrono::Utc>> {
    sqlx::query_scalar(
        "SELECT fire_at FROM oc_timers WHERE kind = $1 AND key = $2 AND fired_at IS NULL",
    )
    .bind(kind)
    .bind(&case.id)
    .fetch_optional(&app.feedback.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_reported_problem_opens_one_case_whose_resolution_is_published_for_orders() {
    let app = TestApp::start().await;
    let mut opened = app.env.tap("feedback.case.opened").await;
    let mut resolved = app.env.tap("feedback.case.resolved").await;
    let order = delivered("cust-1", &["POT-003", "TEA-001"]);
    let report = problem(&order);
    app.publish(&report).await;
    // The same report again under a new event id: still one case.
    app.publish(&report).await;

    let event: CaseOpened = opened.next().await;
    assert_eq!(event.order_id, order.order_id);
    assert_eq!(event.problem_id, report.problem_id);
    assert_eq!(event.kind(), CaseKind::ProblemReport);
    assert_eq!(event.problem_kind(), ProblemKind::DamagedItem);
    assert_eq!(event.priority(), CasePriority::High);
    assert!(event.case_number.starts_with("CS-"));
    assert!(opened.next_within(QUIET).await.is_none());
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 1);

    let mut client = app.client().await;
    let case = client
        .get_case(GetCaseRequest {
            id: event.case_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert_eq!(case.id, event.case_id);
    assert_eq!(case.customer_id, "cust-1");
    assert_eq!(case.status(), CaseStatus::Open);
    assert_eq!(case.lines.len(), 1);
    assert_eq!(case.messages.len(), 1);
    assert!(case.messages[0].body.contains("arrived cracked"));
    assert!(
        case.messages[0]
            .body
            .contains("https://img.example/crack.jpg")
    );

    let mut refund = resolve(&case, CaseResolution::Refund);
    refund.refund_amount = Some(Money {
        currency_code: "EUR".into(),
        amount_minor: 2599,
    });
    let done = client
        .resolve_case(refund.clone())
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert_eq!(done.status(), CaseStatus::Resolved);
    assert_eq!(done.resolution(), CaseResolution::Refund);
    let event: CaseResolved = resolved.next().await;
    assert_eq!(event.case_id, case.id);
    assert_eq!(event.order_id, order.order_id);
    assert_eq!(event.problem_id, report.problem_id);
    assert_eq!(event.resolution(), CaseResolution::Refund);
    assert_eq!(event.refund_amount.unwrap().amount_minor, 2599);
    assert_eq!(event.lines, case.lines, "defaults to the case's lines");
    assert_eq!(event.resolved_by, "agent-1");

    // Idempotent by state; a different resolution or more conversation is refused.
    client.resolve_case(refund).await.unwrap();
    assert_eq!(
        client
            .resolve_case(resolve(&case, CaseResolution::Reship))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    assert_eq!(
        client
            .add_case_message(message(&case, CaseAuthorType::Customer, "thanks"))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    assert!(resolved.next_within(QUIET).await.is_none());
    assert_eq!(
        app.count("SELECT count(*) FROM oc_timers WHERE fired_at IS NULL")
            .await,
        0,
        "a resolved case owes no deadline"
    );
}

#[tokio::test]
async fn missed_sla_deadlines_on_a_scaled_clock_are_breached_once_each() {
    let app = TestApp::scaled().await;
    let mut breached = app.env.tap("feedback.sla.breached").await;
    let mut client = app.client().await;
    let mut request = open("cust-1", CaseKind::DeliveryProblem, CasePriority::Urgent);
    request.order_id = uuid::Uuid::new_v4().to_string();
    let case = client
        .open_case(request)
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    let opened_at = from_timestamp(case.opened_at.as_ref().unwrap()).unwrap();
    assert_eq!(
        from_timestamp(case.first_response_due_at.as_ref().unwrap()).unwrap() - opened_at,
        chrono::Duration::hours(1)
    );

    let first: SlaBreached = breached.next().await;
    assert_eq!(first.case_id, case.id);
    assert_eq!(first.sla(), SlaKind::FirstResponse);
    assert_eq!(first.priority(), CasePriority::Urgent);
    assert_eq!(first.due_at, case.first_response_due_at);
    assert!(first.breached_at.as_ref().unwrap().seconds >= first.due_at.as_ref().unwrap().seconds);
    let second: SlaBreached = breached.next().await;
    assert_eq!(second.sla(), SlaKind::Resolution);
    assert_eq!(second.due_at, case.resolve_due_at);
    assert!(breached.next_within(QUIET).await.is_none());

    let now = client
        .get_case(GetCaseRequest {
            id: case.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert!(now.sla_breached);
    let mut resolved = app.env.tap("feedback.case.resolved").await;
    client
        .resolve_case(resolve(&case, CaseResolution::None))
        .await
        .unwrap();
    let event: CaseResolved = resolved.next().await;
    assert!(event.sla_breached);
}

#[tokio::test]
async fn an_agent_answer_meets_the_first_response_and_waiting_on_the_customer_pauses_resolution() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let case = client
        .open_case(open("cust-1", CaseKind::Inquiry, CasePriority::Normal))
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    let resolve_due = from_timestamp(case.resolve_due_at.as_ref().unwrap()).unwrap();
    assert_eq!(
        timer_fire_at(&app, "feedback.sla_resolution", &case).await,
        Some(resolve_due)
    );

    let mut note = message(&case, CaseAuthorType::Agent, "Checking with the carrier");
    note.internal = true;
    let after_note = client
        .add_case_message(note)
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert!(
        after_note.first_responded_at.is_none(),
        "a note is no answer"
    );
    assert!(
        timer_fire_at(&app, "feedback.sla_first_response", &case)
            .await
            .is_some()
    );

    let mut question = message(&case, CaseAuthorType::Agent, "Which address did you use?");
    question.awaiting_customer = true;
    let waiting = client
        .add_case_message(question.clone())
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert_eq!(waiting.status(), CaseStatus::WaitingOnCustomer);
    assert!(waiting.first_responded_at.is_some());
    assert!(
        timer_fire_at(&app, "feedback.sla_first_response", &case)
            .await
            .is_none()
    );
    assert!(
        timer_fire_at(&app, "feedback.sla_resolution", &case)
            .await
            .is_none(),
        "paused"
    );
    // A retried message is not added twice.
    client.add_case_message(question).await.unwrap();
    assert_eq!(
        app.count("SELECT count(*) FROM case_messages").await,
        3,
        "description, note, question"
    );

    let mut answer = message(&case, CaseAuthorType::Customer, "Unter den Linden 1");
    answer.author_id = "cust-1".into();
    let answered = client
        .add_case_message(answer)
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert_eq!(answered.status(), CaseStatus::InProgress);
    let moved = from_timestamp(answered.resolve_due_at.as_ref().unwrap()).unwrap();
    assert!(moved > resolve_due, "the deadline moved by the time waited");
    assert_eq!(
        timer_fire_at(&app, "feedback.sla_resolution", &case).await,
        Some(moved)
    );
}

#[tokio::test]
async fn cases_are_opened_assigned_listed_by_deadline_and_found_by_number() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let order = delivered("cust-1", &["TEA-001"]);
    app.publish(&order).await;
    app.wait_delivered(&order.order_id).await;

    let mut repair = open("cust-1", CaseKind::Repair, CasePriority::Low);
    repair.order_id = order.order_id.clone();
    repair.problem_kind = ProblemKind::DamagedItem.into();
    repair.lines = vec![CaseLine {
        line_id: "L1".into(),
        sku: "TEA-001".into(),
        quantity: 1,
    }];
    let low = client
        .open_case(repair.clone())
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    let replay = client
        .open_case(repair.clone())
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert_eq!(replay.id, low.id, "same request id, same case");
    repair.subject = "changed".into();
    assert_eq!(
        client.open_case(repair).await.unwrap_err().code(),
        Code::AlreadyExists
    );
    let urgent = client
        .open_case(open("cust-2", CaseKind::Complaint, CasePriority::Urgent))
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    let normal = client
        .open_case(open("cust-1", CaseKind::Other, CasePriority::Unspecified))
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert_eq!(normal.priority(), CasePriority::Normal);

    // Someone else's order cannot be named.
    let mut foreign = open("cust-2", CaseKind::Complaint, CasePriority::Normal);
    foreign.order_id = order.order_id.clone();
    assert_eq!(
        bad_fields(&client.open_case(foreign).await.unwrap_err()),
        ["order_id"]
    );

    let assigned = client
        .assign_case(AssignCaseRequest {
            case_id: normal.id.clone(),
            assignee_id: "agent-7".into(),
            assigned_by: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert_eq!(assigned.assignee_id, "agent-7");
    assert_eq!(assigned.status(), CaseStatus::InProgress);

    let list = |request: ListCasesRequest| {
        let mut client = client.clone();
        async move {
            let response = client.list_cases(request).await.unwrap().into_inner();
            (
                response.cases.into_iter().map(|c| c.id).collect::<Vec<_>>(),
                response.next_page_token,
            )
        }
    };
    let (all, _) = list(ListCasesRequest::default()).await;
    assert_eq!(
        all,
        [urgent.id.clone(), normal.id.clone(), low.id.clone()],
        "earliest deadline first"
    );
    let (first, token) = list(ListCasesRequest {
        page_size: 2,
        ..Default::default()
    })
    .await;
    let (rest, end) = list(ListCasesRequest {
        page_size: 2,
        page_token: token,
        ..Default::default()
    })
    .await;
    assert_eq!([first, rest].concat(), all);
    assert!(end.is_empty());
    assert_eq!(
        list(ListCasesRequest {
            customer_id: "cust-1".into(),
            ..Default::default()
        })
        .await
        .0,
        [normal.id.clone(), low.id.clone()]
    );
    assert_eq!(
        list(ListCasesRequest {
            assignee_id: "agent-7".into(),
            ..Default::default()
        })
        .await
        .0,
        std::slice::from_ref(&normal.id)
    );
    assert_eq!(
        list(ListCasesRequest {
            statuses: vec![CaseStatus::Open.into()],
            kind: CaseKind::Repair.into(),
            order_id: order.order_id.clone(),
            ..Default::default()
        })
        .await
        .0,
        std::slice::from_ref(&low.id)
    );

    let by_number = client
        .get_case(GetCaseRequest {
            id: low.case_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert_eq!(by_number.id, low.id);
    assert_eq!(by_number.problem_kind(), ProblemKind::DamagedItem);
}

#[tokio::test]
async fn invalid_case_requests_name_every_bad_field() {
    let app = TestApp::start().await;
    let mut client = app.client().await;
    let err = client
        .open_case(OpenCaseRequest {
            request_id: String::new(),
            order_id: "nope".into(),
            customer_id: "c-1".into(),
            kind: CaseKind::ProblemReport.into(),
            problem_kind: 77,
            subject: String::new(),
            description: String::new(),
            priority: 9,
            lines: vec![CaseLine {
                line_id: String::new(),
                sku: String::new(),
                quantity: 0,
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        [
            "request_id",
            "order_id",
            "kind",
            "problem_kind",
            "subject",
            "description",
            "priority",
            "lines[0].line_id",
            "lines[0].quantity"
        ]
    );
    let mut no_order = open("c-1", CaseKind::Inquiry, CasePriority::Normal);
    no_order.lines = vec![CaseLine {
        line_id: "L1".into(),
        sku: String::new(),
        quantity: 1,
    }];
    assert_eq!(
        bad_fields(&client.open_case(no_order).await.unwrap_err()),
        ["lines"]
    );

    let case = client
        .open_case(open("c-1", CaseKind::Inquiry, CasePriority::Normal))
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    let err = client
        .add_case_message(AddCaseMessageRequest {
            case_id: "x".into(),
            author_type: 12,
            internal: true,
            awaiting_customer: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        [
            "request_id",
            "case_id",
            "body",
            "author_type",
            "awaiting_customer"
        ]
    );

    let mut no_amount = resolve(&case, CaseResolution::Refund);
    no_amount.refund_amount = None;
    assert_eq!(
        bad_fields(&client.resolve_case(no_amount).await.unwrap_err()),
        ["refund_amount"]
    );
    let mut bad_amount = resolve(&case, CaseResolution::Refund);
    bad_amount.refund_amount = Some(Money {
        currency_code: "eur".into(),
        amount_minor: 0,
    });
    assert_eq!(
        bad_fields(&client.resolve_case(bad_amount).await.unwrap_err()),
        ["refund_amount.currency_code", "refund_amount.amount_minor"]
    );
    let mut amount_for_reship = resolve(&case, CaseResolution::Reship);
    amount_for_reship.refund_amount = Some(Money {
        currency_code: "EUR".into(),
        amount_minor: 5,
    });
    assert_eq!(
        bad_fields(&client.resolve_case(amount_for_reship).await.unwrap_err()),
        ["refund_amount"]
    );
    assert_eq!(
        bad_fields(
            &client
                .resolve_case(ResolveCaseRequest::default())
                .await
                .unwrap_err()
        ),
        ["case_id", "resolution"]
    );
    // A general inquiry has no order to refund, reship or take back.
    assert_eq!(
        client
            .resolve_case(resolve(&case, CaseResolution::Reship))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    assert_eq!(
        bad_fields(
            &client
                .list_cases(ListCasesRequest {
                    order_id: "x".into(),
                    statuses: vec![0],
                    kind: 99,
                    page_token: "zz".into(),
                    ..Default::default()
                })
                .await
                .unwrap_err()
        ),
        ["page_token", "order_id", "statuses[0]", "kind"]
    );
    assert_eq!(
        bad_fields(
            &client
                .get_case(GetCaseRequest { id: "42".into() })
                .await
                .unwrap_err()
        ),
        ["id"]
    );
    assert_eq!(
        bad_fields(
            &client
                .assign_case(AssignCaseRequest::default())
                .await
                .unwrap_err()
        ),
        ["case_id"]
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        client
            .get_case(GetCaseRequest {
                id: unknown.clone()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let mut to_unknown = message(&case, CaseAuthorType::Agent, "hello");
    to_unknown.case_id = unknown;
    assert_eq!(
        client
            .add_case_message(to_unknown)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
}
