//! Typed helpers: a running orders service, a valid PlaceOrder request to vary, and the other
//! services played by publishing their facts.

use contracts::Event;
use contracts::common::{
    self, Address, Allocation, Channel, Customer, FulfillmentMode, Money, PaymentMethod,
};
use contracts::fulfillment::{FulfillmentCreated, ParcelHandedOver, ParcelLine};
use contracts::inventory::{Item, ItemUpserted, StockReserved};
use contracts::orders::order_service_client::OrderServiceClient;
use contracts::orders::review_service_client::ReviewServiceClient;
use contracts::orders::{
    GetOrderRequest, NewOrderLine, Order, OrderStatus, PaymentInstruction, PlaceOrderRequest,
};
use contracts::payments::{OrderSettled, PaymentAuthorized, RiskAssessed};
use contracts::shipping::{ShipmentDelivered, ShipmentDirection};
use messaging::envelope::publish_direct;
use testkit::{RunningService, TestEnv};
use uuid::Uuid;

/// What inventory has published to orders in these tests: (sku, name, price in EUR cents).
pub const CATALOG: [(&str, &str, i64); 4] = [
    ("TEA-001", "Longjing green tea 250 g", 1250),
    ("CUP-002", "Celadon tea cup", 899),
    ("POT-003", "Yixing clay teapot", 45_000),
    ("SPOON-003", "Bamboo tea spoon", 250),
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
            self.publish_item(
                Item {
                    sku: sku.into(),
                    name: name.into(),
                    unit_price: Some(eur(price)),
                    active: Some(true),
                    ..Default::default()
                },
                true,
            )
            .await;
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

    /// Plays inventory changing an item of the catalog (its name, its category…) and waits
    /// until orders has read the change.
    pub async fn change_item(&self, item: Item) {
        let (sku, name, category) = (item.sku.clone(), item.name.clone(), item.category.clone());
        self.publish_item(item, false).await;
        let pool = self.orders.pool.clone();
        testkit::eventually("the changed catalog item", || {
            let (pool, sku, name, category) =
                (pool.clone(), sku.clone(), name.clone(), category.clone());
            async move {
                let changed: bool = sqlx::query_scalar(
                    "SELECT name = $2 AND category = $3 FROM catalog_items WHERE sku = $1",
                )
                .bind(&sku)
                .bind(&name)
                .bind(&category)
                .fetch_one(&pool)
                .await
                .ok()?;
                changed.then_some(())
            }
        })
        .await;
    }

    async fn publish_item(&self, item: Item, created: bool) {
        let event = ItemUpserted {
            sku: item.sku.clone(),
            item: Some(item),
            created,
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

    pub async fn client(&self) -> OrderServiceClient<GrpcChannel> {
        OrderServiceClient::new(self.orders.channel().await)
    }

    pub async fn review_client(&self) -> ReviewServiceClient<GrpcChannel> {
        ReviewServiceClient::new(self.orders.channel().await)
    }

    /// Places `request` and returns the new order.
    pub async fn place(&self, request: PlaceOrderRequest) -> Order {
        self.client()
            .await
            .place_order(request)
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
    }

    /// GetOrder.
    pub async fn order(&self, id: &str) -> Order {
        self.client()
            .await
            .get_order(GetOrderRequest { id: id.into() })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
    }

    /// Plays another service: publishes its fact and waits until orders has applied it (its id
    /// is in orders' inbox), so what the fact changed can be asserted right after.
    pub async fn publish<E: Event>(&self, service: &str, event: &E) -> Uuid {
        let id = publish_direct(
            self.env.jetstream(),
            &self.env.subjects(),
            &format!("ordercycle/{service}"),
            event,
        )
        .await
        .unwrap();
        self.applied(id).await;
        id
    }

    /// Waits until orders has applied the event `id`.
    pub async fn applied(&self, id: Uuid) {
        let pool = self.orders.pool.clone();
        testkit::eventually(&format!("orders to apply event {id}"), || {
            let pool = pool.clone();
            async move {
                let n: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM oc_inbox WHERE event_id = $1")
                        .bind(id)
                        .fetch_one(&pool)
                        .await
                        .ok()?;
                (n > 0).then_some(())
            }
        })
        .await;
    }

    /// Waits until the order reaches `status` (for changes a timer makes).
    pub async fn wait_for_status(&self, id: &str, status: OrderStatus) -> Order {
        let client = self.client().await;
        testkit::eventually(&format!("order {id} to be {status:?}"), || {
            let mut client = client.clone();
            let id = id.to_owned();
            async move {
                let order = client
                    .get_order(GetOrderRequest { id })
                    .await
                    .ok()?
                    .into_inner()
                    .order?;
                (order.status() == status).then_some(order)
            }
        })
        .await
    }

    /// How many events orders has written to its outbox on `subject` (e.g.
    /// `orders.payment.requested`) — published or about to be.
    pub async fn outbox_count(&self, subject: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM oc_outbox WHERE subject = $1")
            .bind(subject)
            .fetch_one(&self.orders.pool)
            .await
            .unwrap()
    }

    /// The reservation orders asked inventory for last.
    pub async fn reservation_id(&self, order_id: &str) -> String {
        let id: Option<Uuid> =
            sqlx::query_scalar("SELECT reservation_id FROM orders WHERE id = $1")
                .bind(Uuid::parse_str(order_id).unwrap())
                .fetch_one(&self.orders.pool)
                .await
                .unwrap();
        id.expect("a reservation was requested").to_string()
    }

    // ---- the other services' facts, one saga step each ----------------------------------------

    /// Payments scored the order.
    pub async fn assess_risk(&self, order: &Order, score: i32, codes: &[&str]) -> Uuid {
        let event = RiskAssessed {
            order_id: order.id.clone(),
            score,
            reasons: codes
                .iter()
                .map(|code| contracts::payments::RiskReason {
                    code: (*code).into(),
                    description: format!("payments says {code}"),
                    points: 10,
                })
                .collect(),
            assessed_at: None,
        };
        self.publish("payments", &event).await
    }

    /// Inventory reserved every line of the order in [`WAREHOUSE`].
    pub async fn reserve_stock(&self, order: &Order) -> Uuid {
        let event = self.stock_reserved(order).await;
        self.publish("inventory", &event).await
    }

    pub async fn stock_reserved(&self, order: &Order) -> StockReserved {
        StockReserved {
            reservation_id: self.reservation_id(&order.id).await,
            order_id: order.id.clone(),
            allocations: order
                .lines
                .iter()
                .map(|l| Allocation {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    warehouse_id: WAREHOUSE.into(),
                    quantity: l.quantity,
                    bins: Vec::new(),
                })
                .collect(),
            expires_at: None,
            reserved_at: None,
        }
    }

    /// Payments accepted the payment (authorized, COD accepted…) as [`payment_id`].
    pub async fn authorize(&self, order: &Order) -> Uuid {
        self.publish("payments", &authorized(order)).await
    }

    /// Fulfillment started on the order in [`WAREHOUSE`].
    pub async fn fulfillment_created(&self, order: &Order) -> Uuid {
        let event = FulfillmentCreated {
            fulfillment_id: fulfillment_id(order),
            order_id: order.id.clone(),
            order_number: order.order_number.clone(),
            warehouse_id: WAREHOUSE.into(),
            fulfillment_mode: order.fulfillment_mode,
            lines: parcel_lines(order, &[]),
            created_at: None,
        };
        self.publish("fulfillment", &event).await
    }

    /// A parcel with `lines` ((line id, quantity); empty: every unit) left as shipment `shipment`.
    pub async fn hand_over(&self, order: &Order, shipment: &str, lines: &[(&str, i32)]) -> Uuid {
        let event = ParcelHandedOver {
            fulfillment_id: fulfillment_id(order),
            parcel_id: format!("parcel-{shipment}"),
            order_id: order.id.clone(),
            warehouse_id: WAREHOUSE.into(),
            lines: parcel_lines(order, lines),
            shipment_id: shipment.into(),
            carrier: "sim-express".into(),
            tracking_number: format!("TRK-{shipment}"),
            cash_on_delivery_amount: None,
            fulfillment_complete: lines.is_empty(),
            handed_over_at: None,
            ..Default::default()
        };
        self.publish("fulfillment", &event).await
    }

    /// Shipping delivered `shipment`, with the cash it collected.
    pub async fn deliver(&self, order: &Order, shipment: &str, cash: Option<i64>) -> Uuid {
        let event = ShipmentDelivered {
            shipment_id: shipment.into(),
            order_id: order.id.clone(),
            direction: ShipmentDirection::Outbound.into(),
            fulfillment_id: fulfillment_id(order),
            parcel_id: format!("parcel-{shipment}"),
            return_id: String::new(),
            carrier: "sim-express".into(),
            tracking_number: format!("TRK-{shipment}"),
            cash_collected: cash.map(eur),
            received_by: "neighbour".into(),
            delivered_at: None,
        };
        self.publish("shipping", &event).await
    }

    /// Payments captured everything owed.
    pub async fn settle(&self, order: &Order) -> Uuid {
        let event = OrderSettled {
            order_id: order.id.clone(),
            payment_id: payment_id(order),
            method: order.payment.as_ref().map_or(0, |p| p.method),
            captured_total: order.total.clone(),
            installment_plan_id: String::new(),
            settled_at: None,
        };
        self.publish("payments", &event).await
    }

    // ---- whole stretches of the saga ----------------------------------------------------------

    /// Places `request` and plays risk (low), stock and payment: the order is CONFIRMED.
    pub async fn confirmed(&self, request: PlaceOrderRequest) -> Order {
        let order = self.place(request).await;
        self.assess_risk(&order, 10, &[]).await;
        self.reserve_stock(&order).await;
        self.authorize(&order).await;
        let order = self.order(&order.id).await;
        assert_eq!(order.status(), OrderStatus::Confirmed);
        order
    }

    /// A confirmed order shipped in one parcel ([`shipment_id`]) and delivered: DELIVERED.
    pub async fn delivered(&self, request: PlaceOrderRequest) -> Order {
        let order = self.confirmed(request).await;
        self.fulfillment_created(&order).await;
        self.hand_over(&order, &shipment_id(&order), &[]).await;
        self.deliver(&order, &shipment_id(&order), None).await;
        let order = self.order(&order.id).await;
        assert_eq!(order.status(), OrderStatus::Delivered);
        order
    }

    pub async fn order_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&self.orders.pool)
            .await
            .unwrap()
    }
}

