//! The shipping gRPC API. Requests are validated into domain values in [`convert`] (every bad
//! field reported at once); creation goes through `booking`, tracking events through
//! `ingest`, both inside one transaction that also holds the outbox rows; errors map once
//! through [`crate::error::Error`].

pub mod convert;

use prost::Message as _;
use runtime::Role;
use runtime::grpc::FieldViolations;
use sha2::{Digest as _, Sha256};
use tokio::sync::{broadcast, mpsc};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use contracts::common;
use contracts::shipping as pb;
use contracts::shipping::shipping_service_server::ShippingService;
use contracts::time::to_timestamp;

use crate::app::Shipping;
use crate::booking::{Booked, BookingError};
use crate::domain::label::{self, LabelContext, LabelFormat};
use crate::domain::rates::ChoiceError;
use crate::domain::tracking::{TrackingError, TrackingUpdate};
use crate::domain::{RecordedEvent, Shipment};
use crate::error::Error;
use crate::ingest::{self, Incoming, IngestError, Target};
use crate::store;
use crate::watch::{Hub, Notice};

#[derive(Clone)]
pub struct ShippingApi {
    shipping: Shipping,
    hub: Hub,
}

impl ShippingApi {
    pub fn new(shipping: Shipping, hub: Hub) -> Self {
        Self { shipping, hub }
    }
}

const STAFF: &[Role] = &[Role::Operator, Role::Service];
/// Tracking is public by tracking number, as on a carrier's site.
const ANYONE: &[Role] = &[Role::Customer, Role::Operator, Role::Service];

impl From<BookingError> for Error {
    fn from(err: BookingError) -> Self {
        match err {
            BookingError::NoCarrier(ChoiceError::UnknownCarrier(code)) => Error::field(
                "preferred_carrier",
                format!("no carrier is called {code:?}"),
            ),
            BookingError::NoCarrier(err) => Error::FailedPrecondition(err.to_string()),
            BookingError::UnknownWarehouse(id) => Error::field(
                "ship_from",
                format!("is required: the address of warehouse {id} is not known"),
            ),
            BookingError::Store(err) => Error::Store(err),
        }
    }
}

impl From<IngestError> for Error {
    fn from(err: IngestError) -> Self {
        match err {
            IngestError::NotFound(what) => Error::NotFound(format!("shipment {what}")),
            IngestError::Rejected(err) => match err {
                TrackingError::CancelAfterPickup => Error::FailedPrecondition(err.to_string()),
                TrackingError::LabelCreatedIsImplicit => Error::field("status", err.to_string()),
                TrackingError::CashCollectedMissing
                | TrackingError::CashCollectedCurrency { .. }
                | TrackingError::CashCollectedWithoutCod
                | TrackingError::CashCollectedNotDelivered => {
                    Error::field("cash_collected", err.to_string())
                }
            },
            IngestError::Store(err) => Error::Store(err),
        }
    }
}

impl Shipping {
    /// A shipment by id or tracking number.
    pub async fn find(&self, id_or_number: &str) -> Result<Shipment, Error> {
        let raw = id_or_number.trim();
        if raw.is_empty() {
            return Err(Error::field(
                "id",
                "is required (a shipment id or tracking number)",
            ));
        }
        if raw.chars().count() > 64 {
            return Err(Error::field("id", "must be at most 64 characters"));
        }
        let mut conn = self.pool.acquire().await?;
        let found = match Uuid::parse_str(raw) {
            Ok(id) => store::shipments::get(&mut conn, id).await?,
            Err(_) => store::shipments::get_by_tracking_number(&mut conn, raw).await?,
        };
        let shipment = found.ok_or_else(|| Error::NotFound(format!("shipment {raw}")))?;
        // GetShipment, TrackShipment, WatchShipment and GetLabel name their shipment here.
        runtime::telemetry::record_order_id(&shipment.order_id);
        Ok(shipment)
    }

    pub async fn history(&self, id: Uuid) -> Result<Vec<RecordedEvent>, Error> {
        let mut conn = self.pool.acquire().await?;
        Ok(store::events::history(&mut conn, id).await?)
    }

