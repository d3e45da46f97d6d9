//! The feedback gRPC API. Each area lives in its own module ([`surveys`], [`reviews`],
//! [`cases`]): requests are checked and turned into domain values (every bad field reported at
//! once, see [`convert`]), applied in one transaction with the events they cause, and answered
//! after commit. Errors map once through [`crate::error::Error`].
//!
//! Who may call what: reviews and rating summaries are public; customers answer their own
//! surveys, review what they received, and open and follow their own cases; moderation,
//! replies, assignment and resolution are for staff (operators and services).

mod cases;
mod convert;
mod reviews;
mod surveys;

use std::sync::Arc;

use runtime::{Actor, Role};
use sha2::{Digest as _, Sha256};
use tonic::{Request, Response, Status};

use contracts::feedback::feedback_service_server::FeedbackService;
use contracts::feedback::{
    AddCaseMessageRequest, AddCaseMessageResponse, AssignCaseRequest, AssignCaseResponse,
    GetCaseRequest, GetCaseResponse, GetRatingSummaryRequest, GetRatingSummaryResponse,
    GetSurveyRequest, GetSurveyResponse, ListCasesRequest, ListCasesResponse, ListReviewsRequest,
    ListReviewsResponse, ModerateReviewRequest, ModerateReviewResponse, OpenCaseRequest,
    OpenCaseResponse, ReplyToReviewRequest, ReplyToReviewResponse, ResolveCaseRequest,
    ResolveCaseResponse, SubmitReviewRequest, SubmitReviewResponse, SubmitSurveyRequest,
    SubmitSurveyResponse,
};
use messaging::Outbox;

use crate::config::Config;
use convert::{View, case_out, review_out, survey_out};

const ANY_CALLER: &[Role] = &[Role::Customer, Role::Operator, Role::Service];
const STAFF: &[Role] = &[Role::Operator, Role::Service];
/// Reviews are written by customers (or a service relaying them), not by staff.
const REVIEWERS: &[Role] = &[Role::Customer, Role::Service];

#[derive(Clone)]
pub struct FeedbackApi {
    pool: sqlx::PgPool,
    outbox: Outbox,
    clock: runtime::Clock,
    config: Arc<Config>,
}

impl FeedbackApi {
    pub fn new(pool: sqlx::PgPool, outbox: Outbox, clock: runtime::Clock, config: Config) -> Self {
        Self {
            pool,
            outbox,
            clock,
            config: Arc::new(config),
        }
    }
}

/// The AIP-155 fingerprint of a request: who sent it and exactly what, so a request id reused
/// by someone else or for something else is told apart from a retry.
fn request_hash(actor: &Actor, request: &impl prost::Message) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(actor.id.as_bytes());
    hash.update([0]);
    hash.update(request.encode_to_vec());
    hash.finalize().to_vec()
}

fn caller<T>(request: &Request<T>, roles: &[Role]) -> Result<Actor, Status> {
    let actor = runtime::auth::actor(request)?;
    actor.require_any(roles)?;
    Ok(actor)
}

#[tonic::async_trait]
impl FeedbackService for FeedbackApi {
    async fn submit_survey(
        &self,
        request: Request<SubmitSurveyRequest>,
    ) -> Result<Response<SubmitSurveyResponse>, Status> {
        let actor = caller(&request, ANY_CALLER)?;
        let survey = self.survey_submit(&actor, request.into_inner()).await?;
        runtime::telemetry::record_order_id(&survey.order_id);
        Ok(Response::new(SubmitSurveyResponse {
            survey: Some(survey_out(&survey, self.clock.now())),
        }))
    }

    async fn get_survey(
        &self,
        request: Request<GetSurveyRequest>,
    ) -> Result<Response<GetSurveyResponse>, Status> {
        let actor = caller(&request, ANY_CALLER)?;
        let survey = self.survey_get(&actor, request.get_ref()).await?;
        runtime::telemetry::record_order_id(&survey.order_id);
        Ok(Response::new(GetSurveyResponse {
            survey: Some(survey_out(&survey, self.clock.now())),
        }))
    }

    async fn submit_review(
        &self,
        request: Request<SubmitReviewRequest>,
    ) -> Result<Response<SubmitReviewResponse>, Status> {
        let actor = caller(&request, REVIEWERS)?;
        let review = self.review_submit(&actor, request.into_inner()).await?;
        runtime::telemetry::record_order_id(&review.order_id);
        Ok(Response::new(SubmitReviewResponse {
            review: Some(review_out(&review, View::of(&actor))),
        }))
    }

