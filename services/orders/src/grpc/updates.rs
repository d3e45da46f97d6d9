//! `OrderUpdateService`: PreviewOrderUpdate, UpdateOrder, GetOrderUpdate and ListOrderUpdates
//! (customers on their own orders, operators on any). The rules are [`crate::updates`]'s; this
//! module converts, checks the caller, the request_id and the version, and either applies the
//! update with its timeline entry or starts [`crate::update_saga`].

use runtime::Role;
use runtime::grpc::FieldViolations;
use sha2::{Digest as _, Sha256};
use tonic::{Request, Response, Status};

use contracts::orders::order_update_service_server::OrderUpdateService;
use contracts::orders::{self as pb};
use prost::Message as _;

use super::orders::OrdersApi;
use super::who;
use crate::convert::{self, money_pb};
use crate::domain::Money;
use crate::domain::updates::{Route, Step, StockChange};
use crate::error::Error;
use crate::store::{self, timeline};
use crate::update_saga;
use crate::updates;
use contracts::time::to_timestamp;

const ANY_CALLER: [Role; 3] = [Role::Customer, Role::Operator, Role::Service];

#[derive(Clone)]
pub struct OrderUpdateApi {
    orders: OrdersApi,
    pool: sqlx::PgPool,
}

impl OrderUpdateApi {
    pub fn new(orders: OrdersApi, pool: sqlx::PgPool) -> Self {
        Self { orders, pool }
    }
}

fn stock_pb(changes: &[StockChange]) -> Vec<pb::StockChange> {
    changes
        .iter()
        .map(|s| pb::StockChange {
            line_id: s.line_id.clone(),
            sku: s.sku.clone(),
            quantity: s.quantity,
        })
        .collect()
}

fn order_id(v: &mut FieldViolations, raw: &str) -> String {
    let raw = raw.trim();
    v.check(!raw.is_empty(), "order_id", "is required");
    raw.to_owned()
}

