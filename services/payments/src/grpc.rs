//! The payments gRPC API: `RiskService` answers from the assessments the event handler made;
//! `PaymentService` is declared and answers UNIMPLEMENTED until the payments issue.

use contracts::payments::risk_service_server::RiskService;
use contracts::payments::{
    GetRiskAssessmentRequest, GetRiskAssessmentResponse, RiskAssessment, RiskReason,
};
use contracts::time::to_timestamp;
use runtime::Role;
use runtime::grpc::FieldViolations;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::error::Error;
use crate::store;

#[derive(Clone)]
pub struct RiskApi {
    pub pool: sqlx::PgPool,
}

#[derive(Clone)]
pub struct PaymentsApi;

impl contracts::payments::payment_service_server::PaymentService for PaymentsApi {}

#[tonic::async_trait]
impl RiskService for RiskApi {
    async fn get_risk_assessment(
        &self,
        request: Request<GetRiskAssessmentRequest>,
    ) -> Result<Response<GetRiskAssessmentResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&[Role::Operator, Role::Service])?;
        let raw = request.get_ref().order_id.trim();
        let order_id = Uuid::parse_str(raw).map_err(|_| {
            let mut v = FieldViolations::new();
            v.add("order_id", "must be an order id (UUID)");
            Error::InvalidArgument(v)
        })?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let stored = store::risk::get(&mut conn, order_id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound(format!("risk assessment for order {raw}")))?;
        Ok(Response::new(GetRiskAssessmentResponse {
            assessment: Some(RiskAssessment {
                order_id: stored.order_id.to_string(),
                score: stored.score,
                reasons: stored
                    .reasons
                    .0
                    .into_iter()
                    .map(|r| RiskReason {
                        code: r.code,
                        description: r.description,
                        points: r.points,
                    })
                    .collect(),
                assessed_at: Some(to_timestamp(stored.assessed_at)),
            }),
        }))
    }
}
