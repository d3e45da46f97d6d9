//! `OrderService`: intake, queries, cancellation, receipt and problem reports.

use prost::Message as _;
use runtime::grpc::FieldViolations;
use runtime::{Actor, Role};
use sha2::{Digest as _, Sha256};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use contracts::common;
use contracts::orders::order_service_server::OrderService;
use contracts::orders::{self as pb, OrderPlaced};
use contracts::time::{from_timestamp, to_timestamp};

use super::{page_size, parse_order_id, who};
use crate::catalog;
use crate::convert::{invoice_request, invoice_request_pb, order_view_pb, problem_pb};
use crate::domain::saga::{CancelReason, Input};
use crate::domain::{NewOrder, Order, OrderNumber, OrderStatus};
use crate::error::Error;
use crate::pricing;
use crate::store::shipments::{ProblemLine, ProblemRow};
use crate::store::{self, orders::Inserted, timeline};
use crate::workflow::{Facts, Workflow};

#[derive(Clone)]
pub struct OrdersApi {
    pool: sqlx::PgPool,
    wf: Workflow,
}

const ANY_CALLER: [Role; 3] = [Role::Customer, Role::Operator, Role::Service];

impl OrdersApi {
    pub fn new(pool: sqlx::PgPool, wf: Workflow) -> Self {
        Self { pool, wf }
    }

    /// A valid request as a new order for this caller (a guest id assigned if need be).
    fn new_order(actor: &Actor, request: PlaceOrderRequest) -> Result<NewOrder, Error> {
        let mut new_order = NewOrder::try_from(request)?;
        if new_order.customer.id.is_empty() {
            new_order.customer.id = if actor.is_staff() {
                format!("guest-{}", Uuid::new_v4().simple())
            } else {
                actor.id.clone()
            };
        }
        if !actor.may_access_customer(&new_order.customer.id) {
            let mut v = FieldViolations::new();
            v.add("customer.id", "must be the id of the calling customer");
            return Err(v.into());
        }
        Ok(new_order)
    }

    /// Prices `request` as PlaceOrder would, without placing it or using up its codes.
    pub(super) async fn quote(
        &self,
        actor: &Actor,
        request: PlaceOrderRequest,
    ) -> Result<NewOrder, Error> {
        let mut new_order = Self::new_order(actor, request)?;
        let now = self.wf.clock.now();
        let mut conn = self.pool.acquire().await?;
        let checked = self.wf.config.catalog_check;
        catalog::apply(&mut conn, &mut new_order.lines, checked, "lines").await?;
        pricing::price(&mut conn, &mut new_order, now, pricing::Purpose::Quote).await?;
        Ok(new_order)
    }

