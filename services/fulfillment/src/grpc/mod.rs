//! The fulfillment gRPC API for warehouse staff: waves and pick lists, picking, packing (with
//! the shipment and label from shipping), hand-over, store pickup, returns received and
//! inspected. Every change and the events it causes commit in one transaction.

mod convert;

use chrono::{DateTime, Utc};
use contracts::common::{self, FulfillmentMode};
use contracts::fulfillment::fulfillment_service_server::FulfillmentService;
use contracts::fulfillment::{self as pb, ParcelLine};
use contracts::shipping::shipping_service_client::ShippingServiceClient;
use contracts::shipping::{CreateShipmentRequest, ShipmentLine};
use contracts::time::to_timestamp;
use rand::Rng as _;
use runtime::Role;
use runtime::grpc::FieldViolations;
use sqlx::PgConnection;
use sqlx::types::Json;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use convert::{fulfillment_pb, money, parcel_pb, receipt_pb};

use crate::config::FulfillmentConfig;
use crate::domain::pick::{ToPick, pick_list};
use crate::domain::{Status as FStatus, weight};
use crate::error::Error;
use crate::events::Ctx;
use crate::store::fulfillments::{self, FulfillmentRow};
use crate::store::parcels::{self, Dims, PackedLine, ParcelRow};
use crate::store::returns::{self, Inspected, ReceiptRow};

type Shipping = ShippingServiceClient<
    InterceptedService<Channel, fn(Request<()>) -> Result<Request<()>, Status>>,
>;

#[derive(Clone)]
pub struct FulfillmentApi {
    pool: sqlx::PgPool,
    ctx: Ctx,
    shipping: Shipping,
    config: FulfillmentConfig,
}

const STAFF: [Role; 2] = [Role::Operator, Role::Service];

fn invalid(field: &str, description: &str) -> Error {
    let mut v = FieldViolations::new();
    v.add(field, description);
    Error::InvalidArgument(v)
}

fn parse_id(field: &str, raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw.trim()).map_err(|_| invalid(field, "must be an id (UUID)"))
}

fn required(v: &mut FieldViolations, field: &str, value: &str) {
    v.check(!value.trim().is_empty(), field, "is required");
}