/// The warehouse inventory and fulfillment use in these tests.
pub const WAREHOUSE: &str = "wh-berlin";

/// The payment id payments gives the order in these tests.
pub fn payment_id(order: &Order) -> String {
    format!("pay-{}", order.order_number)
}

/// Shipment ids are unique across orders, like shipping's.
pub fn shipment_id(order: &Order) -> String {
    format!("shp-{}", order.order_number)
}

pub fn fulfillment_id(order: &Order) -> String {
    format!("ful-{}", order.order_number)
}

pub fn authorized(order: &Order) -> PaymentAuthorized {
    PaymentAuthorized {
        payment_id: payment_id(order),
        order_id: order.id.clone(),
        method: order.payment.as_ref().map_or(0, |p| p.method),
        amount: order.total.clone(),
        provider_reference: "sim-auth-1".into(),
        ..Default::default()
    }
}

/// The order's lines as parcel lines; `only` ((line id, quantity)) picks some, empty all.
pub fn parcel_lines(order: &Order, only: &[(&str, i32)]) -> Vec<ParcelLine> {
    order
        .lines
        .iter()
        .filter_map(|l| {
            let quantity = if only.is_empty() {
                l.quantity
            } else {
                only.iter().find(|(id, _)| *id == l.line_id)?.1
            };
            Some(ParcelLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity,
            })
        })
        .collect()
}

pub fn eur(amount_minor: i64) -> Money {
    Money {
        currency_code: "EUR".into(),
        amount_minor,
    }
}

pub fn valid_request(request_id: &str) -> PlaceOrderRequest {
    PlaceOrderRequest {
        channel_ref: String::new(),
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
                ..Default::default()
            },
            NewOrderLine {
                sku: "CUP-002".into(),
                quantity: 1,
                unit_price: Some(eur(899)),
                ..Default::default()
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
        ..Default::default()
    }
}

pub fn money(m: &Option<common::Money>) -> (String, i64) {
    let m = m.clone().unwrap();
    (m.currency_code, m.amount_minor)
}
