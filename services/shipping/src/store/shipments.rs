//! The `shipments` table and the tracking-number sequence.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::StoreError;
use crate::domain::{
    Address, Courier, Dimensions, Direction, Money, Shipment, ShipmentLine, TrackingStatus,
};

/// What inserting a shipment found.
pub enum Inserted {
    New,
    /// A shipment with this request_id (or return_id) exists already.
    Existing {
        shipment: Box<Shipment>,
        request_hash: Option<Vec<u8>>,
    },
}

/// A serial for the next tracking number.
pub async fn next_serial(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT nextval('tracking_serial_seq')")
        .fetch_one(conn)
        .await
}

/// Inserts `s` unless its request_id or return_id is taken; then the earlier one is returned.
pub async fn insert(
    conn: &mut PgConnection,
    s: &Shipment,
    request_id: Option<&str>,
    request_hash: Option<&[u8]>,
) -> Result<Inserted, StoreError> {
    let return_id = (s.direction == Direction::Return).then_some(s.return_id.as_str());
    let done = sqlx::query(
        "INSERT INTO shipments (id, request_id, request_hash, return_id, rma_number, order_id,
             direction, fulfillment_id, parcel_id, warehouse_id, carrier, service_level,
             tracking_number, tracking_url, status, status_at, ship_from, ship_to, weight_grams,
             dimensions, lines, declared_value, cash_on_delivery, cash_collected, transit_days,
             handed_over_at, next_attempt_at, eta, courier, delivery_attempts, last_location,
             received_by, created_at, updated_at, delivered_at, order_number)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36)
         ON CONFLICT DO NOTHING",
    )
    .bind(s.id)
    .bind(request_id)
    .bind(request_hash)
    .bind(return_id)
    .bind(&s.rma_number)
    .bind(&s.order_id)
    .bind(s.direction.as_str())
    .bind(&s.fulfillment_id)
    .bind(&s.parcel_id)
    .bind(&s.warehouse_id)
    .bind(&s.carrier)
    .bind(&s.service_level)
    .bind(&s.tracking_number)
    .bind(&s.tracking_url)
    .bind(s.status.as_str())
    .bind(s.status_at)
    .bind(Json(&s.ship_from))
    .bind(Json(&s.ship_to))
    .bind(s.weight_grams)
    .bind(s.dimensions.map(Json))
    .bind(Json(&s.lines))
    .bind(s.declared_value.as_ref().map(Json))
    .bind(s.cash_on_delivery.as_ref().map(Json))
    .bind(s.cash_collected.as_ref().map(Json))
    .bind(s.transit_days)
    .bind(s.handed_over_at)
    .bind(s.next_attempt_at)
    .bind(s.eta)
    .bind(s.courier.as_ref().map(Json))
    .bind(s.delivery_attempts)
    .bind(&s.last_location)
    .bind(&s.received_by)
    .bind(s.created_at)
    .bind(s.updated_at)
    .bind(s.delivered_at)
    .bind(&s.order_number)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(Inserted::New);
    }
    let existing: Option<(Uuid, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT id, request_hash FROM shipments
         WHERE ($1::text IS NOT NULL AND request_id = $1)
            OR ($2::text IS NOT NULL AND return_id = $2)",
    )
    .bind(request_id)
    .bind(return_id)
    .fetch_optional(&mut *conn)
    .await?;
    // Neither key collided: the tracking number did, which the sequence makes a bug.
    let (id, request_hash) =
        existing.ok_or_else(|| StoreError::Corrupt(s.id, "tracking number taken".into()))?;
    let shipment = get(conn, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(id, "vanished".into()))?;
    Ok(Inserted::Existing {
        shipment: Box::new(shipment),
        request_hash,
    })
}

/// Writes back what tracking events change.
pub async fn update(conn: &mut PgConnection, s: &Shipment) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shipments SET status = $2, status_at = $3, cash_collected = $4,
             handed_over_at = $5, next_attempt_at = $6, eta = $7, courier = $8,
             delivery_attempts = $9, last_location = $10, received_by = $11, updated_at = $12,
             delivered_at = $13
         WHERE id = $1",
    )
    .bind(s.id)
    .bind(s.status.as_str())
    .bind(s.status_at)
    .bind(s.cash_collected.as_ref().map(Json))
    .bind(s.handed_over_at)
    .bind(s.next_attempt_at)
    .bind(s.eta)
    .bind(s.courier.as_ref().map(Json))
    .bind(s.delivery_attempts)
    .bind(&s.last_location)
    .bind(&s.received_by)
    .bind(s.updated_at)
    .bind(s.delivered_at)
    .execute(conn)
    .await?;
    Ok(())
}

