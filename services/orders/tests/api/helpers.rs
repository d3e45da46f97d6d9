//! Typed helpers: a running orders service and a valid PlaceOrder request to vary.

use contracts::common::{self, Address, Channel, Customer, FulfillmentMode, Money, PaymentMethod};
use contracts::inventory::{Item, ItemUpserted};
use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::{NewOrderLine, PaymentInstruction, PlaceOrderRequest};
use messaging::envelope::publish_direct;
use testkit::{RunningService, TestEnv};

/// What inventory has published to orders in these tests: (sku, name, price in EUR cents).
pub const CATALOG: [(&str, &str, i64); 3] = [
    ("TEA-001", "Longjing green tea 250 g", 1250),
    ("CUP-002", "Celadon tea cup", 899),
    ("POT-003", "Yixing clay teapot", 45_000),
];
use tonic::transport::Channel as GrpcChannel;

pub struct TestApp {
    pub env: TestEnv,
    pub orders: RunningService,
}

impl TestApp {
    /// Orders with its catalog read model holding [`CATALOG`].
    pub async fn start() -> Self {
        Self::start_in(TestEnv::new().await).await
    }

    pub async fn start_in(env: TestEnv) -> Self {
        let orders = env.start(&orders::SERVICE).await;
        let app = Self { env, orders };
        app.seed_catalog().await;
        app
    }

    /// Plays inventory: publishes the catalog and waits until orders has read it.
    pub async fn seed_catalog(&self) {
        for (sku, name, price) in CATALOG {
            let event = ItemUpserted {
                sku: sku.into(),
                item: Some(Item {
                    sku: sku.into(),
                    name: name.into(),
                    unit_price: Some(eur(price)),
                    active: Some(true),
                    ..Default::default()
                }),
                created: true,
                upserted_at: None,
            };
            publish_direct(
                self.env.jetstream(),
                &self.env.subjects(),
                "ordercycle/inventory",
                &event,
            )
            .await
            .unwrap();
        }
        let pool = self.orders.pool.clone();
        testkit::eventually("the catalog read model", || {
            let pool = pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM catalog_items")
                    .fetch_one(&pool)
                    .await
                    .ok()?;
                (n == CATALOG.len() as i64).then_some(())
            }
        })
        .await;
    }

    pub async fn client(&self) -> OrderServiceClient<GrpcChannel> {
        OrderServiceClient::new(self.orders.channel().await)
    }

    pub async fn order_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&self.orders.pool)
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

pub fn valid_request(request_id: &str) -> PlaceOrderRequest {
    PlaceOrderRequest {
        request_id: request_id.into(),
        customer: Some(Customer {
            id: "cust-1".into(),
            name: "Mei Lin".into(),
            email: "mei@example.com".into(),
            phone: "+49 30 1234567".into(),
        }),
        channel: Channel::Web.into(),
        fulfillment_mode: FulfillmentMode::Ship.into(),
        pickup_store_id: String::new(),
        lines: vec![
            NewOrderLine {
                sku: "TEA-001".into(),
                quantity: 2,
                unit_price: Some(eur(1250)),
            },
            NewOrderLine {
                sku: "CUP-002".into(),
                quantity: 1,
                unit_price: Some(eur(899)),
            },
        ],
        shipping_address: Some(Address {
            recipient: "Mei Lin".into(),
            line1: "Unter den Linden 1".into(),
            line2: String::new(),
            city: "Berlin".into(),
            region: "BE".into(),
            postal_code: "10117".into(),
            country_code: "DE".into(),
            phone: String::new(),
        }),
        billing_address: None,
        payment: Some(PaymentInstruction {
            method: PaymentMethod::Card.into(),
            token: "tok_visa".into(),
            installment_count: 0,
        }),
    }
}

pub fn money(m: &Option<common::Money>) -> (String, i64) {
    let m = m.clone().unwrap();
    (m.currency_code, m.amount_minor)
}
