//! `OrderUpdateService`: PreviewOrderUpdate and UpdateOrder (customers on their own orders,
//! operators on any). The rules are [`crate::updates`]'s; this module converts, checks the
//! caller, the request_id and the version, and writes the update with its timeline entry.

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
use crate::domain::updates::StockChange;
use crate::error::Error;
use crate::store::{self, timeline};
use crate::updates::{self, Plan};

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
        let plan = updates::plan(&mut conn, &order, shipped_any, &update, now).await?;
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
        if let Some(done) = store::updates::by_request_id(&mut tx, &r.request_id)
            .await
            .map_err(Error::from)?
        {
            drop(tx);
            return self.replay(&actor, done, &hash, &r.request_id).await;
        }
        let version = store::updates::lock_version(&mut tx, order.id)
            .await
            .map_err(Error::from)?;
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
        let plan = updates::plan(&mut tx, &order, shipped_any, &update, now).await?;
        let summary = plan.summary();
        let who = who(&actor);
        let inserted = store::updates::insert(
            &mut tx,
            &store::updates::NewUpdate {
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
        apply(&mut tx, &plan, now).await?;
        timeline::append(
            &mut tx,
            timeline::Entry {
                order_id: order.id,
                occurred_at: now,
                kind: "orders.order.updated",
                summary,
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
        tx.commit().await.map_err(Error::from)?;
        tracing::info!(order_id = %order.id, version = version + 1, "order updated");
        let view = self.orders.view_by_id(&actor, order.id).await?;
        Ok(Response::new(pb::UpdateOrderResponse {
            order: Some(view),
            total_before: Some(money_pb(plan.before.total)),
            amount_to_charge: Some(money_pb(plan.to_charge())),
            amount_to_refund: Some(money_pb(plan.to_refund())),
            stock_changes: stock_pb(&plan.stock),
        }))
    }
}

/// Writes the plan to the order.
async fn apply(
    tx: &mut sqlx::PgConnection,
    plan: &Plan,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    store::updates::set_order(
        tx,
        plan.before.id,
        plan.customer.as_ref(),
        plan.address.as_ref(),
        now,
    )
    .await?;
    if let Some((edited, priced, redemptions)) = &plan.lines {
        store::updates::set_lines(tx, plan.before.id, edited, priced, redemptions).await?;
    }
    Ok(())
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
        }))
    }
}
