//! `ReturnService`: RMAs — requested by customers (or staff for them), decided by the return
//! policy or a person, then driven by the warehouse's facts (see [`crate::returns`]).

use prost::Message as _;
use runtime::grpc::FieldViolations;
use runtime::{Actor, Role};
use sha2::{Digest as _, Sha256};
use sqlx::types::Json;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use contracts::common;
use contracts::orders::return_service_server::ReturnService;
use contracts::orders::{self as pb};

use super::{page_size, parse_order_id, who};
use crate::domain::OrderStatus;
use crate::domain::returns::{self, Decision, PolicyLine, status};
use crate::error::Error;
use crate::returns::{Act, policy, rma_pb};
use crate::store::returns::{ExchangeLine, LineRow, ReturnRow, Rma};
use crate::store::{self};
use crate::workflow::{Who, Workflow};

#[derive(Clone)]
pub struct ReturnsApi {
    pool: sqlx::PgPool,
    wf: Workflow,
}

const ANY_CALLER: [Role; 3] = [Role::Customer, Role::Operator, Role::Service];

fn reason_name(raw: i32) -> Option<String> {
    match common::ReturnReason::try_from(raw).ok()? {
        common::ReturnReason::Unspecified => None,
        r => Some(
            r.as_str_name()
                .trim_start_matches("RETURN_REASON_")
                .to_owned(),
        ),
    }
}

impl ReturnsApi {
    pub fn new(pool: sqlx::PgPool, wf: Workflow) -> Self {
        Self { pool, wf }
    }

    /// The RMA `id_or_number`, if the caller may see it.
    async fn find(&self, actor: &Actor, id_or_number: &str) -> Result<Rma, Error> {
        let mut conn = self.pool.acquire().await?;
        let rma = match Uuid::parse_str(id_or_number) {
            Ok(id) => store::returns::get(&mut conn, id).await?,
            Err(_) if returns::looks_like_rma(id_or_number) => {
                store::returns::get_by_number(&mut conn, id_or_number).await?
            }
            Err(_) => {
                let mut v = FieldViolations::new();
                v.add("id", "must be a return id (UUID) or an RMA number (RMA-…)");
                return Err(v.into());
            }
        };
        let rma = rma.ok_or_else(|| Error::NotFound(format!("return {id_or_number}")))?;
        if !actor.may_access_customer(&rma.row.customer_id) {
            return Err(Error::PermissionDenied(
                "a customer may only see and change their own returns".into(),
            ));
        }
        // GetReturn, and the answer of every other return handler.
        runtime::telemetry::record_order_id(&rma.row.order_id);
        Ok(rma)
    }

