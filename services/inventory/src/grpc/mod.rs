//! The inventory gRPC API. Requests are converted to domain values in [`convert`] (every bad
//! field reported at once), handlers work inside one transaction through the store, and errors
//! map once through [`crate::error::Error`].
//!
//! Catalog and availability reads are open to every signed-in caller (a storefront shows
//! them); everything that changes stock or plans purchasing needs an operator or a service.

mod convert;

use std::collections::{HashMap, HashSet};
use std::pin::Pin;

use prost::Message as _;
use runtime::grpc::FieldViolations;
use runtime::{Actor, Role};
use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use contracts::inventory as pb;
use contracts::inventory::inventory_service_server::InventoryService;
use contracts::time::to_timestamp;

use crate::app::Shared;
use crate::domain::catalog::{Code, Upsert, Warehouse};
use crate::domain::stock::{MovementKind, StockLevel};
use crate::error::Error;
use crate::replenishment;
use crate::stock_changes::{self, Touched};
use crate::store;
use crate::store::requests::Claim;
use crate::watch::{Hub, Signal};

const READERS: &[Role] = &[Role::Customer, Role::Operator, Role::Service];
const STAFF: &[Role] = &[Role::Operator, Role::Service];

#[derive(Clone)]
pub struct InventoryApi {
    pool: sqlx::PgPool,
    shared: Shared,
    hub: Hub,
}

impl InventoryApi {
    pub fn new(pool: sqlx::PgPool, shared: Shared, hub: Hub) -> Self {
        Self { pool, shared, hub }
    }
}

fn require<T>(request: &Request<T>, roles: &[Role]) -> Result<Actor, Status> {
    let actor = runtime::auth::actor(request)?;
    actor.require_any(roles)?;
    Ok(actor)
}

/// Fails with every recorded violation, if any.
fn valid(v: FieldViolations) -> Result<(), Error> {
    if v.is_empty() { Ok(()) } else { Err(v.into()) }
}

async fn item_exists(
    conn: &mut PgConnection,
    sku: &str,
) -> Result<crate::domain::catalog::Item, Error> {
    store::catalog::get_item(conn, sku)
        .await?
        .ok_or_else(|| Error::NotFound(format!("item {sku}")))
}

async fn warehouse_exists(conn: &mut PgConnection, id: &str) -> Result<Warehouse, Error> {
    store::catalog::get_warehouse(conn, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("warehouse {id}")))
}

/// The named bin, or the warehouse's receiving bin when none is named.
fn bin_of(warehouse: &Warehouse, bin: Option<&Code>) -> Result<String, Error> {
    match bin {
        Some(code) => warehouse
            .bin(code.as_str())
            .map(|b| b.code.clone())
            .ok_or_else(|| Error::NotFound(format!("bin {code} in warehouse {}", warehouse.id))),
        None => warehouse
            .receiving_bin()
            .map(|b| b.code.clone())
            .ok_or_else(|| {
                Error::FailedPrecondition(format!(
                    "warehouse {} has no pickable bin to receive into; name a bin",
                    warehouse.id
                ))
            }),
    }
}

/// What AIP-155 makes of a repeated request id: the first answer, or a refusal.
fn replay<M: prost::Message + Default>(
    method: &str,
    request_id: &str,
    hash: &[u8],
    earlier_hash: &[u8],
    response: &[u8],
) -> Result<M, Error> {
    if earlier_hash != hash {
        return Err(Error::AlreadyExists(format!(
            "request_id {request_id} was already used for a different {method} request"
        )));
    }
    M::decode(response).map_err(|err| {
        Error::Store(store::StoreError::Corrupt(format!(
            "saved {method} response for {request_id}: {err}"
        )))
    })
}

