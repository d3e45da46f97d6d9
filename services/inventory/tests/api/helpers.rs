//! Typed helpers: a running inventory service, catalog and warehouse set-up, orders' events.

use contracts::common::{FulfillmentMode, Money};
use contracts::inventory::inventory_service_client::InventoryServiceClient;
use contracts::inventory::{
    Bin, GetAvailabilityRequest, GetReservationRequest, Item, ReceiveStockRequest, Reservation,
    StockLevel, UpsertItemRequest, UpsertWarehouseRequest, Warehouse,
};
use contracts::orders::{ReservationLine, ReservationRequested};
use contracts::time::to_timestamp;
use testkit::{RunningService, TestEnv};
use tonic::transport::Channel;

pub type Client = InventoryServiceClient<Channel>;

pub struct TestApp {
    pub env: TestEnv,
    pub inventory: RunningService,
}

impl TestApp {
    pub async fn start() -> Self {
        let env = TestEnv::new().await;
        let inventory = env.start(&inventory::SERVICE).await;
        Self { env, inventory }
    }

    pub async fn client(&self) -> Client {
        InventoryServiceClient::new(self.inventory.channel().await)
    }

    /// Plays orders: publishes `event` as the orders service would, under a new event id
    /// (returned).
    pub async fn publish<E: contracts::Event>(&self, event: &E) -> uuid::Uuid {
        messaging::envelope::publish_direct(
            self.env.jetstream(),
            &self.env.subjects(),
            "ordercycle/orders",
            event,
        )
        .await
        .unwrap()
    }

    /// Waits until a consumer has applied the event (its id is in the inbox): for events that
    /// publish nothing, so a test knows their effect is in.
    pub async fn handled(&self, event_id: uuid::Uuid) {
        testkit::eventually("the event to be handled", || async move {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM oc_inbox WHERE event_id = $1")
                .bind(event_id)
                .fetch_one(&self.inventory.pool)
                .await
                .unwrap();
            (n > 0).then_some(())
        })
        .await;
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.inventory.pool)
            .await
            .unwrap()
    }
}

pub fn eur(amount_minor: i64) -> Money {
    Money {
        currency_code: "EUR".into(),
        amount_minor,
    }
}

pub fn item(sku: &str) -> Item {
    Item {
        sku: sku.into(),
        name: format!("Item {sku}"),
        category: "tea".into(),
        unit_price: Some(eur(1250)),
        weight_grams: 250,
        reorder_point: 0,
        safety_stock: 0,
        lead_time_days: 7,
        ..Default::default()
    }
}

pub fn bin(code: &str, pick_sequence: i32) -> Bin {
    Bin {
        code: code.into(),
        zone: String::new(),
        pick_sequence,
        pickable: None,
    }
}

pub fn warehouse(id: &str, country: &str, region: &str, bins: &[&str]) -> Warehouse {
    Warehouse {
        id: id.into(),
        name: format!("Warehouse {id}"),
        country_code: country.into(),
        region: region.into(),
        bins: bins
            .iter()
            .enumerate()
            .map(|(i, code)| bin(code, i as i32 + 1))
            .collect(),
        ..Default::default()
    }
}

pub async fn upsert_item(client: &mut Client, item: Item) -> Item {
    client
        .upsert_item(UpsertItemRequest { item: Some(item) })
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap()
}

pub async fn upsert_warehouse(client: &mut Client, warehouse: Warehouse) -> Warehouse {
    client
        .upsert_warehouse(UpsertWarehouseRequest {
            warehouse: Some(warehouse),
        })
        .await
        .unwrap()
        .into_inner()
        .warehouse
        .unwrap()
}

pub async fn receive(
    client: &mut Client,
    sku: &str,
    warehouse_id: &str,
    bin: &str,
    quantity: i32,
) -> StockLevel {
    client
        .receive_stock(ReceiveStockRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            sku: sku.into(),
            warehouse_id: warehouse_id.into(),
            quantity,
            bin: bin.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .level
        .unwrap()
}

/// (on_hand, reserved, available) of `sku` in `warehouse_id`.
pub async fn level(client: &mut Client, sku: &str, warehouse_id: &str) -> (i32, i32, i32) {
    let levels = client
        .get_availability(GetAvailabilityRequest {
            sku: sku.into(),
            warehouse_id: warehouse_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .levels;
    let l = &levels[0];
    (l.on_hand, l.reserved, l.available)
}

pub async fn reservation(client: &mut Client, id: &str) -> Option<Reservation> {
    client
        .get_reservation(GetReservationRequest {
            id: id.into(),
            order_id: String::new(),
        })
        .await
        .ok()
        .and_then(|r| r.into_inner().reservation)
}

pub fn line(line_id: &str, sku: &str, quantity: i32) -> ReservationLine {
    ReservationLine {
        line_id: line_id.into(),
        sku: sku.into(),
        quantity,
    }
}

/// A ship-to-Berlin reservation request with a TTL of `ttl_ms`.
pub fn request(
    reservation_id: &str,
    lines: Vec<ReservationLine>,
    ttl_ms: i64,
) -> ReservationRequested {
    let now = chrono::Utc::now();
    ReservationRequested {
        reservation_id: reservation_id.into(),
        order_id: format!("order-{reservation_id}"),
        order_number: format!("OC-{reservation_id}"),
        lines,
        fulfillment_mode: FulfillmentMode::Ship.into(),
        pickup_store_id: String::new(),
        ship_to_country_code: "DE".into(),
        ship_to_region: "BE".into(),
        allow_split: true,
        ttl: Some(prost_types::Duration {
            seconds: ttl_ms / 1000,
            nanos: ((ttl_ms % 1000) * 1_000_000) as i32,
        }),
        expires_at: Some(to_timestamp(now + chrono::Duration::milliseconds(ttl_ms))),
        requested_at: Some(to_timestamp(now)),
    }
}

/// A reservation that will not expire during a test.
pub fn long_request(reservation_id: &str, lines: Vec<ReservationLine>) -> ReservationRequested {
    request(reservation_id, lines, 3_600_000)
}