/// The parcel id a PackParcel request gets: derived from its request id, so a retry after a
/// failure between shipping's answer and our commit (shipping crashed or the answer was lost)
/// asks shipping for the very same parcel, which its idempotency then answers with the first
/// shipment instead of refusing a different request under the same id.
fn parcel_id_for(request_id: &str) -> Uuid {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(format!("ordercycle.fulfillment.parcel:{request_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

impl FulfillmentApi {
    pub fn new(
        pool: sqlx::PgPool,
        ctx: Ctx,
        config: FulfillmentConfig,
        tls: Option<&runtime::config::TlsSettings>,
    ) -> Result<Self, tonic::transport::Error> {
        let channel = runtime::tls::endpoint(&config.shipping_url, tls)?.connect_lazy();
        let trace: fn(Request<()>) -> Result<Request<()>, Status> = runtime::grpc::propagate_trace;
        Ok(Self {
            pool,
            ctx,
            shipping: ShippingServiceClient::with_interceptor(channel, trace),
            config,
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.ctx.clock.now()
    }

    async fn view(&self, conn: &mut PgConnection, id: Uuid) -> Result<pb::Fulfillment, Error> {
        let f = fulfillments::get(conn, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("fulfillment {id}")))?;
        let lines = fulfillments::lines(conn, id).await?;
        let parcels = parcels::of_fulfillment(conn, id).await?;
        Ok(fulfillment_pb(&f, &lines, &parcels))
    }

    async fn locked(
        &self,
        tx: &mut PgConnection,
        id: Uuid,
    ) -> Result<(FulfillmentRow, FStatus), Error> {
        let f = fulfillments::lock(tx, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("fulfillment {id}")))?;
        // Every handler that changes a fulfillment locks it here first.
        runtime::telemetry::record_order_id(&f.order_id);
        let status = FStatus::parse(&f.status).unwrap_or(FStatus::Cancelled);
        Ok((f, status))
    }

    async fn pack(&self, r: pb::PackParcelRequest) -> Result<(pb::Fulfillment, pb::Parcel), Error> {
        let mut v = FieldViolations::new();
        required(&mut v, "request_id", &r.request_id);
        required(&mut v, "packed_by", &r.packed_by);
        let id = parse_id("fulfillment_id", &r.fulfillment_id);
        if id.is_err() {
            v.add("fulfillment_id", "must be an id (UUID)");
        }
        v.check(
            !r.lines.is_empty(),
            "lines",
            "a parcel holds at least one line",
        );
        v.check(
            r.weight_grams > 0,
            "weight_grams",
            "must be positive (grams)",
        );
        let dims = r.dimensions.unwrap_or_default();
        v.check(
            dims.length_mm > 0 && dims.width_mm > 0 && dims.height_mm > 0,
            "dimensions",
            "length, width and height must be positive (mm)",
        );
        if !v.is_empty() {
            return Err(v.into());
        }
        let id = id?;
        let mut conn = self.pool.acquire().await?;
        if let Some(existing) = parcels::by_request(&mut conn, &r.request_id).await? {
            let f = self.view(&mut conn, existing.fulfillment_id).await?;
            let currency = f
                .lines
                .first()
                .and_then(|l| l.unit_price.clone())
                .map(|m| m.currency_code)
                .unwrap_or_default();
            return Ok((f, parcel_pb(&existing, &currency)));
        }
        let f = fulfillments::get(&mut conn, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("fulfillment {id}")))?;
        let lines = fulfillments::lines(&mut conn, id).await?;
        let packed = self.check_packable(&f, &lines, &r.lines)?;
        let skus: Vec<String> = packed.iter().map(|l| l.sku.clone()).collect();
        let unit_weights = fulfillments::weights(&mut conn, &skus).await?;
        drop(conn);
        let expected: i32 = packed
            .iter()
            .map(|l| {
                unit_weights
                    .iter()
                    .find(|(s, _)| *s == l.sku)
                    .map_or(0, |(_, g)| *g)
                    * l.quantity
            })
            .sum();
        let flagged = !weight::within(self.config.tolerance, expected, r.weight_grams);
        let value: i64 = packed
            .iter()
            .map(|p| {
                lines
                    .iter()
                    .find(|l| l.line_id == p.line_id)
                    .map_or(0, |l| l.unit_price_minor)
                    * i64::from(p.quantity)
            })
            .sum();
        let cod = f.collect_cod.then_some(value);

        // The carrier, tracking number and label come from shipping; the call is idempotent by
        // request id, so a retry after a failure below gets the same shipment.
        let ship_to = f.ship_to.as_ref().map(|a| common::Address {
            recipient: a.0.recipient.clone(),
            line1: a.0.line1.clone(),
            line2: a.0.line2.clone(),
            city: a.0.city.clone(),
            region: a.0.region.clone(),
            postal_code: a.0.postal_code.clone(),
            country_code: a.0.country_code.clone(),
            phone: a.0.phone.clone(),
        });
        let ship_from = common::Address {
            recipient: format!("ordercycle warehouse {}", f.warehouse_id),
            line1: f.warehouse_id.clone(),
            city: ship_to.as_ref().map(|a| a.city.clone()).unwrap_or_default(),
            country_code: ship_to
                .as_ref()
                .map(|a| a.country_code.clone())
                .unwrap_or_default(),
            ..Default::default()
        };
        let response = self
            .shipping
            .clone()
            .create_shipment(CreateShipmentRequest {
                request_id: format!("parcel:{}", r.request_id),
                order_id: f.order_id.to_string(),
                fulfillment_id: f.id.to_string(),
                parcel_id: parcel_id_for(&r.request_id).to_string(),
                warehouse_id: f.warehouse_id.clone(),
                ship_from: Some(ship_from),
                ship_to,
                weight_grams: r.weight_grams,
                dimensions: Some(dims),
                lines: packed
                    .iter()
                    .map(|l| ShipmentLine {
                        sku: l.sku.clone(),
                        name: String::new(),
                        quantity: l.quantity,
                    })
                    .collect(),
                declared_value: Some(money(&f.currency, value)),
                cash_on_delivery_amount: cod.map(|c| money(&f.currency, c)),
                preferred_carrier: r.preferred_carrier.clone(),
                service_level: String::new(),
                label_format: common::LabelFormat::Unspecified.into(),
                order_number: f.order_number.clone(),
            })
            .await
            .map_err(Error::Shipping)?
            .into_inner();
        let shipment = response.shipment.unwrap_or_default();
        let label = response.label.unwrap_or_default();
        let parcel_id = Uuid::parse_str(&shipment.parcel_id).unwrap_or_else(|_| Uuid::now_v7());

        let mut tx = self.pool.begin().await?;
        if let Some(existing) = parcels::by_request(&mut tx, &r.request_id).await? {
            drop(tx);
            let mut conn = self.pool.acquire().await?;
            return Ok((
                self.view(&mut conn, id).await?,
                parcel_pb(&existing, &f.currency),
            ));
        }
        let (f, _) = self.locked(&mut tx, id).await?;
        let lines = fulfillments::lines(&mut tx, id).await?;
        self.check_packable(&f, &lines, &r.lines)?;
        let now = self.now();
        let row = ParcelRow {
            id: parcel_id,
            fulfillment_id: id,
            request_id: r.request_id.clone(),
            status: "PACKED".into(),
            lines: Json(packed.clone()),
            weight_grams: r.weight_grams,
            dimensions: Json(Dims {
                length_mm: dims.length_mm,
                width_mm: dims.width_mm,
                height_mm: dims.height_mm,
            }),
            weight_flagged: flagged,
            expected_grams: expected,
            shipment_id: shipment.id.clone(),
            carrier: shipment.carrier.clone(),
            tracking_number: shipment.tracking_number.clone(),
            label: label.content.clone(),
            label_format: label.format,
            cod_amount_minor: cod,
            packed_by: r.packed_by.clone(),
            packed_at: now,
            handed_over_at: None,
        };
        parcels::insert(&mut tx, &row).await?;
        for l in &packed {
            fulfillments::add_packed(&mut tx, id, &l.line_id, l.quantity).await?;
        }
        fulfillments::set_status(&mut tx, id, FStatus::Packed.as_str(), now).await?;
        if flagged {
            tracing::warn!(parcel_id = %parcel_id, expected, actual = r.weight_grams, "parcel weight outside tolerance");
        }
        let event = pb::ParcelPacked {
            fulfillment_id: id.to_string(),
            parcel_id: parcel_id.to_string(),
            order_id: f.order_id.to_string(),
            warehouse_id: f.warehouse_id.clone(),
            lines: packed
                .iter()
                .map(|l| ParcelLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect(),
            weight_grams: r.weight_grams,
            dimensions: Some(dims),
            shipment_id: shipment.id.clone(),
            carrier: shipment.carrier.clone(),
            tracking_number: shipment.tracking_number.clone(),
            packed_at: Some(to_timestamp(now)),
        };
        self.ctx.outbox.append(&mut tx, &event).await?;
        self.ctx.outbox.commit(tx).await?;
        let mut conn = self.pool.acquire().await?;
        Ok((
            self.view(&mut conn, id).await?,
            parcel_pb(&row, &f.currency),
        ))
    }

    /// The lines of a parcel, checked against what was picked and not yet packed.
    fn check_packable(
        &self,
        f: &FulfillmentRow,
        lines: &[fulfillments::LineRow],
        wanted: &[ParcelLine],
    ) -> Result<Vec<PackedLine>, Error> {
        match FStatus::parse(&f.status) {
            Some(FStatus::Picked | FStatus::Packed) => {}
            Some(other) => {
                return Err(Error::FailedPrecondition(format!(
                    "fulfillment {} is {}; pick it before packing",
                    f.id,
                    other.as_str().to_lowercase()
                )));
            }
            None => {
                return Err(Error::FailedPrecondition(
                    "unknown fulfillment status".into(),
                ));
            }
        }
        let mut v = FieldViolations::new();
        let mut packed = Vec::new();
        for (i, want) in wanted.iter().enumerate() {
            let Some(line) = lines.iter().find(|l| l.line_id == want.line_id) else {
                v.add(
                    format!("lines[{i}].line_id"),
                    "is not a line of this fulfillment",
                );
                continue;
            };
            let open = line.picked_quantity.unwrap_or(0) - line.packed_quantity;
            if want.quantity < 1 || want.quantity > open {
                v.add(
                    format!("lines[{i}].quantity"),
                    format!("must be between 1 and {open} (picked, not yet packed)"),
                );
                continue;
            }
            packed.push(PackedLine {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                quantity: want.quantity,
            });
        }
        if v.is_empty() {
            Ok(packed)
        } else {
            Err(v.into())
        }
    }
}

fn page_token(token: &str) -> Result<Option<(DateTime<Utc>, Uuid)>, Error> {
    if token.is_empty() {
        return Ok(None);
    }
    token
        .split_once('_')
        .and_then(|(m, id)| {
            Some((
                DateTime::from_timestamp_micros(m.parse().ok()?)?,
                Uuid::parse_str(id).ok()?,
            ))
        })
        .map(Some)
        .ok_or_else(|| invalid("page_token", "is not a token this API returned"))
}

#[tonic::async_trait]
impl FulfillmentService for FulfillmentApi {
    async fn list_fulfillments(
        &self,
        request: Request<pb::ListFulfillmentsRequest>,
    ) -> Result<Response<pb::ListFulfillmentsResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let r = request.into_inner();
        let limit = match r.page_size {
            0 => 50,
            1..=200 => i64::from(r.page_size),
            _ => return Err(invalid("page_size", "must be between 0 and 200").into()),
        };
        let order_id = if r.order_id.is_empty() {
            None
        } else {
            Some(parse_id("order_id", &r.order_id)?)
        };
        runtime::telemetry::record_order_id(&r.order_id.trim());
        let filter = fulfillments::Filter {
            warehouse_id: Some(r.warehouse_id.clone()).filter(|w| !w.is_empty()),
            order_id,
            statuses: r
                .statuses
                .iter()
                .filter_map(|s| pb::FulfillmentStatus::try_from(*s).ok())
                .filter(|s| *s != pb::FulfillmentStatus::Unspecified)
                .map(|s| {
                    s.as_str_name()
                        .trim_start_matches("FULFILLMENT_STATUS_")
                        .to_owned()
                })
                .collect(),
            mode: match FulfillmentMode::try_from(r.fulfillment_mode) {
                Ok(FulfillmentMode::Ship) => Some("SHIP".into()),
                Ok(FulfillmentMode::StorePickup) => Some("STORE_PICKUP".into()),
                _ => None,
            },
            after: page_token(&r.page_token)?,
            limit: limit + 1,
        };
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let rows = fulfillments::list(&mut conn, &filter)
            .await
            .map_err(Error::from)?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.get(limit as usize - 1)
                .map(|f| format!("{}_{}", f.created_at.timestamp_micros(), f.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let mut out = Vec::new();
        for f in rows.into_iter().take(limit as usize) {
            out.push(self.view(&mut conn, f.id).await?);
        }
        Ok(Response::new(pb::ListFulfillmentsResponse {
            fulfillments: out,
            next_page_token,
        }))
    }

    async fn get_fulfillment(
        &self,
        request: Request<pb::GetFulfillmentRequest>,
    ) -> Result<Response<pb::GetFulfillmentResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let fulfillment = self.view(&mut conn, id).await?;
        runtime::telemetry::record_order_id(&fulfillment.order_id);
        Ok(Response::new(pb::GetFulfillmentResponse {
            fulfillment: Some(fulfillment),
        }))
    }

    async fn create_pick_wave(
        &self,
        request: Request<pb::CreatePickWaveRequest>,
    ) -> Result<Response<pb::CreatePickWaveResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        required(&mut v, "request_id", &r.request_id);
        required(&mut v, "warehouse_id", &r.warehouse_id);
        v.check(
            (0..=200).contains(&r.max_fulfillments),
            "max_fulfillments",
            "must be between 0 and 200",
        );
        let mut only = Vec::new();
        for (i, raw) in r.fulfillment_ids.iter().enumerate() {
            match Uuid::parse_str(raw) {
                Ok(id) => only.push(id),
                Err(_) => v.add(format!("fulfillment_ids[{i}]"), "must be an id (UUID)"),
            }
        }
        v.into_result()?;
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let (wave, members) = match fulfillments::wave_by_request(&mut tx, &r.request_id)
            .await
            .map_err(Error::from)?
        {
            Some(wave) => {
                let members = fulfillments::wave_members(&mut tx, wave.id)
                    .await
                    .map_err(Error::from)?;
                (wave, members)
            }
            None => {
                let id = Uuid::now_v7();
                let max = if r.max_fulfillments == 0 {
                    20
                } else {
                    i64::from(r.max_fulfillments)
                };
                let now = self.now();
                let members = fulfillments::create_wave(
                    &mut tx,
                    id,
                    &r.request_id,
                    &r.warehouse_id,
                    &only,
                    max,
                    now,
                )
                .await
                .map_err(Error::from)?;
                if members.is_empty() {
                    return Err(Error::FailedPrecondition(format!(
                        "no open fulfilments to pick in warehouse {}",
                        r.warehouse_id
                    ))
                    .into());
                }
                let wave = fulfillments::wave(&mut tx, id)
                    .await
                    .map_err(Error::from)?
                    .ok_or_else(|| Error::NotFound("wave".into()))?;
                (wave, members)
            }
        };
        tx.commit().await.map_err(Error::from)?;
        Ok(Response::new(pb::CreatePickWaveResponse {
            wave: Some(pb::PickWave {
                id: wave.id.to_string(),
                warehouse_id: wave.warehouse_id,
                fulfillment_ids: members.iter().map(Uuid::to_string).collect(),
                status: if wave.status == "COMPLETED" {
                    pb::PickWaveStatus::Completed
                } else {
                    pb::PickWaveStatus::Open
                }
                .into(),
                created_at: Some(to_timestamp(wave.created_at)),
                completed_at: wave.completed_at.map(to_timestamp),
            }),
        }))
    }

    async fn get_pick_list(
        &self,
        request: Request<pb::GetPickListRequest>,
    ) -> Result<Response<pb::GetPickListResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let wave_id = parse_id("wave_id", &request.get_ref().wave_id)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let wave = fulfillments::wave(&mut conn, wave_id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound(format!("wave {wave_id}")))?;
        let mut to_pick = Vec::new();
        for id in fulfillments::wave_members(&mut conn, wave_id)
            .await
            .map_err(Error::from)?
        {
            for l in fulfillments::lines(&mut conn, id)
                .await
                .map_err(Error::from)?
            {
                to_pick.push(ToPick {
                    fulfillment_id: id.to_string(),
                    line_id: l.line_id,
                    sku: l.sku,
                    name: l.name,
                    quantity: l.quantity,
                    bins: l.bins.0,
                });
            }
        }
        let lines = pick_list(&to_pick)
            .into_iter()
            .map(|s| pb::PickListLine {
                sequence: s.sequence,
                zone: s.bin.split('-').next().unwrap_or_default().to_owned(),
                bin: s.bin,
                sku: s.sku,
                name: s.name,
                quantity: s.quantity,
                fulfillment_id: s.fulfillment_id,
                line_id: s.line_id,
            })
            .collect();
        Ok(Response::new(pb::GetPickListResponse {
            pick_list: Some(pb::PickList {
                wave_id: wave.id.to_string(),
                warehouse_id: wave.warehouse_id,
                lines,
                generated_at: Some(to_timestamp(self.now())),
            }),
        }))
    }

    async fn confirm_pick(
        &self,
        request: Request<pb::ConfirmPickRequest>,
    ) -> Result<Response<pb::ConfirmPickResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let r = request.into_inner();
        let id = parse_id("fulfillment_id", &r.fulfillment_id)?;
        let mut v = FieldViolations::new();
        required(&mut v, "picker_id", &r.picker_id);
        v.into_result()?;
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let (f, status) = self.locked(&mut tx, id).await?;
        if !matches!(status, FStatus::Pending | FStatus::Picking) {
            // Picked already (a repeated confirmation) or gone: report the current state.
            if matches!(status, FStatus::Cancelled) {
                return Err(
                    Error::FailedPrecondition(format!("fulfillment {id} is cancelled")).into(),
                );
            }
            let fulfillment = self.view(&mut tx, id).await?;
            return Ok(Response::new(pb::ConfirmPickResponse {
                fulfillment: Some(fulfillment),
            }));
        }
        let lines = fulfillments::lines(&mut tx, id)
            .await
            .map_err(Error::from)?;
        let mut v = FieldViolations::new();
        let mut picked: Vec<(String, i32)> = lines.iter().map(|l| (l.line_id.clone(), 0)).collect();
        for (i, p) in r.lines.iter().enumerate() {
            match picked.iter_mut().find(|(line_id, _)| *line_id == p.line_id) {
                None => v.add(
                    format!("lines[{i}].line_id"),
                    "is not a line of this fulfillment",
                ),
                Some(_) if p.quantity < 0 => {
                    v.add(format!("lines[{i}].quantity"), "must not be negative")
                }
                Some((_, q)) => *q += p.quantity,
            }
        }
        for (line, (_, q)) in lines.iter().zip(&picked) {
            if *q > line.quantity {
                v.add(
                    "lines",
                    format!(
                        "line {} was picked {q} times but needs {}",
                        line.line_id, line.quantity
                    ),
                );
            }
        }
        v.into_result()?;
        let now = self.now();
        for (line_id, q) in &picked {
            fulfillments::set_picked(&mut tx, id, line_id, *q)
                .await
                .map_err(Error::from)?;
        }
        fulfillments::set_status(&mut tx, id, FStatus::Picked.as_str(), now)
            .await
            .map_err(Error::from)?;
        if let Some(wave) = f.wave_id {
            fulfillments::complete_wave_if_done(&mut tx, wave, now)
                .await
                .map_err(Error::from)?;
        }
        let short: Vec<pb::ShortPickedLine> = lines
            .iter()
            .zip(&picked)
            .filter(|(line, (_, q))| *q < line.quantity)
            .map(|(line, (_, q))| pb::ShortPickedLine {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                expected_quantity: line.quantity,
                picked_quantity: *q,
                bins: line.bins.0.iter().map(|b| b.bin.clone()).collect(),
            })
            .collect();
        if short.is_empty() {
            let event = pb::FulfillmentPicked {
                fulfillment_id: id.to_string(),
                order_id: f.order_id.to_string(),
                warehouse_id: f.warehouse_id.clone(),
                lines: lines
                    .iter()
                    .map(|l| ParcelLine {
                        line_id: l.line_id.clone(),
                        sku: l.sku.clone(),
                        quantity: l.quantity,
                    })
                    .collect(),
                picked_by: r.picker_id.clone(),
                picked_at: Some(to_timestamp(now)),
            };
            self.ctx
                .outbox
                .append(&mut tx, &event)
                .await
                .map_err(Error::from)?;
        } else {
            let event = pb::FulfillmentShortPicked {
                fulfillment_id: id.to_string(),
                order_id: f.order_id.to_string(),
                warehouse_id: f.warehouse_id.clone(),
                lines: short,
                picked_by: r.picker_id.clone(),
                picked_at: Some(to_timestamp(now)),
            };
            self.ctx
                .outbox
                .append(&mut tx, &event)
                .await
                .map_err(Error::from)?;
        }
        let fulfillment = self.view(&mut tx, id).await?;
        self.ctx.outbox.commit(tx).await.map_err(Error::from)?;
        Ok(Response::new(pb::ConfirmPickResponse {
            fulfillment: Some(fulfillment),
        }))
    }

    async fn pack_parcel(
        &self,
        request: Request<pb::PackParcelRequest>,
    ) -> Result<Response<pb::PackParcelResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let (fulfillment, parcel) = self.pack(request.into_inner()).await?;
        Ok(Response::new(pb::PackParcelResponse {
            fulfillment: Some(fulfillment),
            parcel: Some(parcel),
        }))
    }

    async fn print_label(
        &self,
        request: Request<pb::PrintLabelRequest>,
    ) -> Result<Response<pb::PrintLabelResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let r = request.into_inner();
        let id = parse_id("parcel_id", &r.parcel_id)?;
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let parcel = parcels::get(&mut conn, id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound(format!("parcel {id}")))?;
        if r.format != common::LabelFormat::Unspecified as i32 && r.format != parcel.label_format {
            let stored = common::LabelFormat::try_from(parcel.label_format)
                .unwrap_or(common::LabelFormat::Unspecified);
            return Err(invalid(
                "format",
                &format!("this parcel's label is {}", stored.as_str_name()),
            )
            .into());
        }
        Ok(Response::new(pb::PrintLabelResponse {
            label: Some(common::Label {
                shipment_id: parcel.shipment_id,
                carrier: parcel.carrier,
                tracking_number: parcel.tracking_number,
                format: parcel.label_format,
                content: parcel.label,
                created_at: Some(to_timestamp(parcel.packed_at)),
            }),
        }))
    }

    async fn hand_over(
        &self,
        request: Request<pb::HandOverRequest>,
    ) -> Result<Response<pb::HandOverResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let r = request.into_inner();
        let id = parse_id("fulfillment_id", &r.fulfillment_id)?;
        let mut v = FieldViolations::new();
        required(&mut v, "request_id", &r.request_id);
        required(&mut v, "handed_over_by", &r.handed_over_by);
        let mut wanted = Vec::new();
        for (i, raw) in r.parcel_ids.iter().enumerate() {
            match Uuid::parse_str(raw) {
                Ok(p) => wanted.push(p),
                Err(_) => v.add(format!("parcel_ids[{i}]"), "must be an id (UUID)"),
            }
        }
        v.into_result()?;
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let (f, status) = self.locked(&mut tx, id).await?;
        if status == FStatus::Cancelled {
            return Err(Error::FailedPrecondition(format!("fulfillment {id} is cancelled")).into());
        }
        let all = parcels::of_fulfillment(&mut tx, id)
            .await
            .map_err(Error::from)?;
        for p in &wanted {
            if !all.iter().any(|q| q.id == *p) {
                return Err(invalid(
                    "parcel_ids",
                    &format!("parcel {p} is not in this fulfillment"),
                )
                .into());
            }
        }
        // Nothing named: every packed parcel leaves.
        let leaving: Vec<&ParcelRow> = all
            .iter()
            .filter(|p| p.status == "PACKED" && (wanted.is_empty() || wanted.contains(&p.id)))
            .collect();
        let lines = fulfillments::lines(&mut tx, id)
            .await
            .map_err(Error::from)?;
        let everything_packed = lines
            .iter()
            .all(|l| l.packed_quantity >= l.picked_quantity.unwrap_or(l.quantity));
        let remaining_packed = all.iter().filter(|p| p.status == "PACKED").count() - leaving.len();
        let complete = everything_packed && remaining_packed == 0;
        let now = self.now();
        for (i, p) in leaving.iter().enumerate() {
            parcels::hand_over(&mut tx, p.id, now)
                .await
                .map_err(Error::from)?;
            let event = pb::ParcelHandedOver {
                fulfillment_id: id.to_string(),
                parcel_id: p.id.to_string(),
                order_id: f.order_id.to_string(),
                warehouse_id: f.warehouse_id.clone(),
                lines: p
                    .lines
                    .0
                    .iter()
                    .map(|l| ParcelLine {
                        line_id: l.line_id.clone(),
                        sku: l.sku.clone(),
                        quantity: l.quantity,
                    })
                    .collect(),
                shipment_id: p.shipment_id.clone(),
                carrier: p.carrier.clone(),
                tracking_number: p.tracking_number.clone(),
                cash_on_delivery_amount: p.cod_amount_minor.map(|m| money(&f.currency, m)),
                fulfillment_complete: complete && i + 1 == leaving.len(),
                handed_over_at: Some(to_timestamp(now)),
                reservation_id: f.reservation_id.clone(),
                exchange_return_id: f.exchange_return_id.clone(),
            };
            self.ctx
                .outbox
                .append(&mut tx, &event)
                .await
                .map_err(Error::from)?;
        }
        if complete && !leaving.is_empty() {
            fulfillments::set_status(&mut tx, id, FStatus::HandedOver.as_str(), now)
                .await
                .map_err(Error::from)?;
        }
        let fulfillment = self.view(&mut tx, id).await?;
        self.ctx.outbox.commit(tx).await.map_err(Error::from)?;
        Ok(Response::new(pb::HandOverResponse {
            fulfillment: Some(fulfillment),
        }))
    }

    async fn mark_ready_for_pickup(
        &self,
        request: Request<pb::MarkReadyForPickupRequest>,
    ) -> Result<Response<pb::MarkReadyForPickupResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let r = request.into_inner();
        let id = parse_id("fulfillment_id", &r.fulfillment_id)?;
        let mut v = FieldViolations::new();
        required(&mut v, "staff_id", &r.staff_id);
        required(&mut v, "shelf_location", &r.shelf_location);
        v.into_result()?;
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let (f, status) = self.locked(&mut tx, id).await?;
        if f.mode != "STORE_PICKUP" {
            return Err(
                Error::FailedPrecondition(format!("fulfillment {id} ships to an address")).into(),
            );
        }
        match status {
            FStatus::ReadyForPickup | FStatus::PickedUp => {
                let fulfillment = self.view(&mut tx, id).await?;
                return Ok(Response::new(pb::MarkReadyForPickupResponse {
                    fulfillment: Some(fulfillment),
                }));
            }
            FStatus::Cancelled => {
                return Err(
                    Error::FailedPrecondition(format!("fulfillment {id} is cancelled")).into(),
                );
            }
            _ => {}
        }
        let lines = fulfillments::lines(&mut tx, id)
            .await
            .map_err(Error::from)?;
        for l in &lines {
            if l.picked_quantity.is_none() {
                fulfillments::set_picked(&mut tx, id, &l.line_id, l.quantity)
                    .await
                    .map_err(Error::from)?;
            }
        }
        let code = format!("{:06}", rand::rng().random_range(0..1_000_000));
        let now = self.now();
        fulfillments::set_pickup(&mut tx, id, &code, r.shelf_location.trim())
            .await
            .map_err(Error::from)?;
        fulfillments::set_status(&mut tx, id, FStatus::ReadyForPickup.as_str(), now)
            .await
            .map_err(Error::from)?;
        let due: i64 = lines
            .iter()
            .map(|l| l.unit_price_minor * i64::from(l.quantity))
            .sum();
        let event = pb::FulfillmentReadyForPickup {
            fulfillment_id: id.to_string(),
            order_id: f.order_id.to_string(),
            order_number: f.order_number.clone(),
            warehouse_id: f.warehouse_id.clone(),
            customer: Some(common::Customer {
                id: f.customer.0.id.clone(),
                name: f.customer.0.name.clone(),
                email: f.customer.0.email.clone(),
                phone: f.customer.0.phone.clone(),
            }),
            pickup_code: code,
            shelf_location: r.shelf_location.trim().to_owned(),
            cash_due: f.collect_cod.then(|| money(&f.currency, due)),
            ready_at: Some(to_timestamp(now)),
        };
        self.ctx
            .outbox
            .append(&mut tx, &event)
            .await
            .map_err(Error::from)?;
        let fulfillment = self.view(&mut tx, id).await?;
        self.ctx.outbox.commit(tx).await.map_err(Error::from)?;
        Ok(Response::new(pb::MarkReadyForPickupResponse {
            fulfillment: Some(fulfillment),
        }))
    }

    async fn confirm_pickup(
        &self,
        request: Request<pb::ConfirmPickupRequest>,
    ) -> Result<Response<pb::ConfirmPickupResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let r = request.into_inner();
        let id = parse_id("fulfillment_id", &r.fulfillment_id)?;
        let mut v = FieldViolations::new();
        required(&mut v, "request_id", &r.request_id);
        required(&mut v, "pickup_code", &r.pickup_code);
        required(&mut v, "collected_by", &r.collected_by);
        required(&mut v, "staff_id", &r.staff_id);
        v.into_result()?;
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let (f, status) = self.locked(&mut tx, id).await?;
        match status {
            FStatus::PickedUp => {
                let fulfillment = self.view(&mut tx, id).await?;
                return Ok(Response::new(pb::ConfirmPickupResponse {
                    fulfillment: Some(fulfillment),
                }));
            }
            FStatus::ReadyForPickup => {}
            other => {
                return Err(Error::FailedPrecondition(format!(
                    "fulfillment {id} is {}, not ready for pickup",
                    other.as_str().to_lowercase()
                ))
                .into());
            }
        }
        if f.pickup_code.as_deref() != Some(r.pickup_code.trim()) {
            return Err(invalid(
                "pickup_code",
                "does not match the code sent to the customer",
            )
            .into());
        }
        let lines = fulfillments::lines(&mut tx, id)
            .await
            .map_err(Error::from)?;
        let due: i64 = lines
            .iter()
            .map(|l| l.unit_price_minor * i64::from(l.quantity))
            .sum();
        let cash = r.cash_collected.as_ref().map(|m| m.amount_minor);
        if f.collect_cod && cash != Some(due) {
            return Err(invalid(
                "cash_collected",
                &format!("must be the amount due, {due} {}", f.currency),
            )
            .into());
        }
        let now = self.now();
        fulfillments::set_status(&mut tx, id, FStatus::PickedUp.as_str(), now)
            .await
            .map_err(Error::from)?;
        let event = pb::FulfillmentPickedUp {
            fulfillment_id: id.to_string(),
            order_id: f.order_id.to_string(),
            warehouse_id: f.warehouse_id.clone(),
            lines: lines
                .iter()
                .map(|l| ParcelLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect(),
            collected_by: r.collected_by.clone(),
            cash_collected: if f.collect_cod {
                Some(money(&f.currency, due))
            } else {
                None
            },
            picked_up_at: Some(to_timestamp(now)),
        };
        self.ctx
            .outbox
            .append(&mut tx, &event)
            .await
            .map_err(Error::from)?;
        let fulfillment = self.view(&mut tx, id).await?;
        self.ctx.outbox.commit(tx).await.map_err(Error::from)?;
        Ok(Response::new(pb::ConfirmPickupResponse {
            fulfillment: Some(fulfillment),
        }))
    }

    async fn receive_return(
        &self,
        request: Request<pb::ReceiveReturnRequest>,
    ) -> Result<Response<pb::ReceiveReturnResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        required(&mut v, "request_id", &r.request_id);
        required(&mut v, "return_id", &r.return_id);
        required(&mut v, "order_id", &r.order_id);
        required(&mut v, "warehouse_id", &r.warehouse_id);
        required(&mut v, "received_by", &r.received_by);
        v.into_result()?;
        runtime::telemetry::record_order_id(&r.order_id.trim());
        let now = self.now();
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let row = ReceiptRow {
            return_id: r.return_id.trim().to_owned(),
            order_id: r.order_id.trim().to_owned(),
            warehouse_id: r.warehouse_id.trim().to_owned(),
            status: "RECEIVED".into(),
            tracking_number: r.tracking_number.trim().to_owned(),
            received_by: r.received_by.trim().to_owned(),
            received_at: now,
            lines: Json(Vec::new()),
            inspected_by: None,
            inspected_at: None,
            note: r.note.trim().to_owned(),
        };
        if returns::receive(&mut tx, &row).await.map_err(Error::from)? {
            let event = pb::ReturnReceived {
                return_id: row.return_id.clone(),
                order_id: row.order_id.clone(),
                warehouse_id: row.warehouse_id.clone(),
                tracking_number: row.tracking_number.clone(),
                received_by: row.received_by.clone(),
                received_at: Some(to_timestamp(now)),
            };
            self.ctx
                .outbox
                .append(&mut tx, &event)
                .await
                .map_err(Error::from)?;
        }
        let stored = returns::get(&mut tx, &row.return_id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound("return".into()))?;
        self.ctx.outbox.commit(tx).await.map_err(Error::from)?;
        Ok(Response::new(pb::ReceiveReturnResponse {
            receipt: Some(receipt_pb(&stored)),
        }))
    }

    async fn record_inspection(
        &self,
        request: Request<pb::RecordInspectionRequest>,
    ) -> Result<Response<pb::RecordInspectionResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(&STAFF)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        required(&mut v, "request_id", &r.request_id);
        required(&mut v, "return_id", &r.return_id);
        required(&mut v, "inspected_by", &r.inspected_by);
        v.check(!r.lines.is_empty(), "lines", "grade at least one line");
        let mut lines = Vec::new();
        for (i, l) in r.lines.iter().enumerate() {
            let grade =
                pb::InspectionGrade::try_from(l.grade).unwrap_or(pb::InspectionGrade::Unspecified);
            v.check(
                grade != pb::InspectionGrade::Unspecified,
                format!("lines[{i}].grade"),
                "is required",
            );
            v.check(
                l.quantity > 0,
                format!("lines[{i}].quantity"),
                "must be positive",
            );
            required(&mut v, &format!("lines[{i}].line_id"), &l.line_id);
            lines.push(Inspected {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                grade: grade.as_str_name().to_owned(),
                note: l.note.clone(),
            });
        }
        v.into_result()?;
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let receipt = returns::get(&mut tx, r.return_id.trim())
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound(format!("received return {}", r.return_id)))?;
        runtime::telemetry::record_order_id(&receipt.order_id);
        if receipt.status == "RECEIVED" {
            let now = self.now();
            returns::inspect(
                &mut tx,
                &receipt.return_id,
                &lines,
                r.inspected_by.trim(),
                r.note.trim(),
                now,
            )
            .await
            .map_err(Error::from)?;
            let event = pb::ReturnInspected {
                return_id: receipt.return_id.clone(),
                order_id: receipt.order_id.clone(),
                warehouse_id: receipt.warehouse_id.clone(),
                lines: r.lines.clone(),
                inspected_by: r.inspected_by.trim().to_owned(),
                note: r.note.trim().to_owned(),
                inspected_at: Some(to_timestamp(now)),
            };
            self.ctx
                .outbox
                .append(&mut tx, &event)
                .await
                .map_err(Error::from)?;
        }
        let stored = returns::get(&mut tx, &receipt.return_id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound("return".into()))?;
        self.ctx.outbox.commit(tx).await.map_err(Error::from)?;
        Ok(Response::new(pb::RecordInspectionResponse {
            receipt: Some(receipt_pb(&stored)),
        }))
    }
}