    async fn place(&self, actor: &Actor, request: PlaceOrderRequest) -> Result<Order, Error> {
        // The hash covers the whole request: a replay must be the same request.
        let request_hash = Sha256::digest(request.encode_to_vec()).to_vec();
        let mut new_order = Self::new_order(actor, request)?;

        let now = self.wf.clock.now();
        let mut tx = self.pool.begin().await?;
        // A replay answers with the first order, before its codes are checked again (the first
        // order may have used the last use of one).
        if let Some((order, earlier)) =
            store::orders::by_request_id(&mut tx, &new_order.request_id).await?
        {
            return replay(order, &earlier, &request_hash, &new_order.request_id);
        }
        let checked = self.wf.config.catalog_check;
        catalog::apply(&mut tx, &mut new_order.lines, checked, "lines").await?;
        let redemptions =
            match pricing::price(&mut tx, &mut new_order, now, pricing::Purpose::Place).await {
                Ok(redemptions) => redemptions,
                Err(refused @ Error::InvalidArgument(_)) => {
                    // The same request sent twice at once: the second waited for the first's
                    // codes and found their last use gone — to the first, which it replays.
                    return match store::orders::by_request_id(&mut tx, &new_order.request_id)
                        .await?
                    {
                        Some((order, earlier)) => {
                            replay(order, &earlier, &request_hash, &new_order.request_id)
                        }
                        None => Err(refused),
                    };
                }
                Err(other) => return Err(other),
            };
        let order = match store::orders::insert(&mut tx, &new_order, &request_hash, now).await? {
            Inserted::Existing {
                order,
                request_hash: earlier,
            } => return replay(order, &earlier, &request_hash, &new_order.request_id),
            Inserted::New(order) => order,
        };
        if let Some(asked) = &new_order.invoice_request {
            store::invoices::save_request(&mut tx, order.id, asked).await?;
        }
        store::pricing::redeem(
            &mut tx,
            order.id,
            &order.customer.id,
            &order.customer.email,
            order.total.currency.as_str(),
            &redemptions,
            now,
        )
        .await?;
        let placed = OrderPlaced {
            // The token itself goes only to payments, with the payment request.
            payment_token_fingerprint: new_order
                .payment
                .token
                .as_deref()
                .filter(|t| !t.trim().is_empty())
                .map(runtime::pan::fingerprint)
                .unwrap_or_default(),
            ..OrderPlaced::from(&order)
        };
        let event_id = self.wf.outbox.append(&mut tx, &placed).await?;
        timeline::append(
            &mut tx,
            timeline::Entry {
                order_id: order.id,
                occurred_at: now,
                kind: "order.placed",
                summary: format!(
                    "order {} placed on {} for {}",
                    order.number,
                    order.channel.as_str().to_lowercase(),
                    order.total
                ),
                actor_id: &actor.id,
                actor_type: who(actor).kind,
                reason: None,
                status_before: None,
                status_after: Some(OrderStatus::Pending),
                event_id: Some(event_id),
            },
        )
        .await?;
        self.wf.outbox.commit(tx).await?;
        self.wf.metrics.placed(order.channel);
        runtime::telemetry::record_order_id(&order.id);
        tracing::info!(order_id = %order.id, order_number = %order.number, "order placed");
        Ok(order)
    }

    /// The order `id_or_number`, if the caller may see it.
    pub(super) async fn find(&self, actor: &Actor, id_or_number: &str) -> Result<Order, Error> {
        let mut conn = self.pool.acquire().await?;
        let order = match Uuid::parse_str(id_or_number) {
            Ok(id) => store::orders::get(&mut conn, id).await?,
            Err(_) if OrderNumber::looks_like(id_or_number) => {
                store::orders::get_by_number(&mut conn, id_or_number).await?
            }
            Err(_) => {
                let mut v = FieldViolations::new();
                v.add("id", "must be an order id (UUID) or an order number (OC-…)");
                return Err(v.into());
            }
        };
        let order = order.ok_or_else(|| Error::NotFound(format!("order {id_or_number}")))?;
        if !actor.may_access_customer(&order.customer.id) {
            return Err(Error::PermissionDenied(
                "a customer may only see and change their own orders".into(),
            ));
        }
        // Every handler that names an order finds it here: GetOrder, CancelOrder,
        // GetOrderTimeline, ConfirmReceipt, ReportProblem.
        runtime::telemetry::record_order_id(&order.id);
        Ok(order)
    }

    /// The full view of an order (saga state, shipments, problems).
    pub(super) async fn view(&self, order: Order) -> Result<pb::Order, Error> {
        let mut conn = self.pool.acquire().await?;
        let saga = store::saga::read(&mut conn, order.id).await?;
        let shipments = store::shipments::list(&mut conn, order.id).await?;
        let problems = store::shipments::problems(&mut conn, order.id).await?;
        let (return_status, returned) = store::returns::order_summary(&mut conn, order.id).await?;
        let version = store::updates::version(&mut conn, order.id).await?;
        let (invoice_request, invoice_number) =
            store::invoices::order_view(&mut conn, order.id).await?;
        let mut view = order_view_pb(order, saga.as_ref(), &shipments, &problems);
        view.version = version;
        view.invoice_request = invoice_request.as_ref().map(invoice_request_pb);
        view.invoice_number = invoice_number.unwrap_or_default();
        view.return_status =
            pb::OrderReturnStatus::from_str_name(&format!("ORDER_RETURN_STATUS_{return_status}"))
                .unwrap_or(pb::OrderReturnStatus::None)
                .into();
        for line in &mut view.lines {
            if let Some((_, n)) = returned.iter().find(|(id, _)| *id == line.line_id) {
                line.returned_quantity = *n;
            }
        }
        Ok(view)
    }

