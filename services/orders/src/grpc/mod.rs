//! The orders gRPC API. Requests are converted to domain values in [`convert`] (every bad field
//! reported at once), handlers call the store inside one transaction, errors map once through
//! [`crate::error::Error`].

mod convert;

use prost::Message as _;
use runtime::{Actor, Role};
use sha2::{Digest as _, Sha256};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use contracts::orders::order_service_server::OrderService;
use contracts::orders::{
    GetOrderRequest, GetOrderResponse, OrderPlaced, PlaceOrderRequest, PlaceOrderResponse,
};
use messaging::Outbox;

use crate::domain::{NewOrder, Order, OrderNumber, OrderStatus};
use crate::error::Error;
use crate::store::{self, orders::Inserted, timeline};

#[derive(Clone)]
pub struct OrdersApi {
    pool: sqlx::PgPool,
    outbox: Outbox,
    clock: runtime::Clock,
}

impl OrdersApi {
    pub fn new(pool: sqlx::PgPool, outbox: Outbox, clock: runtime::Clock) -> Self {
        Self {
            pool,
            outbox,
            clock,
        }
    }

    async fn place(&self, actor: &Actor, request: PlaceOrderRequest) -> Result<Order, Error> {
        // The hash covers the whole request: a replay must be the same request.
        let request_hash = Sha256::digest(request.encode_to_vec()).to_vec();
        let mut new_order = NewOrder::try_from(request)?;
        if new_order.customer.id.is_empty() {
            new_order.customer.id = if actor.is_staff() {
                format!("guest-{}", Uuid::new_v4().simple())
            } else {
                actor.id.clone()
            };
        }
        if !actor.may_access_customer(&new_order.customer.id) {
            return Err(Error::InvalidArgument({
                let mut v = runtime::grpc::FieldViolations::new();
                v.add("customer.id", "must be the id of the calling customer");
                v
            }));
        }

        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let order = match store::orders::insert(&mut tx, &new_order, &request_hash, now).await? {
            Inserted::Existing {
                order,
                request_hash: earlier,
            } => {
                return if earlier == request_hash {
                    Ok(order)
                } else {
                    Err(Error::AlreadyExists(format!(
                        "request_id {} was already used for a different request (order {})",
                        new_order.request_id, order.number
                    )))
                };
            }
            Inserted::New(order) => order,
        };
        let event_id = self
            .outbox
            .append(&mut tx, &OrderPlaced::from(&order))
            .await?;
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
                actor_type: actor_type(actor),
                reason: None,
                status_before: None,
                status_after: Some(OrderStatus::Pending),
                event_id: Some(event_id),
            },
        )
        .await?;
        self.outbox.commit(tx).await?;
        tracing::info!(order_id = %order.id, order_number = %order.number, "order placed");
        Ok(order)
    }

    async fn find(&self, actor: &Actor, id_or_number: &str) -> Result<Order, Error> {
        let mut conn = self.pool.acquire().await?;
        let order = match Uuid::parse_str(id_or_number) {
            Ok(id) => store::orders::get(&mut conn, id).await?,
            Err(_) if OrderNumber::looks_like(id_or_number) => {
                store::orders::get_by_number(&mut conn, id_or_number).await?
            }
            Err(_) => {
                let mut v = runtime::grpc::FieldViolations::new();
                v.add("id", "must be an order id (UUID) or an order number (OC-…)");
                return Err(v.into());
            }
        };
        // A customer asking for someone else's order learns nothing, not even that it exists.
        order
            .filter(|o| actor.may_access_customer(&o.customer.id))
            .ok_or_else(|| Error::NotFound(format!("order {id_or_number}")))
    }
}

fn actor_type(actor: &Actor) -> &'static str {
    if actor.has(Role::Operator) {
        "operator"
    } else if actor.has(Role::Service) {
        "service"
    } else {
        "customer"
    }
}

#[tonic::async_trait]
impl OrderService for OrdersApi {
    async fn place_order(
        &self,
        request: Request<PlaceOrderRequest>,
    ) -> Result<Response<PlaceOrderResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&[Role::Customer, Role::Operator, Role::Service])?;
        let order = self.place(&actor, request.into_inner()).await?;
        Ok(Response::new(PlaceOrderResponse {
            order: Some(order.into()),
        }))
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<GetOrderResponse>, Status> {
        let actor = runtime::auth::actor(&request)?;
        actor.require_any(&[Role::Customer, Role::Operator, Role::Service])?;
        let order = self.find(&actor, request.get_ref().id.trim()).await?;
        Ok(Response::new(GetOrderResponse {
            order: Some(order.into()),
        }))
    }
}
