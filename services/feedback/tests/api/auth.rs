//! Who may do what, with JWT authentication on: customers see and act on only their own
//! surveys and cases; moderation, replies, assignment and resolution are for staff.

use contracts::feedback::feedback_service_client::FeedbackServiceClient;
use contracts::feedback::{
    AddCaseMessageRequest, AssignCaseRequest, CaseAuthorType, CaseKind, GetCaseRequest,
    GetRatingSummaryRequest, GetSurveyRequest, ListCasesRequest, ListReviewsRequest,
    ModerateReviewRequest, ModerationDecision, OpenCaseRequest, ReplyToReviewRequest,
    ResolveCaseRequest, ReviewStatus, SubmitReviewRequest, SubmitSurveyRequest,
};
use runtime::config::{AuthSettings, JwtKey, JwtSettings};
use testkit::TestEnv;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use crate::helpers::{TestApp, bad_fields, delivered, request_id};

const SECRET: &[u8] = b"feedback-test-secret";

fn token(sub: &str, roles: &[&str]) -> String {
    let claims = serde_json::json!({
        "sub": sub,
        "roles": roles,
        "exp": chrono::Utc::now().timestamp() + 600,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

fn as_<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

async fn app_with_jwt() -> TestApp {
    let env = TestEnv::with(|s| {
        s.auth = AuthSettings::Jwt(JwtSettings {
            key: JwtKey::Secret(SECRET.to_vec()),
            issuer: None,
            audience: None,
        });
    })
    .await;
    let feedback = env.start(&feedback::SERVICE).await;
    TestApp { env, feedback }
}

fn open_case(customer_id: &str) -> OpenCaseRequest {
    OpenCaseRequest {
        request_id: request_id(),
        customer_id: customer_id.into(),
        kind: CaseKind::Inquiry.into(),
        subject: "Gift wrapping?".into(),
        description: "Do you wrap gifts?".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn customers_see_and_answer_only_their_own_cases_and_surveys() {
    let app = app_with_jwt().await;
    let mut client: FeedbackServiceClient<Channel> = app.client().await;
    let alice = token("cust-a", &["customer"]);
    let bob = token("cust-b", &["customer"]);
    let agent = token("agent-1", &["operator"]);

    assert_eq!(
        client
            .open_case(open_case("cust-a"))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    // Bob cannot open a case in Alice's name; Alice may leave her own id out.
    assert_eq!(
        bad_fields(
            &client
                .open_case(as_(&bob, open_case("cust-a")))
                .await
                .unwrap_err()
        ),
        ["customer_id"]
    );
    let case = client
        .open_case(as_(&alice, open_case("")))
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert_eq!(case.customer_id, "cust-a");

    let get = |t: &str| {
        as_(
            t,
            GetCaseRequest {
                id: case.id.clone(),
            },
        )
    };
    assert!(client.get_case(get(&alice)).await.is_ok());
    assert!(client.get_case(get(&agent)).await.is_ok());
    assert_eq!(
        client.get_case(get(&bob)).await.unwrap_err().code(),
        Code::NotFound
    );
    let bobs = client
        .list_cases(as_(
            &bob,
            ListCasesRequest {
                customer_id: "cust-a".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(bobs.is_empty(), "customers always get only theirs");
    let message = |t: &str, author: &str| {
        as_(
            t,
            AddCaseMessageRequest {
                request_id: request_id(),
                case_id: case.id.clone(),
                author_id: author.into(),
                body: "hello".into(),
                ..Default::default()
            },
        )
    };
    assert_eq!(
        client
            .add_case_message(message(&bob, ""))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        bad_fields(
            &client
                .add_case_message(message(&alice, "agent-1"))
                .await
                .unwrap_err()
        ),
        ["author_id"]
    );

    // Agents' internal notes are theirs alone.
    let mut note = message(&agent, "").into_inner();
    note.internal = true;
    note.body = "VIP customer".into();
    client.add_case_message(as_(&agent, note)).await.unwrap();
    let mut customer_note = message(&alice, "").into_inner();
    customer_note.internal = true;
    assert_eq!(
        client
            .add_case_message(as_(&alice, customer_note))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let mut posing = message(&alice, "").into_inner();
    posing.author_type = CaseAuthorType::Agent.into();
    assert_eq!(
        client
            .add_case_message(as_(&alice, posing))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let seen_by_alice = client
        .get_case(get(&alice))
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert!(seen_by_alice.messages.iter().all(|m| !m.internal));
    let seen_by_agent = client
        .get_case(get(&agent))
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert!(seen_by_agent.messages.iter().any(|m| m.internal));

    // Surveys: only the customer's own.
    let order = delivered("cust-a", &["TEA-001"]);
    app.publish(&order).await;
    let survey = app.survey_of_as(&order.order_id, &agent).await;
    let by_order = |t: &str| {
        as_(
            t,
            GetSurveyRequest {
                order_id: order.order_id.clone(),
                ..Default::default()
            },
        )
    };
    assert!(client.get_survey(by_order(&alice)).await.is_ok());
    assert_eq!(
        client.get_survey(by_order(&bob)).await.unwrap_err().code(),
        Code::NotFound
    );
    let answer = SubmitSurveyRequest {
        request_id: request_id(),
        survey_id: survey.id.clone(),
        csat_score: 1,
        ..Default::default()
    };
    assert_eq!(
        client
            .submit_survey(as_(&bob, answer))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn staff_work_is_refused_to_customers_and_published_reviews_are_public() {
    let app = app_with_jwt().await;
    let mut client = app.client().await;
    let alice = token("cust-a", &["customer"]);
    let agent = token("agent-1", &["operator"]);
    let order = delivered("cust-a", &["TEA-001"]);
    app.publish(&order).await;
    app.wait_delivered(&order.order_id).await;

    let submit = SubmitReviewRequest {
        request_id: request_id(),
        order_id: order.order_id.clone(),
        customer_id: String::new(),
        sku: "TEA-001".into(),
        rating: 4,
        ..Default::default()
    };
    assert_eq!(
        client
            .submit_review(as_(&agent, submit.clone()))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied,
        "staff do not write reviews"
    );
    let mut spoofed = submit.clone();
    spoofed.customer_id = "cust-b".into();
    assert_eq!(
        bad_fields(
            &client
                .submit_review(as_(&alice, spoofed))
                .await
                .unwrap_err()
        ),
        ["customer_id"]
    );
    let review = client
        .submit_review(as_(&alice, submit))
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();

    let moderate = ModerateReviewRequest {
        review_id: review.id.clone(),
        decision: ModerationDecision::Publish.into(),
        ..Default::default()
    };
    assert_eq!(
        client
            .moderate_review(as_(&alice, moderate.clone()))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    // Alice may list her own pending review, not everyone's.
    let pending = |customer_id: &str| ListReviewsRequest {
        customer_id: customer_id.into(),
        statuses: vec![ReviewStatus::Pending.into()],
        ..Default::default()
    };
    assert_eq!(
        client
            .list_reviews(as_(&alice, pending("cust-a")))
            .await
            .unwrap()
            .into_inner()
            .reviews
            .len(),
        1
    );
    assert_eq!(
        client
            .list_reviews(as_(&alice, pending("")))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        client
            .list_reviews(pending("cust-a"))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied,
        "anonymous"
    );

    client.moderate_review(as_(&agent, moderate)).await.unwrap();
    let reply = ReplyToReviewRequest {
        request_id: request_id(),
        review_id: review.id.clone(),
        body: "Thanks!".into(),
        ..Default::default()
    };
    assert_eq!(
        client
            .reply_to_review(as_(&alice, reply.clone()))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let mut impersonated = reply.clone();
    impersonated.author_id = "someone-else".into();
    assert_eq!(
        bad_fields(
            &client
                .reply_to_review(as_(&agent, impersonated))
                .await
                .unwrap_err()
        ),
        ["author_id"]
    );
    client.reply_to_review(as_(&agent, reply)).await.unwrap();

    // Anyone, even without a token, reads published reviews and the summary — without the
    // moderation details.
    let public = client
        .list_reviews(ListReviewsRequest {
            sku: "TEA-001".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reviews;
    assert_eq!(public.len(), 1);
    assert_eq!(public[0].replies.len(), 1);
    assert!(public[0].moderated_by.is_empty());
    let summary = client
        .get_rating_summary(GetRatingSummaryRequest {
            sku: "TEA-001".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!(summary.review_count, 1);

    let case = client
        .open_case(as_(&alice, open_case("")))
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    let resolve = ResolveCaseRequest {
        case_id: case.id.clone(),
        resolution: contracts::common::CaseResolution::None.into(),
        ..Default::default()
    };
    assert_eq!(
        client
            .resolve_case(as_(&alice, resolve.clone()))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let assign = AssignCaseRequest {
        case_id: case.id.clone(),
        assignee_id: "agent-1".into(),
        ..Default::default()
    };
    assert_eq!(
        client
            .assign_case(as_(&alice, assign.clone()))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    client.assign_case(as_(&agent, assign)).await.unwrap();
    let resolved = client
        .resolve_case(as_(&agent, resolve))
        .await
        .unwrap()
        .into_inner()
        .support_case
        .unwrap();
    assert_eq!(resolved.resolved_by, "agent-1");
}