#[tonic::async_trait]
impl OrderUpdateService for OrderUpdateApi {
    async fn preview_order_update(
        &self,
        request: Request<pb::PreviewOrderUpdateRequest>,
    ) -> Result<Response<pb::PreviewOrderUpdateResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let id = order_id(&mut v, &r.order_id);
        let update = convert::order_update(&mut v, r.update.as_ref());
        v.into_result()?;
        let order = self.orders.find(&actor, &id).await?;
        let now = self.orders.wf().clock.now();
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let version = store::updates::version(&mut conn, order.id)
            .await
            .map_err(Error::from)?;
        let shipped_any = store::saga::read(&mut conn, order.id)
            .await
            .map_err(Error::from)?
            .is_some_and(|s| s.shipped_any);
        let checked = self.orders.wf().config.catalog_check;
        let plan = updates::plan(&mut conn, &order, shipped_any, &update, checked, now).await?;
        drop(conn);
        let mut view = self.orders.view(plan.after.clone()).await?;
        // The preview shows the order as it would be, with the lines and totals it would have.
        let priced = pb::Order::from(plan.after.clone());
        view.lines = priced.lines;
        view.totals = priced.totals;
        view.total = priced.total;
        view.customer = priced.customer;
        view.shipping_address = priced.shipping_address;
        Ok(Response::new(pb::PreviewOrderUpdateResponse {
            order: Some(view),
            version,
            total_before: Some(money_pb(plan.before.total)),
            total_after: Some(money_pb(plan.after.total)),
            amount_to_charge: Some(money_pb(plan.to_charge())),
            amount_to_refund: Some(money_pb(plan.to_refund())),
            stock_changes: stock_pb(&plan.stock),
        }))
    }

    async fn update_order(
        &self,
        request: Request<pb::UpdateOrderRequest>,
    ) -> Result<Response<pb::UpdateOrderResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        v.check(!r.request_id.trim().is_empty(), "request_id", "is required");
        v.check(
            r.request_id.chars().count() <= 128,
            "request_id",
            "must be at most 128 characters",
        );
        let id = order_id(&mut v, &r.order_id);
        let reason = r.reason.trim().to_owned();
        v.check(
            !reason.is_empty(),
            "reason",
            "is required: say why the order changes",
        );
        v.check(
            reason.chars().count() <= 1000,
            "reason",
            "must be at most 1000 characters",
        );
        v.check(
            r.expected_version.is_none_or(|e| e >= 0),
            "expected_version",
            "must not be negative",
        );
        let update = convert::order_update(&mut v, r.update.as_ref());
        v.into_result()?;
        let hash = Sha256::digest(r.encode_to_vec()).to_vec();
        let order = self.orders.find(&actor, &id).await?;

        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let version = store::updates::lock_version(&mut tx, order.id)
            .await
            .map_err(Error::from)?;
        // Under the order's lock: a twin of this request that got the lock first has
        // committed by now, and is answered as it was.
        if let Some(done) = store::updates::by_request_id(&mut tx, &r.request_id)
            .await
            .map_err(Error::from)?
        {
            drop(tx);
            return self.replay(&actor, done, &hash, &r.request_id).await;
        }
        if let Some(expected) = r.expected_version
            && expected != version
        {
            return Err(Error::FailedPrecondition(format!(
                "the order changed since the preview: it is at version {version}, not \
                 {expected}; preview the update again"
            ))
            .into());
        }
        // Read again under the lock: the order may have moved on since `find`.
        let order = store::orders::get(&mut tx, order.id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound(format!("order {id}")))?;
        let shipped_any = store::saga::read(&mut tx, order.id)
            .await
            .map_err(Error::from)?
            .is_some_and(|s| s.shipped_any);
        let now = self.orders.wf().clock.now();
        let checked = self.orders.wf().config.catalog_check;
        let plan = updates::plan(&mut tx, &order, shipped_any, &update, checked, now).await?;
        if let Some(running) = store::updates::in_progress(&mut tx, order.id)
            .await
            .map_err(Error::from)?
        {
            return Err(Error::FailedPrecondition(format!(
                "update {running} of this order is still being carried out; try again once it \
                 is applied or refused (GetOrderUpdate)"
            ))
            .into());
        }
        let summary = plan.summary();
        let who = who(&actor);
        let applied = plan.applied();
        let saga = plan.route == Route::Saga;
        let (released, kept) = if saga {
            let held = store::saga::read(&mut tx, order.id)
                .await
                .map_err(Error::from)?
                .map(|s| s.allocations.0)
                .unwrap_or_default();
            updates::release_units(&held, &plan.stock)
        } else {
            (Vec::new(), Vec::new())
        };
        let adds = plan.stock.iter().any(|c| c.quantity > 0);
        let step = saga
            .then(|| Step::next(None, adds, plan.difference() > 0))
            .flatten();
        let update_id = uuid::Uuid::now_v7();
        let inserted = store::updates::insert(
            &mut tx,
            &store::updates::NewUpdate {
                id: update_id,
                order_id: order.id,
                request_id: &r.request_id,
                request_hash: &hash,
                actor_id: &who.id,
                actor_type: who.kind,
                reason: &reason,
                summary: &summary,
                version: version + 1,
                currency: order.total.currency.as_str(),
                total_before: plan.before.total.minor,
                total_after: plan.after.total.minor,
                stock_changes: &plan.stock,
                parts: plan.parts,
                state: if saga {
                    update_saga::IN_PROGRESS
                } else {
                    update_saga::APPLIED
                },
                step: step.map(Step::as_str),
                applied: &applied,
                replaced: &plan.replaced(),
                released_units: &released,
                kept_units: &kept,
                now,
            },
        )
        .await
        .map_err(Error::from)?;
        if !inserted {
            // A twin of this request committed first: answer as it did.
            drop(tx);
            let done = store::updates::by_request_id(
                &mut *self.pool.acquire().await.map_err(Error::from)?,
                &r.request_id,
            )
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::FailedPrecondition("the update vanished".into()))?;
            return self.replay(&actor, done, &hash, &r.request_id).await;
        }
        timeline::append(
            &mut tx,
            timeline::Entry {
                order_id: order.id,
                occurred_at: now,
                kind: if saga {
                    "orders.update.requested"
                } else {
                    "orders.order.updated"
                },
                summary: if saga {
                    format!("update requested: {summary}")
                } else {
                    summary
                },
                actor_id: &who.id,
                actor_type: who.kind,
                reason: Some(&reason),
                status_before: None,
                status_after: None,
                event_id: None,
            },
        )
        .await
        .map_err(Error::from)?;
        let wf = self.orders.wf();
        if saga {
            update_saga::start(&mut tx, wf, update_id)
                .await
                .map_err(Error::from)?;
        } else {
            let new_version = store::updates::write(&mut tx, order.id, &applied, now)
                .await
                .map_err(Error::from)?;
            let row = store::updates::get(&mut tx, update_id)
                .await
                .map_err(Error::from)?
                .ok_or_else(|| Error::FailedPrecondition("the update vanished".into()))?;
            update_saga::published_updated(&mut tx, wf, &row, &plan.after, new_version, now)
                .await
                .map_err(Error::from)?;
        }
        tx.commit().await.map_err(Error::from)?;
        tracing::info!(order_id = %order.id, %update_id, saga, "order update accepted");
        let view = self.orders.view_by_id(&actor, order.id).await?;
        Ok(Response::new(pb::UpdateOrderResponse {
            order: Some(view),
            total_before: Some(money_pb(plan.before.total)),
            amount_to_charge: Some(money_pb(plan.to_charge())),
            amount_to_refund: Some(money_pb(plan.to_refund())),
            stock_changes: stock_pb(&plan.stock),
            update_id: update_id.to_string(),
            state: if saga {
                pb::OrderUpdateState::InProgress
            } else {
                pb::OrderUpdateState::Applied
            }
            .into(),
        }))
    }

    async fn get_order_update(
        &self,
        request: Request<pb::GetOrderUpdateRequest>,
    ) -> Result<Response<pb::GetOrderUpdateResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let id = uuid::Uuid::parse_str(r.update_id.trim()).ok();
        v.check(id.is_some(), "update_id", "must be an update id (a UUID)");
        v.into_result()?;
        let id = id.unwrap_or_default();
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let row = store::updates::get(&mut conn, id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound(format!("order update {id}")))?;
        drop(conn);
        // The caller must be allowed to see the order (customers only their own).
        self.orders.find(&actor, &row.order_id.to_string()).await?;
        Ok(Response::new(pb::GetOrderUpdateResponse {
            update: Some(record_pb(&row)?),
        }))
    }

    async fn list_order_updates(
        &self,
        request: Request<pb::ListOrderUpdatesRequest>,
    ) -> Result<Response<pb::ListOrderUpdatesResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&ANY_CALLER)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let id = order_id(&mut v, &r.order_id);
        v.into_result()?;
        let order = self.orders.find(&actor, &id).await?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let rows = store::updates::of_order(&mut conn, order.id)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListOrderUpdatesResponse {
            updates: rows.iter().map(record_pb).collect::<Result<_, _>>()?,
        }))
    }
}