    /// Applies a person's action to an order they may act on, then returns its view.
    async fn act(
        &self,
        actor: &Actor,
        order_id: &str,
        input: Input,
        facts: Facts,
    ) -> Result<pb::Order, Error> {
        let order = self
            .find(actor, &parse_order_id("order_id", order_id)?.to_string())
            .await?;
        let mut tx = self.pool.begin().await?;
        self.wf.apply(&mut tx, order.id, input, &facts).await?;
        self.wf.outbox.commit(tx).await?;
        let order = self.find(actor, &order.id.to_string()).await?;
        self.view(order).await
    }
}

use contracts::orders::PlaceOrderRequest;

/// The answer to a request_id used before: the first order if the request is the same.
fn replay(order: Order, earlier: &[u8], hash: &[u8], request_id: &str) -> Result<Order, Error> {
    if earlier == hash {
        Ok(order)
    } else {
        Err(Error::AlreadyExists(format!(
            "request_id {request_id} was already used for a different request (order {})",
            order.number
        )))
    }
}

fn cancel_reason(actor: &Actor, raw: i32) -> Result<CancelReason, Error> {
    let reason = pb::CancelReason::try_from(raw).unwrap_or(pb::CancelReason::Unspecified);
    match reason {
        pb::CancelReason::Unspecified if actor.is_staff() => Ok(CancelReason::Operator),
        pb::CancelReason::Unspecified | pb::CancelReason::CustomerRequest => {
            Ok(CancelReason::CustomerRequest)
        }
        pb::CancelReason::Operator if actor.is_staff() => Ok(CancelReason::Operator),
        pb::CancelReason::OutOfStock if actor.is_staff() => Ok(CancelReason::OutOfStock),
        pb::CancelReason::FulfillmentFailed if actor.is_staff() => {
            Ok(CancelReason::FulfillmentFailed)
        }
        _ => {
            let mut v = FieldViolations::new();
            v.add(
                "reason",
                "must be CANCEL_REASON_CUSTOMER_REQUEST, or for staff OPERATOR, OUT_OF_STOCK or FULFILLMENT_FAILED",
            );
            Err(v.into())
        }
    }
}