const COLUMNS: &str = "id, return_id, rma_number, order_id, direction, fulfillment_id, parcel_id,
    warehouse_id, carrier, service_level, tracking_number, tracking_url, status, status_at,
    ship_from, ship_to, weight_grams, dimensions, lines, declared_value, cash_on_delivery,
    cash_collected, transit_days, handed_over_at, next_attempt_at, eta, courier,
    delivery_attempts, last_location, received_by, created_at, updated_at, delivered_at, order_number";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    return_id: Option<String>,
    rma_number: String,
    order_number: String,
    order_id: String,
    direction: String,
    fulfillment_id: String,
    parcel_id: String,
    warehouse_id: String,
    carrier: String,
    service_level: String,
    tracking_number: String,
    tracking_url: String,
    status: String,
    status_at: DateTime<Utc>,
    ship_from: Json<Address>,
    ship_to: Json<Address>,
    weight_grams: i32,
    dimensions: Option<Json<Dimensions>>,
    lines: Json<Vec<ShipmentLine>>,
    declared_value: Option<Json<Money>>,
    cash_on_delivery: Option<Json<Money>>,
    cash_collected: Option<Json<Money>>,
    transit_days: i32,
    handed_over_at: Option<DateTime<Utc>>,
    next_attempt_at: Option<DateTime<Utc>>,
    eta: Option<DateTime<Utc>>,
    courier: Option<Json<Courier>>,
    delivery_attempts: i32,
    last_location: String,
    received_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for Shipment {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(r.id, what.to_owned());
        Ok(Shipment {
            direction: Direction::parse(&r.direction).ok_or_else(|| corrupt("direction"))?,
            status: TrackingStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            id: r.id,
            order_id: r.order_id,
            fulfillment_id: r.fulfillment_id,
            parcel_id: r.parcel_id,
            return_id: r.return_id.unwrap_or_default(),
            rma_number: r.rma_number,
            order_number: r.order_number,
            warehouse_id: r.warehouse_id,
            carrier: r.carrier,
            service_level: r.service_level,
            tracking_number: r.tracking_number,
            tracking_url: r.tracking_url,
            status_at: r.status_at,
            ship_from: r.ship_from.0,
            ship_to: r.ship_to.0,
            weight_grams: r.weight_grams,
            dimensions: r.dimensions.map(|d| d.0),
            lines: r.lines.0,
            declared_value: r.declared_value.map(|m| m.0),
            cash_on_delivery: r.cash_on_delivery.map(|m| m.0),
            cash_collected: r.cash_collected.map(|m| m.0),
            transit_days: r.transit_days,
            handed_over_at: r.handed_over_at,
            next_attempt_at: r.next_attempt_at,
            eta: r.eta,
            courier: r.courier.map(|c| c.0),
            delivery_attempts: r.delivery_attempts,
            last_location: r.last_location,
            received_by: r.received_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            delivered_at: r.delivered_at,
        })
    }
}

/// How one shipment is looked up.
enum Key<'a> {
    Id(Uuid),
    TrackingNumber(&'a str),
    CarrierTracking(&'a str, &'a str),
}

async fn one(
    conn: &mut PgConnection,
    key: Key<'_>,
    lock: bool,
) -> Result<Option<Shipment>, StoreError> {
    let condition = match key {
        Key::Id(_) => "id = $1",
        Key::TrackingNumber(_) => "tracking_number = $1",
        Key::CarrierTracking(..) => "carrier = $1 AND tracking_number = $2",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM shipments WHERE {condition}{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let query = sqlx::query_as::<_, Row>(&sql);
    let query = match key {
        Key::Id(id) => query.bind(id),
        Key::TrackingNumber(number) => query.bind(number),
        Key::CarrierTracking(carrier, number) => query.bind(carrier).bind(number),
    };
    query
        .fetch_optional(conn)
        .await?
        .map(Shipment::try_from)
        .transpose()
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Shipment>, StoreError> {
    one(conn, Key::Id(id), false).await
}

pub async fn get_by_tracking_number(
    conn: &mut PgConnection,
    number: &str,
) -> Result<Option<Shipment>, StoreError> {
    one(conn, Key::TrackingNumber(number), false).await
}

/// The shipment, locked for the rest of the transaction (events on it apply one at a time).
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<Shipment>, StoreError> {
    one(conn, Key::Id(id), true).await
}

pub async fn lock_by_carrier_tracking(
    conn: &mut PgConnection,
    carrier: &str,
    number: &str,
) -> Result<Option<Shipment>, StoreError> {
    one(conn, Key::CarrierTracking(carrier, number), true).await
}

/// Filters of ListShipments; empty means any.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub order_id: String,
    pub statuses: Vec<TrackingStatus>,
    pub carrier: String,
    pub direction: Option<Direction>,
}

/// Newest first; `after` is the (created_at, id) of the last row of the previous page.
pub async fn list(
    conn: &mut PgConnection,
    filter: &Filter,
    limit: i64,
    after: Option<(DateTime<Utc>, Uuid)>,
) -> Result<Vec<Shipment>, StoreError> {
    let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM shipments
         WHERE ($1 = '' OR order_id = $1)
           AND (cardinality($2::text[]) = 0 OR status = ANY($2))
           AND ($3 = '' OR carrier = $3)
           AND ($4::text IS NULL OR direction = $4)
           AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
         ORDER BY created_at DESC, id DESC
         LIMIT $7"
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(&filter.order_id)
        .bind(&statuses)
        .bind(&filter.carrier)
        .bind(filter.direction.map(Direction::as_str))
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(Shipment::try_from).collect()
}
