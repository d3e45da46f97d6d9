//! Typed helpers: a running shipping service, a valid CreateShipment to vary, events to
//! record, and a tiny HTTP/1.1 client for the webhooks.

use contracts::common::{Address, Dimensions, LabelFormat, Money};
use contracts::shipping::shipping_service_client::ShippingServiceClient;
use contracts::shipping::{
    CreateShipmentRequest, RecordTrackingEventRequest, Shipment, ShipmentLine, TrackingStatus,
};
use prost_types::Timestamp;
use testkit::{RunningService, TestEnv};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::transport::Channel;

pub struct TestApp {
    pub env: TestEnv,
    pub shipping: RunningService,
}

impl TestApp {
    pub async fn start() -> Self {
        Self::with_env(TestEnv::new().await).await
    }

    /// The service on a clock running `scale` times faster (the simulated carrier's scans
    /// come an hour of clock time apart).
    pub async fn with_clock(scale: f64) -> Self {
        Self::with_env(TestEnv::with(|s| s.clock = runtime::Clock::scaled(scale)).await).await
    }

    async fn with_env(env: TestEnv) -> Self {
        let shipping = env.start(&shipping::SERVICE).await;
        Self { env, shipping }
    }

    pub async fn client(&self) -> ShippingServiceClient<Channel> {
        ShippingServiceClient::new(self.shipping.channel().await)
    }

    pub async fn create(&self, request: CreateShipmentRequest) -> Shipment {
        self.client()
            .await
            .create_shipment(request)
            .await
            .unwrap()
            .into_inner()
            .shipment
            .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.shipping.pool)
            .await
            .unwrap()
    }

    /// Events of `subject` (relative) written to the outbox.
    pub async fn outbox_count(&self, subject: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM oc_outbox WHERE subject = $1")
            .bind(subject)
            .fetch_one(&self.shipping.pool)
            .await
            .unwrap()
    }

    /// POSTs `body` to the admin HTTP server; returns the status code and the body.
    pub async fn post(&self, path: &str, body: &[u8], signature: Option<&str>) -> (u16, String) {
        http_post(self.shipping.http_addr, path, body, signature).await
    }
}

/// One HTTP/1.1 request over a fresh connection, written by hand (`Connection: close`).
pub async fn http_post(
    addr: std::net::SocketAddr,
    path: &str,
    body: &[u8],
    signature: Option<&str>,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(signature) = signature {
        head.push_str(&format!("X-Carrier-Signature: {signature}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).to_string();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

pub fn eur(amount_minor: i64) -> Money {
    Money {
        currency_code: "EUR".into(),
        amount_minor,
    }
}

pub fn warehouse() -> Address {
    Address {
        recipient: "ordercycle warehouse Berlin".into(),
        line1: "Lagerstraße 7".into(),
        city: "Berlin".into(),
        postal_code: "12099".into(),
        country_code: "DE".into(),
        ..Default::default()
    }
}

/// A recipient; `line2` carries the simulator marker (`[sim:hold]` keeps it still).
pub fn recipient(line2: &str) -> Address {
    Address {
        recipient: "Mei Lin".into(),
        line1: "Unter den Linden 1".into(),
        line2: line2.into(),
        city: "Berlin".into(),
        region: "BE".into(),
        postal_code: "10117".into(),
        country_code: "DE".into(),
        phone: "+4930123456".into(),
    }
}

/// A valid CreateShipment whose simulated carrier stays put (`[sim:hold]`).
pub fn create_request(request_id: &str) -> CreateShipmentRequest {
    CreateShipmentRequest {
        order_number: String::new(),
        request_id: request_id.into(),
        order_id: "order-1".into(),
        fulfillment_id: "ful-1".into(),
        parcel_id: format!("parcel-{request_id}"),
        warehouse_id: "wh-berlin".into(),
        ship_from: Some(warehouse()),
        ship_to: Some(recipient("[sim:hold]")),
        weight_grams: 1200,
        dimensions: Some(Dimensions {
            length_mm: 300,
            width_mm: 200,
            height_mm: 100,
        }),
        lines: vec![ShipmentLine {
            sku: "TEA-001".into(),
            name: "Sencha".into(),
            quantity: 2,
        }],
        declared_value: Some(eur(2500)),
        cash_on_delivery_amount: None,
        preferred_carrier: String::new(),
        service_level: String::new(),
        label_format: LabelFormat::Unspecified.into(),
    }
}

pub fn ts(time: chrono::DateTime<chrono::Utc>) -> Timestamp {
    contracts::time::to_timestamp(time)
}

/// A tracking event for `shipment`, identified by carrier and tracking number.
pub fn event(
    shipment: &Shipment,
    event_id: &str,
    status: TrackingStatus,
    occurred_at: chrono::DateTime<chrono::Utc>,
) -> RecordTrackingEventRequest {
    RecordTrackingEventRequest {
        carrier: shipment.carrier.clone(),
        tracking_number: shipment.tracking_number.clone(),
        carrier_event_id: event_id.into(),
        status: status.into(),
        location: format!("{status:?} scan"),
        occurred_at: Some(ts(occurred_at)),
        ..Default::default()
    }
}

/// The field names of an INVALID_ARGUMENT's BadRequest.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}
