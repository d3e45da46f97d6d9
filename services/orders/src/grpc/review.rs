//! `ReviewService`: the queue of held orders and the reviewers' decisions.

use runtime::grpc::FieldViolations;
use runtime::{Actor, Role};
use tonic::{Request, Response, Status};

use contracts::orders::review_service_server::ReviewService;
use contracts::orders::{self as pb};

use super::orders::{OrdersApi, decode_page_token};
use super::{page_size, parse_order_id, who};
use crate::domain::OrderStatus;
use crate::domain::saga::Input;
use crate::error::Error;
use crate::store;
use crate::workflow::{Facts, WorkflowError};

#[derive(Clone)]
pub struct ReviewApi {
    orders: OrdersApi,
    pool: sqlx::PgPool,
}

impl ReviewApi {
    pub fn new(orders: OrdersApi, pool: sqlx::PgPool) -> Self {
        Self { orders, pool }
    }

    /// Validates a decision and records who made it and why; returns the order id.
    async fn decide(
        &self,
        actor: &Actor,
        order_id: &str,
        reviewer_id: &str,
        reason: &str,
        input: Input,
    ) -> Result<pb::Order, Error> {
        let mut v = FieldViolations::new();
        let id = parse_order_id("order_id", order_id);
        v.check(!reviewer_id.trim().is_empty(), "reviewer_id", "is required");
        // The body must name the caller; dev mode (auth off) acts for any reviewer.
        v.check(
            reviewer_id.trim().is_empty()
                || reviewer_id == actor.id
                || actor.id == Actor::DEV_OPERATOR,
            "reviewer_id",
            "must be the id of the calling operator",
        );
        v.check(!reason.trim().is_empty(), "reason", "is required");
        v.check(
            reason.chars().count() <= 1000,
            "reason",
            "must be at most 1000 characters",
        );
        if id.is_err() {
            v.add("order_id", "must be an order id (UUID)");
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        let id = id?;
        runtime::telemetry::record_order_id(&id);
        let mut tx = self.pool.begin().await?;
        let facts = Facts::by(crate::workflow::Who {
            id: reviewer_id.to_owned(),
            kind: who(actor).kind,
        })
        .because(reason.trim());
        match self
            .orders
            .wf()
            .apply(&mut tx, id, input.clone(), &facts)
            .await
        {
            Ok(_) => {}
            // Decisions are idempotent by state: the same decision again answers with the order.
            Err(WorkflowError::NotAllowed(not)) => {
                // A reviewer already made this decision: answer with the order.
                let row = store::saga::read(&mut tx, id).await?;
                let reviewed = row.as_ref().is_some_and(|r| r.reviewed_by.is_some());
                let decided = reviewed
                    && match input {
                        Input::Approve => !matches!(
                            not.status,
                            OrderStatus::Pending | OrderStatus::OnHold | OrderStatus::Rejected
                        ),
                        _ => not.status == OrderStatus::Rejected,
                    };
                drop(tx);
                return if decided {
                    self.orders.view_by_id(actor, id).await
                } else {
                    Err(WorkflowError::NotAllowed(not).into())
                };
            }
            Err(err) => return Err(err.into()),
        }
        store::saga::set_review(&mut tx, id, reviewer_id, reason.trim()).await?;
        self.orders.wf().outbox.commit(tx).await?;
        self.orders.view_by_id(actor, id).await
    }
}

#[tonic::async_trait]
impl ReviewService for ReviewApi {
    async fn list_review_queue(
        &self,
        request: Request<pb::ListReviewQueueRequest>,
    ) -> Result<Response<pb::ListReviewQueueResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&[Role::Operator, Role::Service])?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let after = decode_page_token(&r.page_token, &mut v);
        let limit = page_size(r.page_size, 50)?;
        v.into_result()?;
        let hold_kind = match pb::HoldReasonKind::try_from(r.reason_kind) {
            Ok(pb::HoldReasonKind::HighRiskScore) => Some("HighRiskScore"),
            Ok(pb::HoldReasonKind::HighValue) => Some("HighValue"),
            Ok(pb::HoldReasonKind::Rule) => Some("Rule"),
            _ => None,
        };
        let filter = store::orders::Filter {
            statuses: vec!["ON_HOLD".to_owned()],
            hold_kind: hold_kind.map(str::to_owned),
            after,
            limit,
            ..Default::default()
        };
        let (orders, next_page_token) = self.orders.page(&filter).await?;
        Ok(Response::new(pb::ListReviewQueueResponse {
            orders,
            next_page_token,
        }))
    }

    async fn approve_order(
        &self,
        request: Request<pb::ApproveOrderRequest>,
    ) -> Result<Response<pb::ApproveOrderResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&[Role::Operator])?;
        let r = request.into_inner();
        let order = self
            .decide(
                &actor,
                &r.order_id,
                &r.reviewer_id,
                &r.reason,
                Input::Approve,
            )
            .await?;
        Ok(Response::new(pb::ApproveOrderResponse {
            order: Some(order),
        }))
    }

    async fn reject_order(
        &self,
        request: Request<pb::RejectOrderRequest>,
    ) -> Result<Response<pb::RejectOrderResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&[Role::Operator])?;
        let r = request.into_inner();
        let order = self
            .decide(
                &actor,
                &r.order_id,
                &r.reviewer_id,
                &r.reason,
                Input::Reject { by_deadline: false },
            )
            .await?;
        Ok(Response::new(pb::RejectOrderResponse {
            order: Some(order),
        }))
    }
}
