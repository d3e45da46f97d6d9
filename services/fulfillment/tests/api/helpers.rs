//! A warehouse to test in: shipping and fulfillment running, a catalog with weights, and
//! orders' fulfilment requests played by publishing them.

use contracts::common::{Address, Allocation, BinAllocation, Customer, FulfillmentMode, Money};
use contracts::fulfillment::fulfillment_service_client::FulfillmentServiceClient;
use contracts::inventory::{Item, ItemUpserted};
use contracts::orders::{FulfillmentRequested, OrderLine};
use messaging::envelope::publish_direct;
use testkit::{RunningService, TestEnv};
use tonic::transport::Channel;

pub struct Warehouse {
    pub env: TestEnv,
    pub fulfillment: RunningService,
    /// Kept so shipping keeps running for the test.
    pub _shipping: RunningService,
}

/// (sku, grams per unit, price in cents)
pub const ITEMS: [(&str, i32, i64); 2] = [("TEA-001", 260, 1250), ("CUP-002", 180, 899)];

impl Warehouse {
    pub async fn start() -> Self {
        let mut env = TestEnv::new().await;
        let shipping = env.start(&shipping::SERVICE).await;
        env.settings.overrides.insert(
            "OC_FULFILLMENT_SHIPPING_URL".into(),
            format!("http://{}", shipping.grpc_addr),
        );
        let fulfillment = env.start(&fulfillment::SERVICE).await;
        let warehouse = Self {
            env,
            fulfillment,
            _shipping: shipping,
        };
        for (sku, grams, price) in ITEMS {
            warehouse
                .publish(&ItemUpserted {
                    sku: sku.into(),
                    item: Some(Item {
                        sku: sku.into(),
                        name: sku.into(),
                        weight_grams: grams,
                        unit_price: Some(eur(price)),
                        ..Default::default()
                    }),
                    created: true,
                    upserted_at: None,
                })
                .await;
        }
        let pool = warehouse.fulfillment.pool.clone();
        testkit::eventually("item weights", || {
            let pool = pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM item_weights")
                    .fetch_one(&pool)
                    .await
                    .ok()?;
                (n == ITEMS.len() as i64).then_some(())
            }
        })
        .await;
        warehouse
    }

    pub async fn client(&self) -> FulfillmentServiceClient<Channel> {
        FulfillmentServiceClient::new(self.fulfillment.channel().await)
    }

    pub async fn publish<E: contracts::Event>(&self, event: &E) {
        publish_direct(
            self.env.jetstream(),
            &self.env.subjects(),
            "ordercycle/test",
            event,
        )
        .await
        .unwrap();
    }
}

pub fn eur(amount_minor: i64) -> Money {
    Money {
        currency_code: "EUR".into(),
        amount_minor,
    }
}

pub fn line(line_id: &str, sku: &str, quantity: i32) -> OrderLine {
    let price = ITEMS
        .iter()
        .find(|(s, _, _)| *s == sku)
        .map_or(100, |(_, _, p)| *p);
    OrderLine {
        line_id: line_id.into(),
        sku: sku.into(),
        name: sku.into(),
        quantity,
        unit_price: Some(eur(price)),
        ..Default::default()
    }
}

pub fn allocation(
    line_id: &str,
    sku: &str,
    warehouse: &str,
    quantity: i32,
    bin: &str,
    seq: i32,
) -> Allocation {
    Allocation {
        line_id: line_id.into(),
        sku: sku.into(),
        warehouse_id: warehouse.into(),
        quantity,
        bins: vec![BinAllocation {
            bin: bin.into(),
            quantity,
            pick_sequence: seq,
        }],
    }
}

pub fn request(
    order_id: &str,
    lines: Vec<OrderLine>,
    allocations: Vec<Allocation>,
) -> FulfillmentRequested {
    FulfillmentRequested {
        order_id: order_id.into(),
        order_number: "OC-261128-000001".into(),
        customer: Some(Customer {
            id: "c-1".into(),
            name: "Mei Lin".into(),
            email: "mei@example.com".into(),
            phone: "+49 30 1234567".into(),
        }),
        fulfillment_mode: FulfillmentMode::Ship.into(),
        shipping_address: Some(Address {
            recipient: "Mei Lin".into(),
            line1: "Unter den Linden 1".into(),
            city: "Berlin".into(),
            region: "BE".into(),
            postal_code: "10117".into(),
            country_code: "DE".into(),
            phone: "+49 30 1234567".into(),
            ..Default::default()
        }),
        lines,
        allocations,
        reservation_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    }
}