    pub fn label(&self, s: &Shipment, format: LabelFormat) -> common::Label {
        let carrier_name = self
            .config
            .rates
            .carrier(&s.carrier)
            .map_or(s.carrier.as_str(), |c| c.name.as_str());
        common::Label {
            shipment_id: s.id.to_string(),
            carrier: s.carrier.clone(),
            tracking_number: s.tracking_number.clone(),
            format: convert::label_format(format) as i32,
            content: label::render(s, &LabelContext { carrier_name }, format),
            created_at: Some(to_timestamp(s.created_at)),
        }
    }

    async fn create(
        &self,
        request: pb::CreateShipmentRequest,
    ) -> Result<(Shipment, LabelFormat), Error> {
        // The hash covers the whole request: a replay must be the same request.
        let request_hash = Sha256::digest(request.encode_to_vec()).to_vec();
        let create = convert::CreateShipment::try_from(request)?;
        let mut tx = self.pool.begin().await?;
        let booked = self
            .booking()
            .book(
                &mut tx,
                &create.shipment,
                Some((&create.request_id, &request_hash)),
                self.clock.now(),
            )
            .await?;
        match booked {
            Booked::New(shipment) => {
                self.outbox.commit(tx).await?;
                Ok((shipment, create.label_format))
            }
            Booked::Existing {
                shipment,
                request_hash: earlier,
            } => {
                if earlier.as_deref() == Some(request_hash.as_slice()) {
                    Ok((shipment, create.label_format))
                } else {
                    Err(Error::AlreadyExists(format!(
                        "request_id {} was already used for a different request (shipment {})",
                        create.request_id, shipment.id
                    )))
                }
            }
        }
    }

    async fn record(
        &self,
        request: pb::RecordTrackingEventRequest,
    ) -> Result<(Shipment, bool), Error> {
        let r = convert::RecordEvent::try_from(request)?;
        let mut v = FieldViolations::new();
        // The shipment's carrier decides what its codes mean; a named carrier must be it.
        let (target, carrier) = match r.shipment_id {
            Some(id) => {
                let s = self.find(&id.to_string()).await?;
                v.check(
                    r.carrier.is_empty() || r.carrier == s.carrier,
                    "carrier",
                    format!("does not match the shipment's carrier {}", s.carrier),
                );
                v.check(
                    r.tracking_number.is_empty() || r.tracking_number == s.tracking_number,
                    "tracking_number",
                    "does not match the shipment's tracking number",
                );
                (Target::Id(id), s.carrier)
            }
            None => (
                Target::CarrierTracking {
                    carrier: r.carrier.clone(),
                    number: r.tracking_number.clone(),
                },
                r.carrier.clone(),
            ),
        };
        let Some(carrier_def) = self.config.rates.carrier(&carrier) else {
            v.add("carrier", format!("no carrier is called {carrier:?}"));
            return Err(v.into());
        };
        let mapped = if r.carrier_status_code.is_empty() {
            None
        } else {
            carrier_def.map_code(&r.carrier_status_code)
        };
        let status = match (r.status, mapped) {
            (Some(status), _) => status,
            (None, Some(m)) => m.status,
            (None, None) => {
                v.add(
                    "carrier_status_code",
                    format!("is not a status code of carrier {carrier}"),
                );
                return Err(v.into());
            }
        };
        let failure_reason = r.failure_reason.or(mapped.and_then(|m| m.failure_reason));
        convert::check_status_fields(&mut v, status, r.failure_reason, r.next_attempt_at);
        if !v.is_empty() {
            return Err(v.into());
        }
        let now = self.clock.now();
        let incoming = Incoming {
            carrier_event_id: r.carrier_event_id,
            update: TrackingUpdate {
                status,
                carrier_status_code: r.carrier_status_code,
                description: if r.description.is_empty() {
                    status.describe().to_owned()
                } else {
                    r.description
                },
                location: r.location,
                occurred_at: r.occurred_at.unwrap_or(now),
                eta: r.eta,
                courier: r.courier,
                cash_collected: r.cash_collected,
                failure_reason: if status == crate::domain::TrackingStatus::DeliveryFailed {
                    failure_reason.or(Some(crate::domain::FailureReason::Other))
                } else {
                    None
                },
                next_attempt_at: r.next_attempt_at,
                received_by: String::new(),
            },
        };
        let mut tx = self.pool.begin().await?;
        let recorded =
            ingest::record(&mut tx, &self.outbox, &self.config, &target, &incoming, now).await?;
        self.outbox.commit(tx).await?;
        Ok((recorded.shipment, recorded.duplicate))
    }
}