    async fn request(&self, actor: &Actor, r: pb::RequestReturnRequest) -> Result<Rma, Error> {
        let request_hash = Sha256::digest(r.encode_to_vec()).to_vec();
        let mut v = FieldViolations::new();
        let request_id = r.request_id.trim().to_owned();
        v.check(
            !request_id.is_empty() && request_id.len() <= 128,
            "request_id",
            "is required (at most 128 characters)",
        );
        let order_id = parse_order_id("order_id", &r.order_id);
        if order_id.is_err() {
            v.add("order_id", "must be an order id (UUID)");
        }
        v.check(
            !r.lines.is_empty(),
            "lines",
            "at least one line is required",
        );
        let resolution = match pb::ReturnResolution::try_from(r.resolution) {
            Ok(pb::ReturnResolution::Refund) => Some("REFUND"),
            Ok(pb::ReturnResolution::Exchange) => Some("EXCHANGE"),
            Ok(pb::ReturnResolution::Repair) => Some("REPAIR"),
            _ => None,
        };
        v.check(
            resolution.is_some(),
            "resolution",
            "must be RETURN_RESOLUTION_REFUND, RETURN_RESOLUTION_EXCHANGE or RETURN_RESOLUTION_REPAIR",
        );
        match resolution {
            Some("EXCHANGE") => v.check(
                !r.exchange_lines.is_empty(),
                "exchange_lines",
                "are required for an exchange",
            ),
            _ => v.check(
                r.exchange_lines.is_empty(),
                "exchange_lines",
                "must be empty unless the resolution is an exchange",
            ),
        }
        v.check(
            r.customer_note.chars().count() <= 2000,
            "customer_note",
            "must be at most 2000 characters",
        );
        let pickup = r
            .pickup_address
            .as_ref()
            .map(|a| crate::convert::address(&mut v, "pickup_address", a));
        if !v.is_empty() {
            return Err(v.into());
        }
        let order_id = order_id?;
        runtime::telemetry::record_order_id(&order_id);

        // The order, if the caller may act on it.
        let mut tx = self.pool.begin().await?;
        let order = store::orders::get(&mut tx, order_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("order {order_id}")))?;
        if !actor.may_access_customer(&order.customer.id) {
            return Err(Error::PermissionDenied(
                "a customer may only return their own orders".into(),
            ));
        }
        // Serializes the order's returns: quantities are checked against the others.
        let saga = store::saga::lock(&mut tx, order.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("order {order_id}")))?;
        if let Some(existing) = store::returns::by_request(&mut tx, &request_id).await? {
            return if existing.row.request_hash == request_hash {
                Ok(existing)
            } else {
                Err(Error::AlreadyExists(format!(
                    "request_id {request_id} was already used for a different request ({})",
                    existing.row.rma_number
                )))
            };
        }
        let delivered_at = match (order.status, saga.delivered_at) {
            (OrderStatus::Delivered | OrderStatus::Accepted | OrderStatus::Completed, Some(at)) => {
                at
            }
            (status, _) => {
                return Err(Error::FailedPrecondition(format!(
                    "order {} is {}: only delivered, accepted or completed orders can be returned",
                    order.number,
                    status.as_str().to_lowercase()
                )));
            }
        };

        let claimed = store::returns::claimed(&mut tx, order.id).await?;
        let skus: Vec<&str> = order
            .lines
            .iter()
            .map(|l| l.sku.as_str())
            .chain(r.exchange_lines.iter().map(|x| x.sku.as_str()))
            .collect();
        let catalog = store::catalog::get_many(&mut tx, &skus).await?;
        let rules = &self.wf.config.returns;
        let mut v = FieldViolations::new();
        let mut lines: Vec<LineRow> = Vec::new();
        let mut policy_lines = Vec::new();
        for (i, l) in r.lines.iter().enumerate() {
            let field = |name: &str| format!("lines[{i}].{name}");
            let Some(ol) = order.lines.iter().find(|ol| ol.line_id == l.line_id) else {
                v.add(field("line_id"), "is not a line of this order");
                continue;
            };
            if lines.iter().any(|x| x.line_id == ol.line_id) {
                v.add(field("line_id"), "appears more than once");
                continue;
            }
            let item = catalog.iter().find(|c| c.sku == ol.sku);
            let category = item.map(|c| c.category.clone()).unwrap_or_default();
            if item.is_some_and(|c| !c.returnable)
                || rules
                    .non_returnable_categories
                    .contains(&category.to_lowercase())
            {
                v.add(field("line_id"), format!("{} is not returnable", ol.sku));
                continue;
            }
            let taken = claimed
                .iter()
                .find(|(id, _)| *id == ol.line_id)
                .map_or(0, |(_, n)| *n);
            let left = i64::from(ol.shipped_quantity) - taken;
            if i64::from(l.quantity) < 1 || i64::from(l.quantity) > left {
                v.add(
                    field("quantity"),
                    if left < 1 {
                        "every delivered unit of this line is returned or being returned already"
                            .to_owned()
                    } else {
                        format!("must be between 1 and {left} (delivered, not yet returned)")
                    },
                );
                continue;
            }
            let Some(reason) = reason_name(l.reason) else {
                v.add(field("reason"), "is required");
                continue;
            };
            v.check(
                l.note.chars().count() <= 1000,
                field("note"),
                "must be at most 1000 characters",
            );
            policy_lines.push(PolicyLine {
                category,
                reason: reason.clone(),
                value_minor: ol.unit_price.minor.saturating_mul(i64::from(l.quantity)),
            });
            lines.push(LineRow {
                line_id: ol.line_id.clone(),
                position: i as i32 + 1,
                sku: ol.sku.clone(),
                quantity: l.quantity,
                reason,
                note: l.note.trim().to_owned(),
                unit_price_minor: ol.unit_price.minor,
                received_quantity: 0,
                resellable_quantity: 0,
                grades: Json(returns::Grades::default()),
                refund_minor: None,
            });
        }
        let mut exchange = Vec::new();
        for (i, x) in r.exchange_lines.iter().enumerate() {
            let field = |name: &str| format!("exchange_lines[{i}].{name}");
            let Some(back) = lines.iter().find(|l| l.line_id == x.line_id) else {
                v.add(field("line_id"), "must be a line of this return");
                continue;
            };
            if exchange
                .iter()
                .any(|e: &ExchangeLine| e.line_id == x.line_id)
            {
                v.add(field("line_id"), "appears more than once");
                continue;
            }
            if x.quantity < 1 || x.quantity > back.quantity {
                v.add(
                    field("quantity"),
                    format!("must be between 1 and {} (units returned)", back.quantity),
                );
                continue;
            }
            let sku = if x.sku.trim().is_empty() {
                back.sku.clone()
            } else {
                x.sku.trim().to_owned()
            };
            if self.wf.config.catalog_check && sku != back.sku {
                match catalog.iter().find(|c| c.sku == sku) {
                    None => {
                        v.add(field("sku"), format!("{sku} is not in the catalog"));
                        continue;
                    }
                    Some(c) if !c.active => {
                        v.add(field("sku"), format!("{sku} is not for sale"));
                        continue;
                    }
                    Some(_) => {}
                }
            }
            exchange.push(ExchangeLine {
                line_id: x.line_id.clone(),
                sku,
                quantity: x.quantity,
            });
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        if resolution == Some("REPAIR") {
            // A repair sends back a unit of the same SKU for every unit that comes back.
            exchange = lines
                .iter()
                .map(|l| ExchangeLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect();
        }

        let now = self.wf.clock.now();
        let decision = returns::decide(rules, &policy_lines, delivered_at, now);
        let reasons: Vec<&str> = lines.iter().map(|l| l.reason.as_str()).collect();
        let paid_by = if returns::customer_pays_shipping(rules, &reasons) {
            "CUSTOMER"
        } else {
            "MERCHANT"
        };
        let sequence = store::returns::next_sequence(&mut tx).await?;
        let rma = Rma {
            row: ReturnRow {
                id: Uuid::now_v7(),
                rma_number: returns::rma_number(now, sequence),
                order_id: order.id,
                order_number: order.number.clone(),
                request_id: request_id.clone(),
                request_hash,
                customer_id: order.customer.id.clone(),
                status: status::REQUESTED.to_owned(),
                resolution: resolution.unwrap_or("REFUND").to_owned(),
                exchange_lines: Json(exchange),
                customer_note: r.customer_note.trim().to_owned(),
                pickup_address: pickup.map(Json),
                return_warehouse_id: String::new(),
                return_shipment_id: String::new(),
                return_tracking_number: String::new(),
                shipping_paid_by: paid_by.to_owned(),
                decided_by: String::new(),
                decision_reason: String::new(),
                currency: order.total.currency.as_str().to_owned(),
                refund_total_minor: None,
                outcome: None,
                exchange_reservation_id: None,
                requested_at: now,
                decided_at: None,
                received_at: None,
                inspected_at: None,
                closed_at: None,
            },
            lines,
        };
        if !store::returns::insert(&mut tx, &rma).await? {
            return Err(Error::AlreadyExists(format!(
                "request_id {request_id} was already used for another return"
            )));
        }
        let customer = who(actor);
        let note = Some(rma.row.customer_note.as_str()).filter(|n| !n.is_empty());
        let act = Act {
            who: &customer,
            reason: note,
            event_id: None,
            now,
        };
        self.wf.rma_requested(&mut tx, &rma, &act).await?;
        let by_policy = policy();
        match &decision {
            Decision::Approve(why) => {
                let act = Act {
                    who: &by_policy,
                    reason: Some(why),
                    event_id: None,
                    now,
                };
                self.wf.rma_approve(&mut tx, &rma, "", &act).await?;
            }
            Decision::Reject(why) => {
                let act = Act {
                    who: &by_policy,
                    reason: Some(why),
                    event_id: None,
                    now,
                };
                self.wf.rma_reject(&mut tx, &rma, &act).await?;
            }
            Decision::Review(why) => {
                let act = Act {
                    who: &by_policy,
                    reason: Some(why),
                    event_id: None,
                    now,
                };
                self.wf
                    .rma_note(
                        &mut tx,
                        &rma,
                        "orders.return.review",
                        "return waits for a person's decision".into(),
                        &act,
                        None,
                    )
                    .await?;
            }
        }
        let id = rma.row.id;
        self.wf.outbox.commit(tx).await?;
        tracing::info!(return_id = %id, order_id = %order.id, "return requested");
        self.find(actor, &id.to_string()).await
    }

    /// A person's decision on a REQUESTED RMA; the same decision again answers with the RMA.
    async fn decide(
        &self,
        actor: &Actor,
        return_id: &str,
        reviewer_id: &str,
        reason: &str,
        warehouse_id: &str,
        approve: bool,
    ) -> Result<Rma, Error> {
        let mut v = FieldViolations::new();
        let id = Uuid::parse_str(return_id.trim());
        v.check(id.is_ok(), "return_id", "must be a return id (UUID)");
        v.check(!reviewer_id.trim().is_empty(), "reviewer_id", "is required");
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
        if !v.is_empty() {
            return Err(v.into());
        }
        let id = id.map_err(|_| Error::NotFound(format!("return {return_id}")))?;
        let mut tx = self.pool.begin().await?;
        let rma = store::returns::lock(&mut tx, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("return {return_id}")))?;
        runtime::telemetry::record_order_id(&rma.row.order_id);
        if rma.row.status != status::REQUESTED {
            let same = if approve {
                rma.row.status != status::REJECTED
            } else {
                rma.row.status == status::REJECTED
            };
            drop(tx);
            return if same {
                self.find(actor, &id.to_string()).await
            } else {
                Err(Error::FailedPrecondition(format!(
                    "return {} is {} and can no longer be {}",
                    rma.row.rma_number,
                    rma.row.status.to_lowercase(),
                    if approve { "approved" } else { "rejected" }
                )))
            };
        }
        let reviewer = Who {
            id: reviewer_id.to_owned(),
            kind: who(actor).kind,
        };
        let act = Act {
            who: &reviewer,
            reason: Some(reason.trim()),
            event_id: None,
            now: self.wf.clock.now(),
        };
        if approve {
            self.wf
                .rma_approve(&mut tx, &rma, warehouse_id.trim(), &act)
                .await?;
        } else {
            self.wf.rma_reject(&mut tx, &rma, &act).await?;
        }
        self.wf.outbox.commit(tx).await?;
        self.find(actor, &id.to_string()).await
    }
}

