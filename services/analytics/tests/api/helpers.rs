//! A running analytics service, events to play to it, and small typed helpers.

use std::time::Duration;

use analytics::config::Config;
use chrono::{DateTime, TimeZone as _, Utc};
use contracts::Event;
use contracts::analytics::TimeRange;
use contracts::analytics::analytics_service_client::AnalyticsServiceClient;
use messaging::envelope::Outgoing;
use runtime::{BoxError, BoxFuture, Host, ServiceDef};
use testkit::{RunningService, TestEnv};
use tonic::transport::Channel;
use uuid::Uuid;

/// Analytics exporting two orders per chunk, so a short export spans several chunks.
pub static SMALL_PAGES: ServiceDef = ServiceDef {
    name: "analytics",
    migrations: analytics::SERVICE.migrations,
    build: build_small_pages,
};

fn build_small_pages(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    let config = Config {
        export_page_rows: 2,
        ..Config::default()
    };
    Box::pin(analytics::app::build_with(host, config))
}

/// Analytics whose rollup refresher waits an hour between runs: the tests refresh explicitly,
/// so they know which answers came from the facts and which from the stored rollups.
pub static MANUAL_ROLLUPS: ServiceDef = ServiceDef {
    name: "analytics",
    migrations: analytics::SERVICE.migrations,
    build: build_manual_rollups,
};

fn build_manual_rollups(host: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    let config = Config {
        rollup_refresh_every: Duration::from_secs(3_600),
        ..Config::default()
    };
    Box::pin(analytics::app::build_with(host, config))
}

pub struct TestApp {
    pub env: TestEnv,
    pub analytics: RunningService,
    published: std::sync::Mutex<std::collections::BTreeSet<Uuid>>,
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_def(&analytics::SERVICE, |_| {}).await
    }

    pub async fn start_def(
        def: &'static ServiceDef,
        tweak: impl FnOnce(&mut runtime::config::Settings),
    ) -> Self {
        let env = TestEnv::with(tweak).await;
        let analytics = env.start(def).await;
        Self {
            env,
            analytics,
            published: Default::default(),
        }
    }

    /// A stream whose duplicate window is tiny, so a repeated event id reaches the consumer.
    pub async fn without_dedup_window() -> Self {
        Self::start_def(&analytics::SERVICE, |s| {
            s.streams.duplicate_window = Duration::from_millis(100);
        })
        .await
    }

    pub async fn client(&self) -> AnalyticsServiceClient<Channel> {
        AnalyticsServiceClient::new(self.analytics.channel().await)
    }

    /// Publishes `event` as its producer would, under a fresh event id.
    pub async fn publish<E: Event>(&self, event: &E) -> Uuid {
        self.publish_as(Uuid::now_v7(), event).await
    }

    /// Publishes `event` under the event id `id`.
    pub async fn publish_as<E: Event>(&self, id: Uuid, event: &E) -> Uuid {
        let mut outgoing = Outgoing::new(event, Utc::now());
        outgoing.id = id;
        let producer = E::SUBJECT.split('.').next().unwrap();
        let subjects = self.env.subjects();
        self.env
            .jetstream()
            .publish_with_headers(
                subjects.absolute(&outgoing.subject),
                outgoing.headers(&format!("ordercycle/{producer}")),
                outgoing.payload.clone().into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        self.published.lock().unwrap().insert(id);
        id
    }

    /// Waits until every event published so far is kept (and so projected: both happen in
    /// one transaction).
    pub async fn settle(&self) {
        let expected = i64::try_from(self.published.lock().unwrap().len()).unwrap();
        let pool = self.analytics.pool.clone();
        testkit::eventually("analytics kept every event", || {
            let pool = pool.clone();
            async move {
                let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM raw_events")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                (kept >= expected).then_some(())
            }
        })
        .await;
    }
}

/// 2026-03-02 (a Monday) at `hour`:`minute` UTC, plus `days`.
pub fn t(days: i64, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, hour, minute, 0).unwrap() + chrono::Duration::days(days)
}

pub fn ts(time: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(contracts::time::to_timestamp(time))
}

pub fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<TimeRange> {
    Some(TimeRange {
        start: ts(start),
        end: ts(end),
    })
}

pub fn secs(d: Option<&prost_types::Duration>) -> f64 {
    let d = d.expect("a duration");
    d.seconds as f64 + f64::from(d.nanos) / 1e9
}

pub fn minor(m: Option<&contracts::common::Money>) -> i64 {
    m.expect("money").amount_minor
}

/// The field paths of an INVALID_ARGUMENT's `BadRequest`.
pub fn violations(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}