fn page_token(s: &Shipment) -> String {
    hex::encode(format!("{}:{}", s.created_at.timestamp_micros(), s.id))
}

fn parse_page_token(token: &str) -> Option<(chrono::DateTime<chrono::Utc>, Uuid)> {
    let raw = String::from_utf8(hex::decode(token).ok()?).ok()?;
    let (micros, id) = raw.split_once(':')?;
    Some((
        chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        Uuid::parse_str(id).ok()?,
    ))
}

/// What the generated server expects of a server stream.
type WatchStream = tonic::codegen::BoxStream<pb::WatchShipmentResponse>;

#[tonic::async_trait]
impl ShippingService for ShippingApi {
    async fn create_shipment(
        &self,
        request: Request<pb::CreateShipmentRequest>,
    ) -> Result<Response<pb::CreateShipmentResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(STAFF)?;
        let (shipment, format) = self.shipping.create(request.into_inner()).await?;
        runtime::telemetry::record_order_id(&shipment.order_id);
        let history = self.shipping.history(shipment.id).await?;
        Ok(Response::new(pb::CreateShipmentResponse {
            label: Some(self.shipping.label(&shipment, format)),
            shipment: Some(convert::shipment(&shipment, &history)),
        }))
    }

    async fn get_shipment(
        &self,
        request: Request<pb::GetShipmentRequest>,
    ) -> Result<Response<pb::GetShipmentResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(STAFF)?;
        let shipment = self.shipping.find(&request.get_ref().id).await?;
        let history = self.shipping.history(shipment.id).await?;
        Ok(Response::new(pb::GetShipmentResponse {
            shipment: Some(convert::shipment(&shipment, &history)),
        }))
    }

    async fn list_shipments(
        &self,
        request: Request<pb::ListShipmentsRequest>,
    ) -> Result<Response<pb::ListShipmentsResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(STAFF)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let config = &self.shipping.config;
        let page_size = match r.page_size {
            0 => config.page_size,
            n if n < 0 => {
                v.add("page_size", "must not be negative");
                0
            }
            n => i64::from(n).min(config.max_page_size),
        };
        let after = if r.page_token.is_empty() {
            None
        } else {
            let parsed = parse_page_token(&r.page_token);
            if parsed.is_none() {
                v.add("page_token", "is not a page token from ListShipments");
            }
            parsed
        };
        let mut statuses = Vec::new();
        for (i, raw) in r.statuses.iter().enumerate() {
            match convert::status_from(*raw) {
                Some(s) => statuses.push(s),
                None => v.add(
                    format!("statuses[{i}]"),
                    "must be a TrackingStatus other than UNSPECIFIED",
                ),
            }
        }
        let direction = match pb::ShipmentDirection::try_from(r.direction) {
            Ok(pb::ShipmentDirection::Unspecified) => None,
            Ok(pb::ShipmentDirection::Outbound) => Some(crate::domain::Direction::Outbound),
            Ok(pb::ShipmentDirection::Return) => Some(crate::domain::Direction::Return),
            Err(_) => {
                v.add("direction", "is not a ShipmentDirection");
                None
            }
        };
        let order_id = convert::text(&mut v, "order_id", &r.order_id, false, 128);
        runtime::telemetry::record_order_id(&order_id);
        let carrier = convert::text(&mut v, "carrier", &r.carrier, false, 64);
        if !v.is_empty() {
            return Err(v.into_status());
        }
        let filter = store::shipments::Filter {
            order_id,
            statuses,
            carrier,
            direction,
        };
        let mut conn = self.shipping.pool.acquire().await.map_err(Error::from)?;
        // One more than asked tells whether another page follows.
        let mut page = store::shipments::list(&mut conn, &filter, page_size + 1, after)
            .await
            .map_err(Error::from)?;
        let more = page.len() as i64 > page_size;
        page.truncate(usize::try_from(page_size).unwrap_or(0));
        let next_page_token = if more {
            page.last().map(page_token).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListShipmentsResponse {
            // Lists carry no history; GetShipment and TrackShipment do.
            shipments: page.iter().map(|s| convert::shipment(s, &[])).collect(),
            next_page_token,
        }))
    }

    async fn track_shipment(
        &self,
        request: Request<pb::TrackShipmentRequest>,
    ) -> Result<Response<pb::TrackShipmentResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(ANYONE)?;
        let shipment = self.shipping.find(&request.get_ref().id).await?;
        let history = self.shipping.history(shipment.id).await?;
        Ok(Response::new(pb::TrackShipmentResponse {
            tracking: Some(convert::tracking(&shipment, &history)),
        }))
    }

    async fn watch_shipment(
        &self,
        request: Request<pb::WatchShipmentRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        runtime::auth::actor(&request)?.require_any(ANYONE)?;
        // Subscribe before reading, so a change committed in between is not missed.
        let notices = self.hub.subscribe();
        let shipment = self.shipping.find(&request.get_ref().id).await?;
        let history = self.shipping.history(shipment.id).await?;
        let (sender, receiver) = mpsc::channel(16);
        let first = pb::WatchShipmentResponse {
            tracking: Some(convert::tracking(&shipment, &history)),
            event: None,
        };
        let done = shipment.status.is_final();
        // The channel has room: the first message never waits.
        let _ = sender.try_send(Ok(first));
        if !done {
            tokio::spawn(watch(
                self.shipping.clone(),
                self.hub.clone(),
                notices,
                shipment.id,
                sender,
            ));
        }
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    async fn record_tracking_event(
        &self,
        request: Request<pb::RecordTrackingEventRequest>,
    ) -> Result<Response<pb::RecordTrackingEventResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(STAFF)?;
        let (shipment, duplicate) = self.shipping.record(request.into_inner()).await?;
        runtime::telemetry::record_order_id(&shipment.order_id);
        let history = self.shipping.history(shipment.id).await?;
        Ok(Response::new(pb::RecordTrackingEventResponse {
            shipment: Some(convert::shipment(&shipment, &history)),
            duplicate,
        }))
    }

    async fn get_label(
        &self,
        request: Request<pb::GetLabelRequest>,
    ) -> Result<Response<pb::GetLabelResponse>, Status> {
        runtime::auth::actor(&request)?.require_any(STAFF)?;
        let r = request.into_inner();
        let mut v = FieldViolations::new();
        let id = Uuid::parse_str(r.shipment_id.trim()).ok();
        if id.is_none() {
            v.add("shipment_id", "must be a shipment id (UUID)");
        }
        let format = convert::label_format_in(&mut v, "format", r.format);
        v.into_result()?;
        let shipment = self
            .shipping
            .find(&id.map(|i| i.to_string()).unwrap_or_default())
            .await?;
        Ok(Response::new(pb::GetLabelResponse {
            label: Some(self.shipping.label(&shipment, format)),
        }))
    }
}