impl InventoryApi {
    async fn upsert_item(&self, request: pb::UpsertItemRequest) -> Result<pb::Item, Error> {
        let mut v = FieldViolations::new();
        let spec = convert::item_spec(&mut v, request.item.as_ref());
        let Some(spec) = spec else {
            return Err(v.into());
        };
        valid(v)?;
        let now = self.shared.clock.now();
        let mut tx = self.pool.begin().await?;
        let existing = store::catalog::lock_item(&mut tx, spec.sku.as_str()).await?;
        let (item, upsert) = spec.resolve(existing.as_ref(), now);
        if upsert == Upsert::Unchanged {
            tx.commit().await?;
            return Ok(item.into());
        }
        let created = store::catalog::save_item(&mut tx, &item).await?;
        let alerts_change = existing
            .as_ref()
            .is_some_and(|e| e.reorder_point != item.reorder_point || e.active != item.active);
        if alerts_change {
            for warehouse_id in store::stock::warehouses_of(&mut tx, &item.sku).await? {
                stock_changes::judge_low_stock(&mut tx, &self.shared, &item.sku, &warehouse_id)
                    .await?;
            }
        }
        let item: pb::Item = item.into();
        let event = pb::ItemUpserted {
            sku: item.sku.clone(),
            item: Some(item.clone()),
            created,
            upserted_at: Some(to_timestamp(now)),
        };
        self.shared.outbox.append(&mut tx, &event).await?;
        self.shared.outbox.commit(tx).await?;
        tracing::info!(sku = %item.sku, created, "item upserted");
        Ok(item)
    }