    async fn moderate_review(
        &self,
        request: Request<ModerateReviewRequest>,
    ) -> Result<Response<ModerateReviewResponse>, Status> {
        let actor = caller(&request, STAFF)?;
        let review = self.review_moderate(&actor, request.get_ref()).await?;
        runtime::telemetry::record_order_id(&review.order_id);
        Ok(Response::new(ModerateReviewResponse {
            review: Some(review_out(&review, View::Staff)),
        }))
    }

    async fn list_reviews(
        &self,
        request: Request<ListReviewsRequest>,
    ) -> Result<Response<ListReviewsResponse>, Status> {
        // Published reviews are public: no role needed (an anonymous shopper reads them).
        let actor = runtime::auth::actor(&request)?;
        let (reviews, next_page_token) = self.review_list(&actor, request.get_ref()).await?;
        let view = View::of(&actor);
        Ok(Response::new(ListReviewsResponse {
            reviews: reviews.iter().map(|r| review_out(r, view)).collect(),
            next_page_token,
        }))
    }

    async fn reply_to_review(
        &self,
        request: Request<ReplyToReviewRequest>,
    ) -> Result<Response<ReplyToReviewResponse>, Status> {
        let actor = caller(&request, STAFF)?;
        let review = self.review_reply(&actor, request.into_inner()).await?;
        runtime::telemetry::record_order_id(&review.order_id);
        Ok(Response::new(ReplyToReviewResponse {
            review: Some(review_out(&review, View::Staff)),
        }))
    }

    async fn get_rating_summary(
        &self,
        request: Request<GetRatingSummaryRequest>,
    ) -> Result<Response<GetRatingSummaryResponse>, Status> {
        // Public, like the published reviews it counts.
        runtime::auth::actor(&request)?;
        let summary = self.rating_summary(&request.get_ref().sku).await?;
        Ok(Response::new(GetRatingSummaryResponse {
            summary: Some(summary),
        }))
    }

    async fn open_case(
        &self,
        request: Request<OpenCaseRequest>,
    ) -> Result<Response<OpenCaseResponse>, Status> {
        let actor = caller(&request, ANY_CALLER)?;
        let case = case_out(
            &self.case_open(&actor, request.into_inner()).await?,
            View::of(&actor),
        );
        runtime::telemetry::record_order_id(&case.order_id);
        Ok(Response::new(OpenCaseResponse {
            support_case: Some(case),
        }))
    }

    async fn add_case_message(
        &self,
        request: Request<AddCaseMessageRequest>,
    ) -> Result<Response<AddCaseMessageResponse>, Status> {
        let actor = caller(&request, ANY_CALLER)?;
        let case = case_out(
            &self.case_add_message(&actor, request.into_inner()).await?,
            View::of(&actor),
        );
        runtime::telemetry::record_order_id(&case.order_id);
        Ok(Response::new(AddCaseMessageResponse {
            support_case: Some(case),
        }))
    }

    async fn resolve_case(
        &self,
        request: Request<ResolveCaseRequest>,
    ) -> Result<Response<ResolveCaseResponse>, Status> {
        let actor = caller(&request, STAFF)?;
        let case = case_out(
            &self.case_resolve(&actor, request.get_ref()).await?,
            View::Staff,
        );
        runtime::telemetry::record_order_id(&case.order_id);
        Ok(Response::new(ResolveCaseResponse {
            support_case: Some(case),
        }))
    }

    async fn assign_case(
        &self,
        request: Request<AssignCaseRequest>,
    ) -> Result<Response<AssignCaseResponse>, Status> {
        let actor = caller(&request, STAFF)?;
        let case = case_out(
            &self.case_assign(&actor, request.get_ref()).await?,
            View::Staff,
        );
        runtime::telemetry::record_order_id(&case.order_id);
        Ok(Response::new(AssignCaseResponse {
            support_case: Some(case),
        }))
    }

    async fn list_cases(
        &self,
        request: Request<ListCasesRequest>,
    ) -> Result<Response<ListCasesResponse>, Status> {
        let actor = caller(&request, ANY_CALLER)?;
        runtime::telemetry::record_order_id(&request.get_ref().order_id.trim());
        let (cases, next_page_token) = self.case_list(&actor, request.get_ref()).await?;
        let view = View::of(&actor);
        Ok(Response::new(ListCasesResponse {
            cases: cases.iter().map(|c| case_out(c, view)).collect(),
            next_page_token,
        }))
    }

    async fn get_case(
        &self,
        request: Request<GetCaseRequest>,
    ) -> Result<Response<GetCaseResponse>, Status> {
        let actor = caller(&request, ANY_CALLER)?;
        let case = case_out(
            &self.case_get(&actor, &request.get_ref().id).await?,
            View::of(&actor),
        );
        runtime::telemetry::record_order_id(&case.order_id);
        Ok(Response::new(GetCaseResponse {
            support_case: Some(case),
        }))
    }
}