fn state_pb(state: &str) -> pb::OrderUpdateState {
    match state {
        update_saga::IN_PROGRESS => pb::OrderUpdateState::InProgress,
        update_saga::APPLIED => pb::OrderUpdateState::Applied,
        update_saga::REFUSED => pb::OrderUpdateState::Refused,
        _ => pb::OrderUpdateState::Unspecified,
    }
}

fn record_pb(row: &store::updates::UpdateRow) -> Result<pb::OrderUpdateRecord, Error> {
    let currency = crate::domain::Currency::parse(&row.currency)
        .ok_or_else(|| Error::FailedPrecondition("the update's currency is unknown".into()))?;
    Ok(pb::OrderUpdateRecord {
        update_id: row.id.to_string(),
        order_id: row.order_id.to_string(),
        request_id: row.request_id.clone(),
        state: state_pb(&row.state).into(),
        summary: row.summary.clone(),
        reason: row.reason.clone(),
        requested_by: row.actor_id.clone(),
        total_before: Some(money_pb(Money::new(currency, row.total_before_minor))),
        total_after: Some(money_pb(Money::new(currency, row.total_after_minor))),
        stock_changes: stock_pb(&row.stock_changes.0),
        refused_reason: row.refused_reason.clone().unwrap_or_default(),
        requested_at: Some(to_timestamp(row.created_at)),
        finished_at: row.finished_at.map(to_timestamp),
    })
}

impl OrderUpdateApi {
    /// The answer to a request_id used before: the update's outcome if the request is the same.
    async fn replay(
        &self,
        actor: &runtime::Actor,
        done: store::updates::UpdateRow,
        hash: &[u8],
        request_id: &str,
    ) -> Result<Response<pb::UpdateOrderResponse>, Status> {
        if done.request_hash != hash {
            return Err(Error::AlreadyExists(format!(
                "request_id {request_id} was already used for a different update"
            ))
            .into());
        }
        let view = self.orders.view_by_id(actor, done.order_id).await?;
        let currency = crate::domain::Currency::parse(&done.currency)
            .ok_or_else(|| Error::FailedPrecondition("the update's currency is unknown".into()))?;
        let difference = done.total_after_minor - done.total_before_minor;
        Ok(Response::new(pb::UpdateOrderResponse {
            order: Some(view),
            total_before: Some(money_pb(Money::new(currency, done.total_before_minor))),
            amount_to_charge: Some(money_pb(Money::new(currency, difference.max(0)))),
            amount_to_refund: Some(money_pb(Money::new(currency, (-difference).max(0)))),
            stock_changes: stock_pb(&done.stock_changes.0),
            update_id: done.id.to_string(),
            state: state_pb(&done.state).into(),
        }))
    }
}
