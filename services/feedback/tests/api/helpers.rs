//! A running feedback service, orders' events to play to it, and small typed helpers.

use std::time::Duration;

use contracts::Event;
use contracts::common::Customer;
use contracts::feedback::feedback_service_client::FeedbackServiceClient;
use contracts::feedback::{GetSurveyRequest, Survey};
use contracts::orders::{
    OrderAccepted, OrderDelivered, OrderLine, OrderProblemReported, ProblemLine,
};
use contracts::time::to_timestamp;
use feedback::config::Config;
use runtime::config::Env;
use runtime::{BoxError, BoxFuture, Host, ServiceDef};
use testkit::{RunningService, TestEnv};
use tonic::Status;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;
use uuid::Uuid;

/// Feedback with short, distinct durations, for tests on a clock scaled 3600× (one hour
/// passes per second): the survey goes out 2 h after delivery; urgent cases owe a first
/// response within 1 h and a resolution within 2 h.
pub static FAST: ServiceDef = ServiceDef {
    name: "feedback",
    migrations: feedback::MIGRATIONS,
    build: build_fast,
};

pub fn fast_config() -> Config {
    Config::from_env(&Env::from_fn(|key| {
        match key {
            "OC_FEEDBACK_SURVEY_DELAY" => Some("2h"),
            "OC_FEEDBACK_SURVEY_VALID_FOR" => Some("30d"),
            "OC_FEEDBACK_SLA_FIRST_RESPONSE" => Some("urgent=1h,high=4d,normal=8d,low=9d"),
            "OC_FEEDBACK_SLA_RESOLUTION" => Some("urgent=2h,high=5d,normal=9d,low=10d"),
            _ => None,
        }
        .map(str::to_owned)
    }))
    .unwrap()
}

fn build_fast(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(feedback::app::build_with(host, fast_config()))
}

pub struct TestApp {
    pub env: TestEnv,
    pub feedback: RunningService,
}

impl TestApp {
    /// Feedback as configured by default, on a real-time clock.
    pub async fn start() -> Self {
        let env = TestEnv::new().await;
        let feedback = env.start(&feedback::SERVICE).await;
        Self { env, feedback }
    }

    /// [`FAST`] feedback on a clock scaled 3600×.
    pub async fn scaled() -> Self {
        let env = TestEnv::with(|s| s.clock = runtime::Clock::scaled(3600.0)).await;
        let feedback = env.start(&FAST).await;
        Self { env, feedback }
    }

    pub async fn client(&self) -> FeedbackServiceClient<Channel> {
        FeedbackServiceClient::new(self.feedback.channel().await)
    }

    /// Publishes `event` as orders would.
    pub async fn publish<E: Event>(&self, event: &E) {
        messaging::envelope::publish_direct(
            self.env.jetstream(),
            &self.env.subjects(),
            "ordercycle/orders",
            event,
        )
        .await
        .unwrap();
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.feedback.pool)
            .await
            .unwrap()
    }

    /// Waits until feedback has recorded the delivery of `order_id`.
    pub async fn wait_delivered(&self, order_id: &str) {
        let id = Uuid::parse_str(order_id).unwrap();
        testkit::eventually("the delivery to be recorded", || async move {
            let delivered: Option<bool> = sqlx::query_scalar(
                "SELECT delivered_at IS NOT NULL FROM known_orders WHERE order_id = $1",
            )
            .bind(id)
            .fetch_optional(&self.feedback.pool)
            .await
            .unwrap();
            delivered.filter(|d| *d).map(|_| ())
        })
        .await;
    }

    /// Waits for the survey of `order_id` to exist and returns it.
    pub async fn survey_of(&self, order_id: &str) -> Survey {
        let client = self.client().await;
        testkit::eventually("the survey", || {
            let mut client = client.clone();
            async move {
                client
                    .get_survey(GetSurveyRequest {
                        order_id: order_id.to_owned(),
                        ..Default::default()
                    })
                    .await
                    .ok()?
                    .into_inner()
                    .survey
            }
        })
        .await
    }
}

pub fn customer(id: &str) -> Customer {
    Customer {
        id: id.into(),
        name: "Mei Lin".into(),
        email: "mei@example.com".into(),
        phone: String::new(),
    }
}

pub fn line(line_id: &str, sku: &str, quantity: i32) -> OrderLine {
    OrderLine {
        line_id: line_id.into(),
        sku: sku.into(),
        quantity,
        ..Default::default()
    }
}

/// A delivered order of `customer_id` with the given SKUs (one unit each), delivered now.
pub fn delivered(customer_id: &str, skus: &[&str]) -> OrderDelivered {
    let now = chrono::Utc::now();
    OrderDelivered {
        order_id: Uuid::new_v4().to_string(),
        order_number: format!("OC-{}", &Uuid::new_v4().simple().to_string()[..6]),
        customer: Some(customer(customer_id)),
        lines: skus
            .iter()
            .enumerate()
            .map(|(i, sku)| line(&format!("L{}", i + 1), sku, 1))
            .collect(),
        placed_at: Some(to_timestamp(now - chrono::Duration::days(3))),
        delivered_at: Some(to_timestamp(now)),
        ..Default::default()
    }
}

pub fn accepted(order: &OrderDelivered) -> OrderAccepted {
    OrderAccepted {
        order_id: order.order_id.clone(),
        order_number: order.order_number.clone(),
        customer_id: order.customer.as_ref().unwrap().id.clone(),
        auto_accepted: false,
        accepted_at: Some(to_timestamp(chrono::Utc::now())),
    }
}

pub fn problem(order: &OrderDelivered) -> OrderProblemReported {
    OrderProblemReported {
        order_id: order.order_id.clone(),
        order_number: order.order_number.clone(),
        problem_id: Uuid::new_v4().to_string(),
        customer: order.customer.clone(),
        kind: contracts::common::ProblemKind::DamagedItem.into(),
        description: "The teapot arrived cracked.".into(),
        lines: vec![ProblemLine {
            line_id: "L1".into(),
            sku: order.lines[0].sku.clone(),
            quantity: 1,
        }],
        attachment_urls: vec!["https://img.example/crack.jpg".into()],
        reported_at: Some(to_timestamp(chrono::Utc::now())),
        ..Default::default()
    }
}

pub fn request_id() -> String {
    Uuid::new_v4().to_string()
}

/// The fields an INVALID_ARGUMENT status names, in order.
pub fn bad_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// How long to listen for an event that must not come. A wait, not a speed assertion: it is
/// long against the work that would produce one.
pub const QUIET: Duration = Duration::from_secs(2);

impl TestApp {
    /// [`FAST`] feedback on a clock scaled 3600×, with further setting changes.
    pub async fn scaled_with(tweak: impl FnOnce(&mut runtime::Settings)) -> Self {
        let env = TestEnv::with(|s| {
            s.clock = runtime::Clock::scaled(3600.0);
            tweak(s);
        })
        .await;
        let feedback = env.start(&FAST).await;
        Self { env, feedback }
    }
}

impl TestApp {
    /// [`TestApp::survey_of`] for a service with authentication on.
    pub async fn survey_of_as(&self, order_id: &str, token: &str) -> Survey {
        let client = self.client().await;
        testkit::eventually("the survey", || {
            let mut client = client.clone();
            let mut request = tonic::Request::new(GetSurveyRequest {
                order_id: order_id.to_owned(),
                ..Default::default()
            });
            request.metadata_mut().insert(
                "authorization",
                tonic::metadata::MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
            );
            async move { client.get_survey(request).await.ok()?.into_inner().survey }
        })
        .await
    }
}