#[tonic::async_trait]
impl ReturnService for ReturnsApi {
    async fn request_return(
        &self,
        request: Request<pb::RequestReturnRequest>,
    ) -> Result<Response<pb::RequestReturnResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let rma = self.request(&actor, request.into_inner()).await?;
        Ok(Response::new(pb::RequestReturnResponse {
            rma: Some(rma_pb(&rma)),
        }))
    }

    async fn approve_return(
        &self,
        request: Request<pb::ApproveReturnRequest>,
    ) -> Result<Response<pb::ApproveReturnResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&[Role::Operator])?;
        let r = request.into_inner();
        let rma = self
            .decide(
                &actor,
                &r.return_id,
                &r.reviewer_id,
                &r.reason,
                &r.return_warehouse_id,
                true,
            )
            .await?;
        Ok(Response::new(pb::ApproveReturnResponse {
            rma: Some(rma_pb(&rma)),
        }))
    }

    async fn reject_return(
        &self,
        request: Request<pb::RejectReturnRequest>,
    ) -> Result<Response<pb::RejectReturnResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&[Role::Operator])?;
        let r = request.into_inner();
        let rma = self
            .decide(&actor, &r.return_id, &r.reviewer_id, &r.reason, "", false)
            .await?;
        Ok(Response::new(pb::RejectReturnResponse {
            rma: Some(rma_pb(&rma)),
        }))
    }

    async fn get_return(
        &self,
        request: Request<pb::GetReturnRequest>,
    ) -> Result<Response<pb::GetReturnResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let rma = self.find(&actor, request.get_ref().id.trim()).await?;
        Ok(Response::new(pb::GetReturnResponse {
            rma: Some(rma_pb(&rma)),
        }))
    }

    async fn list_returns(
        &self,
        request: Request<pb::ListReturnsRequest>,
    ) -> Result<Response<pb::ListReturnsResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let customer_id = super::listed_customer(&actor, &r.customer_id, "returns", &mut v);
        let order_id = super::optional_order_id(&r.order_id, &mut v);
        runtime::telemetry::record_order_id(&r.order_id.trim());
        let statuses: Vec<String> = r
            .statuses
            .iter()
            .filter_map(|s| pb::ReturnStatus::try_from(*s).ok())
            .filter(|s| *s != pb::ReturnStatus::Unspecified)
            .map(|s| {
                s.as_str_name()
                    .trim_start_matches("RETURN_STATUS_")
                    .to_owned()
            })
            .collect();
        let after = super::orders::decode_page_token(&r.page_token, &mut v);
        let limit = page_size(r.page_size, 50)?;
        v.into_result()?;
        let filter = store::returns::Filter {
            order_id,
            customer_id,
            statuses,
            after,
            limit: limit + 1,
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let mut rmas = store::returns::list(&mut conn, &filter)
            .await
            .map_err(Error::from)?;
        let next_page_token = if rmas.len() as i64 > limit {
            rmas.truncate(limit as usize);
            rmas.last()
                .map(|r| format!("{}_{}", r.row.requested_at.timestamp_micros(), r.row.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListReturnsResponse {
            returns: rmas.iter().map(rma_pb).collect(),
            next_page_token,
        }))
    }
}
