//! `RiskService`: the assessments the `orders.order.placed` handler made, and the block lists
//! it scores against.

use contracts::payments::risk_service_server::RiskService;
use contracts::payments::{
    BlocklistEntry, BlocklistKind, GetRiskAssessmentRequest, GetRiskAssessmentResponse,
    ListBlocklistRequest, ListBlocklistResponse, RiskAssessment, RiskReason,
    UpsertBlocklistEntryRequest, UpsertBlocklistEntryResponse,
};
use contracts::time::to_timestamp;
use runtime::Role;
use runtime::grpc::FieldViolations;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::convert;
use crate::domain::blocklist::{self, Kind};
use crate::error::Error;
use crate::store;
use crate::store::blocklist::EntryRow;

#[derive(Clone)]
pub struct RiskApi {
    pub pool: sqlx::PgPool,
    pub clock: runtime::Clock,
}

fn kind_from_pb(raw: i32) -> Option<Kind> {
    match BlocklistKind::try_from(raw).ok()? {
        BlocklistKind::Unspecified => None,
        BlocklistKind::Email => Some(Kind::Email),
        BlocklistKind::EmailDomain => Some(Kind::EmailDomain),
        BlocklistKind::Phone => Some(Kind::Phone),
        BlocklistKind::CustomerId => Some(Kind::CustomerId),
        BlocklistKind::PostalCode => Some(Kind::PostalCode),
        BlocklistKind::CountryCode => Some(Kind::CountryCode),
        BlocklistKind::Address => Some(Kind::Address),
        BlocklistKind::PaymentToken => Some(Kind::PaymentToken),
    }
}

fn kind_pb(kind: &str) -> i32 {
    (match Kind::parse(kind) {
        Some(Kind::Email) => BlocklistKind::Email,
        Some(Kind::EmailDomain) => BlocklistKind::EmailDomain,
        Some(Kind::Phone) => BlocklistKind::Phone,
        Some(Kind::CustomerId) => BlocklistKind::CustomerId,
        Some(Kind::PostalCode) => BlocklistKind::PostalCode,
        Some(Kind::CountryCode) => BlocklistKind::CountryCode,
        Some(Kind::Address) => BlocklistKind::Address,
        Some(Kind::PaymentToken) => BlocklistKind::PaymentToken,
        None => BlocklistKind::Unspecified,
    }) as i32
}

fn entry_pb(e: &EntryRow) -> BlocklistEntry {
    BlocklistEntry {
        kind: kind_pb(&e.kind),
        value: e.value.clone(),
        reason: e.reason.clone(),
        active: Some(e.active),
        expires_at: e.expires_at.map(to_timestamp),
        updated_by: e.updated_by.clone(),
        created_at: Some(to_timestamp(e.created_at)),
        updated_at: Some(to_timestamp(e.updated_at)),
    }
}

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
        runtime::telemetry::record_order_id(&order_id);
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

    async fn upsert_blocklist_entry(
        &self,
        request: Request<UpsertBlocklistEntryRequest>,
    ) -> Result<Response<UpsertBlocklistEntryResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&[Role::Operator])?;
        let mut v = FieldViolations::new();
        let Some(entry) = request.into_inner().entry else {
            v.add("entry", "is required");
            return Err(Error::from(v).into());
        };
        let kind = kind_from_pb(entry.kind);
        if kind.is_none() {
            v.add("entry.kind", "must be a block-list kind");
        }
        let value = match kind.map(|k| blocklist::normalize(k, &entry.value)) {
            Some(Ok(value)) => value,
            Some(Err(why)) => {
                v.add("entry.value", why);
                String::new()
            }
            None => String::new(),
        };
        let reason = convert::text(&mut v, "entry.reason", &entry.reason, true, 500);
        let expires_at = convert::timestamp(&mut v, "entry.expires_at", entry.expires_at.as_ref());
        let Some(kind) = kind.filter(|_| v.is_empty()) else {
            return Err(Error::from(v).into());
        };
        let now = self.clock.now();
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let stored = store::blocklist::upsert(
            &mut conn,
            &EntryRow {
                kind: kind.as_str().to_owned(),
                value,
                reason,
                active: entry.active.unwrap_or(true),
                expires_at,
                updated_by: actor.id.clone(),
                created_at: now,
                updated_at: now,
            },
        )
        .await
        .map_err(Error::from)?;
        // The value may be an e-mail or phone: log the kind and who, not the value.
        tracing::info!(kind = kind.as_str(), updated_by = %actor.id, active = stored.active, "block-list entry written");
        Ok(Response::new(UpsertBlocklistEntryResponse {
            entry: Some(entry_pb(&stored)),
        }))
    }

    async fn list_blocklist(
        &self,
        request: Request<ListBlocklistRequest>,
    ) -> Result<Response<ListBlocklistResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&[Role::Operator, Role::Service])?;
        let r = request.get_ref();
        let mut v = FieldViolations::new();
        let limit = convert::page_size(&mut v, r.page_size, 100, 500);
        let kind = if r.kind == 0 {
            None
        } else {
            let kind = kind_from_pb(r.kind);
            if kind.is_none() {
                v.add("kind", "must be a block-list kind");
            }
            kind
        };
        let after = convert::decode_token(&mut v, &r.page_token, 2)
            .map(|mut parts| (parts.remove(0), parts.remove(0)));
        if !v.is_empty() {
            return Err(Error::from(v).into());
        }
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let rows = store::blocklist::list(
            &mut conn,
            kind.map(Kind::as_str),
            r.include_inactive,
            self.clock.now(),
            after,
            limit + 1,
        )
        .await
        .map_err(Error::from)?;
        let page = usize::try_from(limit).unwrap_or(usize::MAX);
        let next_page_token = if rows.len() > page {
            rows.get(page - 1)
                .map(|e| convert::encode_token(&[&e.kind, &e.value]))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListBlocklistResponse {
            entries: rows.iter().take(page).map(entry_pb).collect(),
            next_page_token,
        }))
    }
}
