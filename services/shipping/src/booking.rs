//! Creating a shipment, outbound (CreateShipment at packing) or return (orders'
//! ReturnShipmentRequested): the rate table picks the carrier, a sequence gives the tracking
//! number, and in one transaction the shipment, its label-created event, the
//! `shipment.created` fact and the carrier's booking (the simulator's first timer) are written.
//! The label is rendered from the stored shipment whenever asked, so reprints are identical.

use chrono::{DateTime, Utc};
use contracts::shipping as pb;
use contracts::time::to_timestamp;
use messaging::Outbox;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::carriers::Carriers;
use crate::config::ShippingConfig;
use crate::domain::rates::{ChoiceError, Parcel};
use crate::domain::tracking::estimate_eta;
use crate::domain::{
    Address, Dimensions, Direction, Money, RecordedEvent, Shipment, ShipmentLine, TrackingStatus,
    tracking_number,
};
use crate::grpc::convert;
use crate::store::shipments::Inserted;
use crate::store::{self, StoreError};

/// A shipment to create, validated.
#[derive(Debug, Clone)]
pub struct NewShipment {
    pub direction: Direction,
    pub order_id: String,
    pub fulfillment_id: String,
    pub parcel_id: String,
    pub return_id: String,
    pub rma_number: String,
    /// Printed on the label; empty when the caller did not give it.
    pub order_number: String,
    pub warehouse_id: String,
    /// `None`: the warehouse's address from the address book.
    pub ship_from: Option<Address>,
    pub ship_to: Address,
    pub weight_grams: i32,
    pub dimensions: Option<Dimensions>,
    pub lines: Vec<ShipmentLine>,
    pub declared_value: Option<Money>,
    pub cash_on_delivery: Option<Money>,
    pub preferred_carrier: String,
    pub service_level: String,
}

pub enum Booked {
    New(Shipment),
    /// Created before under the same request_id (or return_id).
    Existing {
        shipment: Shipment,
        request_hash: Option<Vec<u8>>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error(transparent)]
    NoCarrier(#[from] ChoiceError),
    #[error("the address of warehouse {0} is not known; send ship_from")]
    UnknownWarehouse(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for BookingError {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(StoreError::Db(err))
    }
}

/// What booking needs from the service.
pub struct Booking<'a> {
    pub outbox: &'a Outbox,
    pub config: &'a ShippingConfig,
    pub carriers: &'a Carriers,
}

async fn existing(
    conn: &mut PgConnection,
    request_id: Option<&str>,
    return_id: &str,
) -> Result<Option<(Uuid, Option<Vec<u8>>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, request_hash FROM shipments
         WHERE ($1::text IS NOT NULL AND request_id = $1) OR ($2 <> '' AND return_id = $2)",
    )
    .bind(request_id)
    .bind(return_id)
    .fetch_optional(conn)
    .await
}