#[tonic::async_trait]
impl OrderService for OrdersApi {
    async fn place_order(
        &self,
        request: Request<PlaceOrderRequest>,
    ) -> Result<Response<pb::PlaceOrderResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        // The invoice request as stored (normalised), for the answer: a replay's is the same,
        // since the same request_id must come with the same request.
        let asked = request
            .get_ref()
            .invoice_request
            .as_ref()
            .and_then(|r| invoice_request(&mut FieldViolations::new(), r));
        let order = self.place(&actor, request.into_inner()).await?;
        // A new order has no saga facts yet: answer without reading it back.
        let order = if order.status == OrderStatus::Pending {
            pb::Order {
                invoice_request: asked.as_ref().map(invoice_request_pb),
                ..pb::Order::from(order)
            }
        } else {
            self.view(order).await?
        };
        Ok(Response::new(pb::PlaceOrderResponse { order: Some(order) }))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let order = self.find(&actor, request.get_ref().id.trim()).await?;
        let order = self.view(order).await?;
        Ok(Response::new(pb::GetOrderResponse { order: Some(order) }))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let customer_id = super::listed_customer(&actor, &r.customer_id, "orders", &mut v);
        let statuses: Vec<String> = r
            .statuses
            .iter()
            .filter_map(|s| pb::OrderStatus::try_from(*s).ok())
            .filter(|s| *s != pb::OrderStatus::Unspecified)
            .map(|s| {
                s.as_str_name()
                    .trim_start_matches("ORDER_STATUS_")
                    .to_owned()
            })
            .collect();
        let channel = common::Channel::try_from(r.channel)
            .ok()
            .filter(|c| *c != common::Channel::Unspecified)
            .map(|c| c.as_str_name().trim_start_matches("CHANNEL_").to_owned());
        let after = decode_page_token(&r.page_token, &mut v);
        let limit = page_size(r.page_size, 50)?;
        v.into_result()?;
        let filter = store::orders::Filter {
            customer_id,
            statuses,
            channel,
            created_after: r.created_after.as_ref().and_then(from_timestamp),
            created_before: r.created_before.as_ref().and_then(from_timestamp),
            hold_kind: None,
            after,
            limit,
        };
        let (orders, next_page_token) = self.page(&filter).await?;
        Ok(Response::new(pb::ListOrdersResponse {
            orders,
            next_page_token,
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        v.check(!r.request_id.trim().is_empty(), "request_id", "is required");
        v.check(
            r.note.chars().count() <= 1000,
            "note",
            "must be at most 1000 characters",
        );
        v.into_result()?;
        let reason = cancel_reason(&actor, r.reason)?;
        let current = self
            .find(
                &actor,
                &parse_order_id("order_id", &r.order_id)?.to_string(),
            )
            .await?;
        if current.status == OrderStatus::Cancelled {
            // Cancelling twice is the same request: answer with the cancelled order.
            let order = self.view(current).await?;
            return Ok(Response::new(pb::CancelOrderResponse {
                order: Some(order),
            }));
        }
        let note = if r.note.trim().is_empty() {
            "cancelled on request".to_owned()
        } else {
            r.note.trim().to_owned()
        };
        let facts = Facts::by(who(&actor)).because(note);
        let order = self
            .act(&actor, &r.order_id, Input::Cancel(reason), facts)
            .await?;
        Ok(Response::new(pb::CancelOrderResponse {
            order: Some(order),
        }))
    }

    async fn get_order_timeline(
        &self,
        request: Request<pb::GetOrderTimelineRequest>,
    ) -> Result<Response<pb::GetOrderTimelineResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let r = request.into_inner();
        let order = self
            .find(
                &actor,
                &parse_order_id("order_id", &r.order_id)?.to_string(),
            )
            .await?;
        let limit = page_size(r.page_size, 100)?;
        let after = if r.page_token.is_empty() {
            None
        } else {
            Some(Uuid::parse_str(&r.page_token).map_err(|_| {
                let mut v = FieldViolations::new();
                v.add("page_token", "is not a token this API returned");
                Error::InvalidArgument(v)
            })?)
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let rows = timeline::list(&mut conn, order.id, after, limit + 1)
            .await
            .map_err(Error::from)?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.get(limit as usize - 1)
                .map(|r| r.id.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let status = |s: &Option<String>| {
            s.as_deref()
                .and_then(OrderStatus::parse)
                .map(crate::convert::status_pb)
                .unwrap_or(pb::OrderStatus::Unspecified) as i32
        };
        let entries = rows
            .iter()
            .take(limit as usize)
            .map(|e| pb::TimelineEntry {
                id: e.id.to_string(),
                occurred_at: Some(to_timestamp(e.occurred_at)),
                kind: e.kind.clone(),
                summary: e.summary.clone(),
                actor_id: e.actor_id.clone(),
                actor_type: pb::ActorType::from_str_name(&format!(
                    "ACTOR_TYPE_{}",
                    e.actor_type.to_uppercase()
                ))
                .unwrap_or(pb::ActorType::Unspecified)
                .into(),
                reason: e.reason.clone().unwrap_or_default(),
                status_before: status(&e.status_before),
                status_after: status(&e.status_after),
                event_id: e.event_id.map(|id| id.to_string()).unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(pb::GetOrderTimelineResponse {
            entries,
            next_page_token,
        }))
    }

    async fn confirm_receipt(
        &self,
        request: Request<pb::ConfirmReceiptRequest>,
    ) -> Result<Response<pb::ConfirmReceiptResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let r = request.into_inner();
        let current = self
            .find(
                &actor,
                &parse_order_id("order_id", &r.order_id)?.to_string(),
            )
            .await?;
        if matches!(
            current.status,
            OrderStatus::Accepted | OrderStatus::Completed
        ) {
            let order = self.view(current).await?;
            return Ok(Response::new(pb::ConfirmReceiptResponse {
                order: Some(order),
            }));
        }
        let facts = Facts::by(who(&actor)).because("receipt confirmed");
        let order = self
            .act(&actor, &r.order_id, Input::ConfirmReceipt, facts)
            .await?;
        Ok(Response::new(pb::ConfirmReceiptResponse {
            order: Some(order),
        }))
    }

    async fn report_problem(
        &self,
        request: Request<pb::ReportProblemRequest>,
    ) -> Result<Response<pb::ReportProblemResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let r = request.into_inner();
        let order = self
            .find(
                &actor,
                &parse_order_id("order_id", &r.order_id)?.to_string(),
            )
            .await?;

        let mut v = FieldViolations::new();
        let request_id = r.request_id.trim().to_owned();
        v.check(
            !request_id.is_empty() && request_id.len() <= 128,
            "request_id",
            "is required (at most 128 characters)",
        );
        let kind =
            common::ProblemKind::try_from(r.kind).unwrap_or(common::ProblemKind::Unspecified);
        v.check(
            kind != common::ProblemKind::Unspecified,
            "kind",
            "must be PROBLEM_KIND_MISSING_ITEM, _DAMAGED_ITEM, _WRONG_ITEM or _OTHER",
        );
        let description = r.description.trim().to_owned();
        v.check(!description.is_empty(), "description", "is required");
        v.check(
            description.chars().count() <= 2000,
            "description",
            "must be at most 2000 characters",
        );
        // No lines named means the whole order (as the contract says).
        let mut lines: Vec<ProblemLine> = if r.lines.is_empty() {
            order
                .lines
                .iter()
                .map(|ol| ProblemLine {
                    line_id: ol.line_id.clone(),
                    sku: ol.sku.clone(),
                    quantity: ol.quantity,
                })
                .collect()
        } else {
            Vec::new()
        };
        for (i, l) in r.lines.iter().enumerate() {
            match order.lines.iter().find(|ol| ol.line_id == l.line_id) {
                None => v.add(format!("lines[{i}].line_id"), "is not a line of this order"),
                Some(ol) if l.quantity < 1 || l.quantity > ol.quantity => v.add(
                    format!("lines[{i}].quantity"),
                    format!("must be between 1 and {}", ol.quantity),
                ),
                Some(ol) => lines.push(ProblemLine {
                    line_id: ol.line_id.clone(),
                    sku: ol.sku.clone(),
                    quantity: l.quantity,
                }),
            }
        }
        v.check(
            r.attachment_urls.len() <= 10,
            "attachment_urls",
            "at most 10",
        );
        for (i, url) in r.attachment_urls.iter().enumerate() {
            v.check(
                url.starts_with("https://"),
                format!("attachment_urls[{i}]"),
                "must be an https:// URL",
            );
        }
        v.into_result()?;

        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        if let Some(existing) = store::shipments::problem_by_request(&mut tx, &request_id)
            .await
            .map_err(Error::from)?
        {
            if existing.order_id != order.id {
                return Err(Error::AlreadyExists(format!(
                    "request_id {request_id} was already used for another order"
                ))
                .into());
            }
            drop(tx);
            let problem = problem_pb(&existing);
            let order = self.view(order).await?;
            return Ok(Response::new(pb::ReportProblemResponse {
                order: Some(order),
                problem: Some(problem),
            }));
        }
        let now = self.wf.clock.now();
        let problem = ProblemRow {
            id: Uuid::now_v7(),
            order_id: order.id,
            request_id,
            kind: kind.as_str_name().to_owned(),
            description: description.clone(),
            lines: sqlx::types::Json(lines.clone()),
            attachment_urls: sqlx::types::Json(r.attachment_urls.clone()),
            reported_at: now,
            case_id: None,
            resolution: None,
            resolved_at: None,
        };
        store::shipments::insert_problem(&mut tx, &problem)
            .await
            .map_err(Error::from)?;
        let mut facts = Facts::by(who(&actor)).because(description.clone());
        facts.problem = Some((
            problem.id,
            pb::OrderProblemReported {
                order_id: order.id.to_string(),
                order_number: order.number.clone(),
                problem_id: problem.id.to_string(),
                customer: Some(crate::convert::customer_pb(&order.customer)),
                kind: kind.into(),
                description,
                lines: lines
                    .iter()
                    .map(|l| pb::ProblemLine {
                        line_id: l.line_id.clone(),
                        sku: l.sku.clone(),
                        quantity: l.quantity,
                    })
                    .collect(),
                attachment_urls: r.attachment_urls,
                order_total: Some(crate::convert::money_pb(order.total)),
                reported_at: Some(to_timestamp(now)),
            },
        ));
        self.wf
            .apply(&mut tx, order.id, Input::ReportProblem, &facts)
            .await
            .map_err(Error::from)?;
        self.wf.outbox.commit(tx).await.map_err(Error::from)?;
        let problem = problem_pb(&problem);
        let order = self.find(&actor, &order.id.to_string()).await?;
        let order = self.view(order).await?;
        Ok(Response::new(pb::ReportProblemResponse {
            order: Some(order),
            problem: Some(problem),
        }))
    }
}

impl OrdersApi {
    /// One page of orders matching `filter`, and the token of the next.
    pub(super) async fn page(
        &self,
        filter: &store::orders::Filter,
    ) -> Result<(Vec<pb::Order>, String), Error> {
        let mut probe = filter.clone();
        probe.limit = filter.limit + 1;
        let ids = {
            let mut conn = self.pool.acquire().await?;
            store::orders::list_ids(&mut conn, &probe).await?
        };
        let more = ids.len() as i64 > filter.limit;
        let ids: Vec<_> = ids.into_iter().take(filter.limit as usize).collect();
        let next = if more {
            ids.last()
                .map(|(t, id)| format!("{}_{id}", t.timestamp_micros()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let mut orders = Vec::with_capacity(ids.len());
        for (_, id) in ids {
            let order = {
                let mut conn = self.pool.acquire().await?;
                store::orders::get(&mut conn, id).await?
            };
            if let Some(order) = order {
                orders.push(self.view(order).await?);
            }
        }
        Ok((orders, next))
    }
}

/// Page tokens are `<created_at micros>_<order id>` of the last order of the previous page.
pub(super) fn decode_page_token(
    token: &str,
    v: &mut FieldViolations,
) -> Option<(chrono::DateTime<chrono::Utc>, Uuid)> {
    if token.is_empty() {
        return None;
    }
    let parsed = token.split_once('_').and_then(|(micros, id)| {
        Some((
            chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            Uuid::parse_str(id).ok()?,
        ))
    });
    if parsed.is_none() {
        v.add("page_token", "is not a token this API returned");
    }
    parsed
}

impl OrdersApi {
    pub(super) fn wf(&self) -> &Workflow {
        &self.wf
    }

    pub(super) async fn view_by_id(&self, actor: &Actor, id: Uuid) -> Result<pb::Order, Error> {
        let order = self.find(actor, &id.to_string()).await?;
        self.view(order).await
    }
}