    async fn upsert_warehouse(
        &self,
        request: pb::UpsertWarehouseRequest,
    ) -> Result<pb::Warehouse, Error> {
        let mut v = FieldViolations::new();
        let spec = convert::warehouse_spec(&mut v, request.warehouse.as_ref());
        let Some(spec) = spec else {
            return Err(v.into());
        };
        valid(v)?;
        let now = self.shared.clock.now();
        let mut tx = self.pool.begin().await?;
        let existing = store::catalog::lock_warehouse(&mut tx, spec.id.as_str()).await?;
        let warehouse = spec.resolve(existing.as_ref(), now);
        let layout_changed = existing.as_ref().is_some_and(|e| e.bins != warehouse.bins);
        if layout_changed {
            for (bin, on_hand, reserved) in
                store::catalog::bin_usage(&mut tx, &warehouse.id).await?
            {
                match warehouse.bin(&bin) {
                    None => {
                        return Err(Error::FailedPrecondition(format!(
                            "bin {bin} still holds {on_hand} units; move or adjust them before \
                             removing it"
                        )));
                    }
                    Some(b) if !b.pickable && reserved > 0 => {
                        return Err(Error::FailedPrecondition(format!(
                            "bin {bin} holds {reserved} reserved units; it must stay pickable \
                             until they are picked or released"
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
        store::catalog::save_warehouse(&mut tx, &warehouse).await?;
        if layout_changed {
            // Pickable bins make up available stock, so levels here may have moved.
            let touched: Touched = store::stock::skus_in(&mut tx, &warehouse.id)
                .await?
                .into_iter()
                .map(|sku| (sku, warehouse.id.clone()))
                .collect();
            stock_changes::after_change(&mut tx, &self.shared, &touched).await?;
        }
        self.shared.outbox.commit(tx).await?;
        tracing::info!(warehouse_id = %warehouse.id, "warehouse upserted");
        Ok(warehouse.into())
    }

    async fn receive(
        &self,
        actor: &Actor,
        request: pb::ReceiveStockRequest,
    ) -> Result<pb::ReceiveStockResponse, Error> {
        const METHOD: &str = "ReceiveStock";
        let hash = Sha256::digest(request.encode_to_vec()).to_vec();
        let mut v = FieldViolations::new();
        let request_id = convert::text(&mut v, "request_id", &request.request_id, true, 128);
        let sku = convert::code(&mut v, "sku", &request.sku);
        let warehouse_id = convert::code(&mut v, "warehouse_id", &request.warehouse_id);
        let quantity = convert::quantity(&mut v, "quantity", request.quantity);
        let bin = convert::optional_code(&mut v, "bin", &request.bin);
        let reference = convert::text(&mut v, "reference", &request.reference, false, 200);
        let note = convert::text(&mut v, "note", &request.note, false, 2000);
        let (Some(sku), Some(warehouse_id), Some(quantity)) = (sku, warehouse_id, quantity) else {
            return Err(v.into());
        };
        valid(v)?;

        let now = self.shared.clock.now();
        let mut tx = self.pool.begin().await?;
        if let Claim::Seen {
            request_hash,
            response,
        } = store::requests::claim(&mut tx, METHOD, &request_id, &hash, now).await?
        {
            return replay(METHOD, &request_id, &hash, &request_hash, &response);
        }
        item_exists(&mut tx, sku.as_str()).await?;
        let warehouse = warehouse_exists(&mut tx, warehouse_id.as_str()).await?;
        let bin = bin_of(&warehouse, bin.as_ref())?;
        let key = (sku.as_str(), warehouse.id.as_str(), bin.as_str());
        store::stock::add_on_hand(&mut tx, key, quantity.get(), now).await?;
        store::stock::record_movement(
            &mut tx,
            &store::stock::Movement {
                sku: key.0,
                warehouse_id: key.1,
                bin: key.2,
                delta: quantity.get(),
                kind: MovementKind::Received,
                reason: None,
                reference: &reference,
                note: &note,
                actor_id: &actor.id,
            },
            now,
        )
        .await?;
        let response = pb::ReceiveStockResponse {
            level: Some(self.after_stock_change(&mut tx, key.0, key.1).await?.into()),
        };
        store::requests::answer(&mut tx, METHOD, &request_id, &response.encode_to_vec()).await?;
        self.shared.outbox.commit(tx).await?;
        tracing::info!(
            sku = key.0,
            warehouse_id = key.1,
            bin = key.2,
            units = quantity.get(),
            "stock received"
        );
        Ok(response)
    }

    async fn adjust(
        &self,
        actor: &Actor,
        request: pb::AdjustStockRequest,
    ) -> Result<pb::AdjustStockResponse, Error> {
        const METHOD: &str = "AdjustStock";
        let hash = Sha256::digest(request.encode_to_vec()).to_vec();
        let mut v = FieldViolations::new();
        let request_id = convert::text(&mut v, "request_id", &request.request_id, true, 128);
        let sku = convert::code(&mut v, "sku", &request.sku);
        let warehouse_id = convert::code(&mut v, "warehouse_id", &request.warehouse_id);
        let bin = convert::optional_code(&mut v, "bin", &request.bin);
        let delta = request.delta;
        if delta == 0 {
            v.add("delta", "must not be 0");
        } else if delta.unsigned_abs() > crate::domain::stock::Quantity::MAX.unsigned_abs() {
            v.add("delta", "must be between -1000000 and 1000000");
        }
        let reason = convert::adjustment_reason(&mut v, request.reason);
        let note = convert::text(&mut v, "note", &request.note, false, 2000);
        let (Some(sku), Some(warehouse_id), Some(reason)) = (sku, warehouse_id, reason) else {
            return Err(v.into());
        };
        valid(v)?;

        let now = self.shared.clock.now();
        let mut tx = self.pool.begin().await?;
        if let Claim::Seen {
            request_hash,
            response,
        } = store::requests::claim(&mut tx, METHOD, &request_id, &hash, now).await?
        {
            return replay(METHOD, &request_id, &hash, &request_hash, &response);
        }
        item_exists(&mut tx, sku.as_str()).await?;
        let warehouse = warehouse_exists(&mut tx, warehouse_id.as_str()).await?;
        let bin = bin_of(&warehouse, bin.as_ref())?;
        let key = (sku.as_str(), warehouse.id.as_str(), bin.as_str());
        let locked = store::stock::lock_bins(
            &mut tx,
            &[(key.0.to_owned(), key.1.to_owned(), key.2.to_owned())],
        )
        .await?;
        let applied = match locked.first() {
            Some(_) => store::stock::shift(&mut tx, key, 0, delta, now).await?,
            None if delta > 0 => {
                store::stock::add_on_hand(&mut tx, key, delta, now).await?;
                true
            }
            None => false,
        };
        if !applied {
            let (on_hand, reserved) = locked.first().map_or((0, 0), |b| (b.on_hand, b.reserved));
            return Err(Error::FailedPrecondition(format!(
                "bin {} holds {on_hand} units of {} ({reserved} reserved): removing {} would \
                 leave less than is reserved",
                key.2, key.0, -delta
            )));
        }
        store::stock::record_movement(
            &mut tx,
            &store::stock::Movement {
                sku: key.0,
                warehouse_id: key.1,
                bin: key.2,
                delta,
                kind: MovementKind::Adjusted,
                reason: Some(reason),
                reference: "",
                note: &note,
                actor_id: &actor.id,
            },
            now,
        )
        .await?;
        let response = pb::AdjustStockResponse {
            level: Some(self.after_stock_change(&mut tx, key.0, key.1).await?.into()),
        };
        store::requests::answer(&mut tx, METHOD, &request_id, &response.encode_to_vec()).await?;
        self.shared.outbox.commit(tx).await?;
        tracing::info!(
            sku = key.0,
            warehouse_id = key.1,
            bin = key.2,
            delta,
            reason = reason.as_str(),
            "stock adjusted"
        );
        Ok(response)
    }

    /// Runs what follows a change of one level and returns the level after it.
    async fn after_stock_change(
        &self,
        tx: &mut PgConnection,
        sku: &str,
        warehouse_id: &str,
    ) -> Result<StockLevel, Error> {
        let touched: Touched = [(sku.to_owned(), warehouse_id.to_owned())].into();
        stock_changes::after_change(tx, &self.shared, &touched).await?;
        Ok(store::stock::level(tx, sku, warehouse_id).await?)
    }

    async fn availability(
        &self,
        request: pb::GetAvailabilityRequest,
    ) -> Result<pb::GetAvailabilityResponse, Error> {
        let mut v = FieldViolations::new();
        let sku = convert::code(&mut v, "sku", &request.sku);
        let warehouse_id = convert::optional_code(&mut v, "warehouse_id", &request.warehouse_id);
        let Some(sku) = sku else {
            return Err(v.into());
        };
        valid(v)?;
        let mut conn = self.pool.acquire().await?;
        item_exists(&mut conn, sku.as_str()).await?;
        if let Some(id) = &warehouse_id {
            warehouse_exists(&mut conn, id.as_str()).await?;
        }
        let levels = match &warehouse_id {
            Some(id) => vec![store::stock::level(&mut conn, sku.as_str(), id.as_str()).await?],
            None => store::stock::levels(&mut conn, sku.as_str(), None).await?,
        };
        Ok(pb::GetAvailabilityResponse {
            sku: sku.into_string(),
            total_available: levels.iter().map(|l| l.available).sum(),
            levels: levels.into_iter().map(Into::into).collect(),
        })
    }

    async fn plan(
        &self,
        request: pb::GetReplenishmentPlanRequest,
    ) -> Result<pb::GetReplenishmentPlanResponse, Error> {
        let mut v = FieldViolations::new();
        let limit = convert::page_size(&mut v, request.page_size);
        let offset = convert::offset_token(&mut v, &request.page_token);
        let warehouse_id = convert::optional_code(&mut v, "warehouse_id", &request.warehouse_id);
        let skus: Vec<String> = request
            .skus
            .iter()
            .enumerate()
            .filter_map(|(i, s)| convert::code(&mut v, &format!("skus[{i}]"), s))
            .map(Code::into_string)
            .collect();
        let horizon_days = match request.horizon_days {
            0 => self.shared.config.plan_horizon_days,
            h => h,
        };
        v.check(
            (1..=3650).contains(&horizon_days),
            "horizon_days",
            "must be between 1 and 3650 (0 for the default)",
        );
        valid(v)?;
        let mut conn = self.pool.acquire().await?;
        for sku in &skus {
            item_exists(&mut conn, sku).await?;
        }
        if let Some(id) = &warehouse_id {
            warehouse_exists(&mut conn, id.as_str()).await?;
        }
        let now = self.shared.clock.now();
        let mut suggestions = replenishment::suggestions(
            &mut conn,
            &self.shared.config,
            now,
            &skus,
            warehouse_id.as_ref().map(Code::as_str),
            horizon_days,
        )
        .await?;
        if skus.is_empty() {
            suggestions.retain(|s| s.plan.due_within(now, horizon_days));
        }
        suggestions.sort_by(|a, b| {
            // Earliest order_by first; levels that need no order last.
            (
                a.plan.order_by.is_none(),
                a.plan.order_by,
                &a.level.sku,
                &a.level.warehouse_id,
            )
                .cmp(&(
                    b.plan.order_by.is_none(),
                    b.plan.order_by,
                    &b.level.sku,
                    &b.level.warehouse_id,
                ))
        });
        let total = suggestions.len();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(total);
        let end = start
            .saturating_add(usize::try_from(limit).unwrap_or(100))
            .min(total);
        let page: Vec<pb::ReplenishmentSuggestion> = suggestions[start..end]
            .iter()
            .map(|s| pb::ReplenishmentSuggestion {
                sku: s.level.sku.clone(),
                name: s.level.name.clone(),
                warehouse_id: s.level.warehouse_id.clone(),
                available: i32::try_from(s.level.available).unwrap_or(i32::MAX),
                reorder_point: s.level.reorder_point,
                safety_stock: s.level.safety_stock,
                lead_time_days: s.level.lead_time_days,
                average_daily_demand: s.forecast.average,
                forecast_demand: s.plan.forecast_demand,
                suggested_quantity: s.plan.suggested_quantity,
                order_by: s.plan.order_by.map(to_timestamp),
                projected_stockout_at: s.plan.projected_stockout_at.map(to_timestamp),
                forecast_method: convert::forecast_method(s.forecast.method).into(),
                forecast_daily_demand: s.forecast.rate,
                smoothing_alpha: s.forecast.alpha,
                history_days: s.forecast.history_days,
                demand_days: s.forecast.demand_days,
                history_units: s.forecast.history_units,
            })
            .collect();
        Ok(pb::GetReplenishmentPlanResponse {
            next_page_token: convert::next_offset_token(offset, page.len(), limit, end < total),
            suggestions: page,
            horizon_days,
            generated_at: Some(to_timestamp(now)),
        })
    }
}

type WatchStream =
    Pin<Box<dyn Stream<Item = Result<pb::WatchAvailabilityResponse, Status>> + Send>>;

#[tonic::async_trait]
impl InventoryService for InventoryApi {
    async fn upsert_item(
        &self,
        request: Request<pb::UpsertItemRequest>,
    ) -> Result<Response<pb::UpsertItemResponse>, Status> {
        require(&request, STAFF)?;
        let item = self.upsert_item(request.into_inner()).await?;
        Ok(Response::new(pb::UpsertItemResponse { item: Some(item) }))
    }

    async fn get_item(
        &self,
        request: Request<pb::GetItemRequest>,
    ) -> Result<Response<pb::GetItemResponse>, Status> {
        require(&request, READERS)?;
        let mut v = FieldViolations::new();
        let sku = convert::code(&mut v, "sku", &request.get_ref().sku);
        let Some(sku) = sku else {
            return Err(Error::from(v).into());
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let item = item_exists(&mut conn, sku.as_str()).await?;
        Ok(Response::new(pb::GetItemResponse {
            item: Some(item.into()),
        }))
    }

    async fn list_items(
        &self,
        request: Request<pb::ListItemsRequest>,
    ) -> Result<Response<pb::ListItemsResponse>, Status> {
        require(&request, READERS)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = convert::page_size(&mut v, r.page_size);
        let after = convert::optional_code(&mut v, "page_token", &r.page_token);
        let category = convert::text(&mut v, "category", &r.category, false, 200);
        valid(v)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let mut items = store::catalog::list_items(
            &mut conn,
            after.as_ref().map_or("", Code::as_str),
            limit + 1,
            (!category.is_empty()).then_some(category.as_str()),
            r.include_inactive,
        )
        .await
        .map_err(Error::from)?;
        let more = items.len() as i64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(100));
        let next_page_token = if more {
            items.last().map(|i| i.sku.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListItemsResponse {
            items: items.into_iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    async fn upsert_warehouse(
        &self,
        request: Request<pb::UpsertWarehouseRequest>,
    ) -> Result<Response<pb::UpsertWarehouseResponse>, Status> {
        require(&request, STAFF)?;
        let warehouse = self.upsert_warehouse(request.into_inner()).await?;
        Ok(Response::new(pb::UpsertWarehouseResponse {
            warehouse: Some(warehouse),
        }))
    }

    async fn get_warehouse(
        &self,
        request: Request<pb::GetWarehouseRequest>,
    ) -> Result<Response<pb::GetWarehouseResponse>, Status> {
        require(&request, READERS)?;
        let mut v = FieldViolations::new();
        let id = convert::code(&mut v, "id", &request.get_ref().id);
        let Some(id) = id else {
            return Err(Error::from(v).into());
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let warehouse = warehouse_exists(&mut conn, id.as_str()).await?;
        Ok(Response::new(pb::GetWarehouseResponse {
            warehouse: Some(warehouse.into()),
        }))
    }

    async fn list_warehouses(
        &self,
        request: Request<pb::ListWarehousesRequest>,
    ) -> Result<Response<pb::ListWarehousesResponse>, Status> {
        require(&request, READERS)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = convert::page_size(&mut v, r.page_size);
        let after = convert::optional_code(&mut v, "page_token", &r.page_token);
        valid(v)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let mut warehouses = store::catalog::list_warehouses(
            &mut conn,
            after.as_ref().map_or("", Code::as_str),
            limit + 1,
            r.pickup_enabled_only,
        )
        .await
        .map_err(Error::from)?;
        let more = warehouses.len() as i64 > limit;
        warehouses.truncate(usize::try_from(limit).unwrap_or(100));
        let next_page_token = if more {
            warehouses.last().map(|w| w.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListWarehousesResponse {
            warehouses: warehouses.into_iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    async fn receive_stock(
        &self,
        request: Request<pb::ReceiveStockRequest>,
    ) -> Result<Response<pb::ReceiveStockResponse>, Status> {
        let actor = require(&request, STAFF)?;
        Ok(Response::new(
            self.receive(&actor, request.into_inner()).await?,
        ))
    }

    async fn adjust_stock(
        &self,
        request: Request<pb::AdjustStockRequest>,
    ) -> Result<Response<pb::AdjustStockResponse>, Status> {
        let actor = require(&request, STAFF)?;
        Ok(Response::new(
            self.adjust(&actor, request.into_inner()).await?,
        ))
    }

    async fn get_availability(
        &self,
        request: Request<pb::GetAvailabilityRequest>,
    ) -> Result<Response<pb::GetAvailabilityResponse>, Status> {
        require(&request, READERS)?;
        Ok(Response::new(
            self.availability(request.into_inner()).await?,
        ))
    }

    async fn watch_availability(
        &self,
        request: Request<pb::WatchAvailabilityRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        require(&request, READERS)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        if r.skus.is_empty() {
            v.add("skus", "at least one SKU is required");
        } else if r.skus.len() > convert::MAX_WATCHED {
            v.add("skus", format!("at most {} SKUs", convert::MAX_WATCHED));
        }
        let mut skus: Vec<String> = r
            .skus
            .iter()
            .enumerate()
            .filter_map(|(i, s)| convert::code(&mut v, &format!("skus[{i}]"), s))
            .map(Code::into_string)
            .collect();
        skus.sort();
        skus.dedup();
        let warehouse_id =
            convert::optional_code(&mut v, "warehouse_id", &r.warehouse_id).map(Code::into_string);
        valid(v)?;
        {
            let mut conn = self.pool.acquire().await.map_err(Error::from)?;
            for sku in &skus {
                item_exists(&mut conn, sku).await?;
            }
            if let Some(id) = &warehouse_id {
                warehouse_exists(&mut conn, id).await?;
            }
        }
        // Subscribed before the snapshot is read, so no change falls between the two.
        let signals = self.hub.subscribe();
        let (sender, receiver) = mpsc::channel(64);
        let watch = Watch {
            pool: self.pool.clone(),
            skus: skus.into_iter().collect(),
            warehouse_id,
            sender,
            last_sent: std::sync::Mutex::new(HashMap::new()),
        };
        let closed = self.hub.closed().clone();
        let client = watch.sender.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = closed.cancelled() => {}
                () = client.closed() => {}
                () = watch.run(signals) => {}
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn list_low_stock(
        &self,
        request: Request<pb::ListLowStockRequest>,
    ) -> Result<Response<pb::ListLowStockResponse>, Status> {
        require(&request, STAFF)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = convert::page_size(&mut v, r.page_size);
        let offset = convert::offset_token(&mut v, &r.page_token);
        let warehouse_id = convert::optional_code(&mut v, "warehouse_id", &r.warehouse_id);
        valid(v)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        if let Some(id) = &warehouse_id {
            warehouse_exists(&mut conn, id.as_str()).await?;
        }
        let mut rows = store::stock::low_levels(
            &mut conn,
            warehouse_id.as_ref().map(Code::as_str),
            offset,
            limit + 1,
        )
        .await
        .map_err(Error::from)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(100));
        Ok(Response::new(pb::ListLowStockResponse {
            next_page_token: convert::next_offset_token(offset, rows.len(), limit, more),
            entries: rows
                .into_iter()
                .map(|row| pb::LowStockEntry {
                    sku: row.sku,
                    name: row.name,
                    warehouse_id: row.warehouse_id,
                    on_hand: i32::try_from(row.on_hand).unwrap_or(i32::MAX),
                    available: i32::try_from(row.available).unwrap_or(i32::MAX),
                    reorder_point: row.reorder_point,
                    safety_stock: row.safety_stock,
                    since: Some(to_timestamp(row.low_since)),
                })
                .collect(),
        }))
    }

    async fn get_replenishment_plan(
        &self,
        request: Request<pb::GetReplenishmentPlanRequest>,
    ) -> Result<Response<pb::GetReplenishmentPlanResponse>, Status> {
        require(&request, STAFF)?;
        Ok(Response::new(self.plan(request.into_inner()).await?))
    }

    async fn get_reservation(
        &self,
        request: Request<pb::GetReservationRequest>,
    ) -> Result<Response<pb::GetReservationResponse>, Status> {
        require(&request, STAFF)?;
        let r = request.get_ref();
        let (id, order_id) = (r.id.trim(), r.order_id.trim());
        let mut v = FieldViolations::new();
        if id.is_empty() == order_id.is_empty() {
            v.add("id", "set exactly one of id and order_id");
        }
        valid(v)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let reservation = if id.is_empty() {
            store::reservations::first_of_order(&mut conn, order_id).await
        } else {
            store::reservations::get(&mut conn, id).await
        }
        .map_err(Error::from)?
        .ok_or_else(|| {
            Error::NotFound(if id.is_empty() {
                format!("reservation for order {order_id}")
            } else {
                format!("reservation {id}")
            })
        })?;
        runtime::telemetry::record_order_id(&reservation.order_id);
        Ok(Response::new(pb::GetReservationResponse {
            reservation: Some(reservation.into()),
        }))
    }
}

/// One WatchAvailability stream: the snapshot, then each committed change of a watched level.
struct Watch {
    pool: sqlx::PgPool,
    skus: HashSet<String>,
    warehouse_id: Option<String>,
    sender: mpsc::Sender<Result<pb::WatchAvailabilityResponse, Status>>,
    /// (on hand, reserved, available) last sent per (SKU, warehouse): a notice of a change the
    /// snapshot already showed (committed just before the watch began, heard just after) or a
    /// change that left the figures as they were sends nothing.
    last_sent: std::sync::Mutex<HashMap<LevelKey, Figures>>,
}

/// (SKU, warehouse).
type LevelKey = (String, String);
/// (on hand, reserved, available).
type Figures = (i32, i32, i32);

impl Watch {
    async fn run(self, mut signals: tokio::sync::broadcast::Receiver<Signal>) {
        if self.send_all(true).await.is_err() {
            return;
        }
        loop {
            let sent = match signals.recv().await {
                Ok(Signal::Changed { sku, warehouse_id }) => {
                    let wanted = self.skus.contains(&sku)
                        && self
                            .warehouse_id
                            .as_ref()
                            .is_none_or(|w| *w == warehouse_id);
                    if wanted {
                        self.send_level(&sku, &warehouse_id).await
                    } else {
                        Ok(())
                    }
                }
                Ok(Signal::Resync) | Err(RecvError::Lagged(_)) => self.send_all(false).await,
                Err(RecvError::Closed) => return,
            };
            if sent.is_err() {
                return;
            }
        }
    }

    /// Err when the client is gone, or when the store failed (the stream then ends with the
    /// error).
    async fn send_all(&self, initial: bool) -> Result<(), ()> {
        let mut skus: Vec<&String> = self.skus.iter().collect();
        skus.sort();
        for sku in skus {
            let levels = match self.pool.acquire().await {
                Ok(mut conn) => match &self.warehouse_id {
                    Some(w) => store::stock::level(&mut conn, sku, w)
                        .await
                        .map(|l| vec![l]),
                    None => store::stock::levels(&mut conn, sku, None).await,
                },
                Err(err) => Err(err),
            };
            for level in self.checked(levels)? {
                self.send(level, initial).await?;
            }
        }
        Ok(())
    }

    async fn send_level(&self, sku: &str, warehouse_id: &str) -> Result<(), ()> {
        let level = match self.pool.acquire().await {
            Ok(mut conn) => store::stock::level(&mut conn, sku, warehouse_id).await,
            Err(err) => Err(err),
        };
        let level = self.checked(level)?;
        self.send(level, false).await
    }

    fn checked<T>(&self, result: Result<T, sqlx::Error>) -> Result<T, ()> {
        result.map_err(|err| {
            let status = runtime::grpc::internal("reading a watched stock level failed", &err);
            // try_send: the stream is ending either way.
            let _ = self.sender.try_send(Err(status));
        })
    }

    async fn send(&self, level: StockLevel, initial: bool) -> Result<(), ()> {
        let figures = (level.on_hand, level.reserved, level.available);
        let key = (level.sku.clone(), level.warehouse_id.clone());
        let previous = self
            .last_sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, figures);
        if !initial && previous == Some(figures) {
            return Ok(());
        }
        self.sender
            .send(Ok(pb::WatchAvailabilityResponse {
                level: Some(level.into()),
                initial,
            }))
            .await
            .map_err(|_| ())
    }
}