impl Booking<'_> {
    /// Creates `new` in `tx` unless its request (`request_id` and the hash of the request) or
    /// its return was booked before.
    pub async fn book(
        &self,
        tx: &mut PgConnection,
        new: &NewShipment,
        request: Option<(&str, &[u8])>,
        now: DateTime<Utc>,
    ) -> Result<Booked, BookingError> {
        let request_id = request.map(|r| r.0);
        if let Some((id, request_hash)) = existing(tx, request_id, &new.return_id).await? {
            let shipment = store::shipments::get(tx, id)
                .await?
                .ok_or_else(|| StoreError::Corrupt(id, "vanished".into()))?;
            return Ok(Booked::Existing {
                shipment,
                request_hash,
            });
        }

        let ship_from = match &new.ship_from {
            Some(address) => address.clone(),
            None => self.warehouse_address(tx, &new.warehouse_id).await?,
        };
        let choice = self.config.rates.choose(&Parcel {
            destination: &new.ship_to,
            weight_grams: new.weight_grams,
            dimensions: new.dimensions,
            preferred_carrier: &new.preferred_carrier,
            service_level: &new.service_level,
        })?;
        let carrier = self
            .config
            .rates
            .carrier(&choice.carrier)
            .ok_or_else(|| ChoiceError::UnknownCarrier(choice.carrier.clone()))?;
        let serial = store::shipments::next_serial(tx).await?;
        let number =
            tracking_number::format(&carrier.tracking_prefix, serial, &ship_from.country_code);
        let mut shipment = Shipment {
            id: Uuid::now_v7(),
            order_id: new.order_id.clone(),
            direction: new.direction,
            fulfillment_id: new.fulfillment_id.clone(),
            parcel_id: new.parcel_id.clone(),
            return_id: new.return_id.clone(),
            rma_number: new.rma_number.clone(),
            order_number: new.order_number.clone(),
            warehouse_id: new.warehouse_id.clone(),
            carrier: carrier.code.clone(),
            service_level: choice.service_level.clone(),
            tracking_url: carrier.tracking_url(&number),
            tracking_number: number,
            status: TrackingStatus::LabelCreated,
            status_at: now,
            ship_from,
            ship_to: new.ship_to.clone(),
            weight_grams: new.weight_grams,
            dimensions: new.dimensions,
            lines: new.lines.clone(),
            declared_value: new.declared_value.clone(),
            cash_on_delivery: new.cash_on_delivery.clone(),
            cash_collected: None,
            transit_days: choice.transit_days,
            handed_over_at: None,
            next_attempt_at: None,
            eta: None,
            courier: None,
            delivery_attempts: 0,
            last_location: String::new(),
            received_by: String::new(),
            created_at: now,
            updated_at: now,
            delivered_at: None,
        };
        shipment.eta = estimate_eta(&shipment, &self.config.eta);

        let request_hash = request.map(|r| r.1);
        if let Inserted::Existing {
            shipment,
            request_hash,
        } = store::shipments::insert(tx, &shipment, request_id, request_hash).await?
        {
            return Ok(Booked::Existing {
                shipment: *shipment,
                request_hash,
            });
        }
        let label_created = RecordedEvent {
            id: Uuid::now_v7(),
            status: TrackingStatus::LabelCreated,
            carrier_status_code: String::new(),
            description: format!(
                "label created for {} {}",
                carrier.name, shipment.service_level
            ),
            location: shipment.ship_from.city.clone(),
            occurred_at: now,
            recorded_at: now,
            carrier_event_id: None,
            failure_reason: None,
        };
        store::events::insert(tx, shipment.id, &shipment.carrier, &label_created, true).await?;
        if new.direction == Direction::Outbound && new.ship_from.is_some() {
            // Remember where this warehouse is: its returns are addressed there.
            store::warehouses::upsert(tx, &new.warehouse_id, &shipment.ship_from, now).await?;
        }
        self.outbox.append(tx, &created_event(&shipment)).await?;
        self.carriers.shipment_created(tx, &shipment, now).await?;
        tracing::info!(
            shipment_id = %shipment.id,
            carrier = %shipment.carrier,
            direction = shipment.direction.as_str(),
            "shipment created"
        );
        Ok(Booked::New(shipment))
    }

    /// The address of a warehouse: learned from its outbound parcels, else configured.
    pub async fn warehouse_address(
        &self,
        conn: &mut PgConnection,
        warehouse_id: &str,
    ) -> Result<Address, BookingError> {
        if let Some(address) = store::warehouses::get(conn, warehouse_id).await? {
            return Ok(address);
        }
        self.config
            .warehouses
            .get(warehouse_id)
            .cloned()
            .ok_or_else(|| BookingError::UnknownWarehouse(warehouse_id.to_owned()))
    }
}

fn created_event(s: &Shipment) -> pb::ShipmentCreated {
    pb::ShipmentCreated {
        shipment_id: s.id.to_string(),
        order_id: s.order_id.clone(),
        direction: convert::direction(s.direction) as i32,
        fulfillment_id: s.fulfillment_id.clone(),
        parcel_id: s.parcel_id.clone(),
        return_id: s.return_id.clone(),
        warehouse_id: s.warehouse_id.clone(),
        carrier: s.carrier.clone(),
        service_level: s.service_level.clone(),
        tracking_number: s.tracking_number.clone(),
        tracking_url: s.tracking_url.clone(),
        eta: s.eta.map(to_timestamp),
        cash_on_delivery_amount: s.cash_on_delivery.as_ref().map(convert::money),
        created_at: Some(to_timestamp(s.created_at)),
    }
}