/// Sends the tracking view after every committed event of `shipment_id` until the shipment
/// reaches a final state, the client leaves or the service stops.
async fn watch(
    shipping: Shipping,
    hub: Hub,
    mut notices: broadcast::Receiver<Notice>,
    shipment_id: Uuid,
    sender: mpsc::Sender<Result<pb::WatchShipmentResponse, Status>>,
) {
    loop {
        let notice = tokio::select! {
            () = sender.closed() => return,
            () = hub.stopping().cancelled() => return,
            notice = notices.recv() => notice,
        };
        let event_id = match notice {
            Ok(Notice::Event {
                shipment_id: id,
                event_id,
            }) if id == shipment_id => Some(event_id),
            Ok(Notice::Event { .. }) => continue,
            // Notices were lost: re-read and send the current view.
            Ok(Notice::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => None,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let view = async {
            let mut conn = shipping.pool.acquire().await?;
            let shipment = store::shipments::get(&mut conn, shipment_id).await?;
            let history = store::events::history(&mut conn, shipment_id).await?;
            let event = match event_id {
                Some(e) => store::events::get(&mut conn, shipment_id, e).await?,
                None => None,
            };
            Ok::<_, Error>((shipment, history, event))
        }
        .await;
        let (shipment, history, event) = match view {
            Ok((Some(s), history, event)) => (s, history, event),
            Ok((None, ..)) => return,
            Err(err) => {
                let _ = sender.send(Err(Status::from(err))).await;
                return;
            }
        };
        let message = pb::WatchShipmentResponse {
            tracking: Some(convert::tracking(&shipment, &history)),
            event: event.as_ref().map(convert::event),
        };
        if sender.send(Ok(message)).await.is_err() || shipment.status.is_final() {
            return;
        }
    }
}
