//! `PrivacyService`: erasure requests (operators only). The work is in [`crate::privacy`].

use contracts::orders::privacy_service_server::PrivacyService;
use contracts::orders::{self as pb, ErasureTrigger};
use contracts::time::to_timestamp;
use messaging::privacy::normalize_phone;
use runtime::Role;
use runtime::grpc::FieldViolations;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::privacy::{self, EraseError, ErasureRow, Subject};
use crate::workflow::Workflow;

#[derive(Clone)]
pub struct PrivacyApi {
    pool: PgPool,
    wf: Workflow,
}

impl PrivacyApi {
    pub fn new(pool: PgPool, wf: Workflow) -> Self {
        Self { pool, wf }
    }
}

impl From<EraseError> for Error {
    fn from(err: EraseError) -> Self {
        match err {
            EraseError::RequestIdReused(_) => Error::AlreadyExists(err.to_string()),
            EraseError::OrdersOpen(_) => Error::FailedPrecondition(err.to_string()),
            EraseError::Db(err) => Error::from(err),
        }
    }
}

fn erasure_pb(row: ErasureRow) -> pb::Erasure {
    pb::Erasure {
        id: row.id.to_string(),
        request_id: row.request_id,
        trigger: match row.trigger.as_str() {
            "RETENTION" => ErasureTrigger::Retention,
            _ => ErasureTrigger::Request,
        }
        .into(),
        customer_id: row.customer_id,
        order_ids: row.order_ids,
        requested_by: row.requested_by,
        reason: row.reason,
        requested_at: Some(to_timestamp(row.requested_at)),
        erased_at: Some(to_timestamp(row.erased_at)),
        email_fingerprint: row.email_fingerprint,
        phone_fingerprint: row.phone_fingerprint,
    }
}

/// Every bad field of a request, or who it is for.
fn subject(r: &pb::EraseCustomerDataRequest) -> Result<Subject, FieldViolations> {
    let mut v = FieldViolations::new();
    v.check(!r.request_id.trim().is_empty(), "request_id", "is required");
    v.check(
        r.request_id.chars().count() <= 200,
        "request_id",
        "must be at most 200 characters",
    );
    let (customer_id, email, phone) = (r.customer_id.trim(), r.email.trim(), r.phone.trim());
    if customer_id.is_empty() && email.is_empty() && phone.is_empty() {
        for field in ["customer_id", "email", "phone"] {
            v.add(field, "one of customer_id, email and phone is required");
        }
    }
    v.check(
        email.is_empty() || (email.contains('@') && email.chars().count() <= 254),
        "email",
        "must be an e-mail address",
    );
    let normalized = normalize_phone(phone);
    v.check(
        phone.is_empty() || normalized.is_some(),
        "phone",
        "must be a phone number with 7 to 15 digits",
    );
    v.check(!r.reason.trim().is_empty(), "reason", "is required");
    v.check(
        r.reason.chars().count() <= 500,
        "reason",
        "must be at most 500 characters",
    );
    if !v.is_empty() {
        return Err(v);
    }
    Ok(Subject {
        customer_id: customer_id.to_owned(),
        email: email.to_lowercase(),
        phone: normalized.unwrap_or_default(),
    })
}

#[tonic::async_trait]
impl PrivacyService for PrivacyApi {
    async fn erase_customer_data(
        &self,
        request: Request<pb::EraseCustomerDataRequest>,
    ) -> Result<Response<pb::EraseCustomerDataResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&[Role::Operator])?;
        let requested_by = actor.id.clone();
        let r = request.into_inner();
        let subject = subject(&r).map_err(Error::InvalidArgument)?;
        let erase = privacy::Request {
            request_id: r.request_id.trim().to_owned(),
            trigger: ErasureTrigger::Request,
            subject,
            order_ids: Vec::new(),
            requested_by,
            reason: r.reason.trim().to_owned(),
        };
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let row = privacy::erase(&mut tx, &self.wf.outbox, self.wf.clock.now(), &erase)
            .await
            .map_err(Error::from)?;
        self.wf.outbox.commit(tx).await.map_err(Error::from)?;
        Ok(Response::new(pb::EraseCustomerDataResponse {
            erasure: Some(erasure_pb(row)),
        }))
    }

    async fn get_erasure(
        &self,
        request: Request<pb::GetErasureRequest>,
    ) -> Result<Response<pb::GetErasureResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&[Role::Operator])?;
        let id = request.into_inner().id;
        if id.trim().is_empty() {
            let mut v = FieldViolations::new();
            v.add("id", "is required");
            return Err(Error::InvalidArgument(v).into());
        }
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let row = privacy::get(&mut conn, &id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound(format!("erasure {}", id.trim())))?;
        Ok(Response::new(pb::GetErasureResponse {
            erasure: Some(erasure_pb(row)),
        }))
    }
}
