//! A probe service for these tests: one event type, a handler that records an effect row, and
//! helpers to run a relay and a consumer against a test environment.

use std::time::Duration;

use contracts::Event;
use messaging::failpoint::FailPoints;
use messaging::metrics::MessagingMetrics;
use messaging::{Consumer, Envelope, Handler, HandlerError, Outbox, Relay};
use runtime::{BoxError, BoxFuture, Host, ServiceDef};
use sqlx::{PgConnection, PgPool};
use testkit::TestEnv;
use tokio_util::sync::CancellationToken;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Ping {
    #[prost(string, tag = "1")]
    pub id: String,
    /// `-1` makes the handler fail every time (a transient error that never heals); `-2` makes
    /// it fail until the test heals the probe ([`heal`]); `-3` writes its effect and then fails
    /// (the write must not survive).
    #[prost(int32, tag = "2")]
    pub n: i32,
}

impl prost::Name for Ping {
    const NAME: &'static str = "Ping";
    const PACKAGE: &'static str = "ordercycle.probe.v1";
}

impl Event for Ping {
    const SUBJECT: &'static str = "probe.ping.sent";

    fn aggregate_id(&self) -> String {
        self.id.clone()
    }
}

static EFFECTS: sqlx::migrate::Migrator = sqlx::migrate!("./tests/migrations");

pub static PROBE: ServiceDef = ServiceDef {
    name: "probe",
    migrations: &[&messaging::MIGRATOR, &EFFECTS],
    build: no_build,
};

fn no_build(_: &mut Host) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(async { Ok(()) })
}

pub struct Recorder;

impl Handler<Ping> for Recorder {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &Envelope<Ping>,
    ) -> Result<(), HandlerError> {
        if event.event.n == -1 {
            return Err(HandlerError::transient(
                "the probe handler always fails for n = -1",
            ));
        }
        if event.event.n == -2 {
            let healed: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM healed)")
                .fetch_one(&mut *tx)
                .await?;
            if !healed {
                return Err(HandlerError::transient(
                    "the probe handler fails for n = -2 until healed",
                ));
            }
        }
        if event.event.n == -4 {
            // Batching: the transaction must hold the service's batch lock.
            let held: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                     AND pid = pg_backend_pid()
                     AND ((classid::bigint << 32) | objid::bigint) = $1)",
            )
            .bind(messaging::consumer::batch_lock_key("probe"))
            .fetch_one(&mut *tx)
            .await?;
            if !held {
                return Err(HandlerError::permanent(
                    "the probe handler's batch ran without its batch lock",
                ));
            }
        }
        sqlx::query("INSERT INTO effects (event_id, n) VALUES ($1, $2)")
            .bind(event.id)
            .bind(event.event.n)
            .execute(&mut *tx)
            .await?;
        if event.event.n == -3 {
            return Err(HandlerError::transient(
                "the probe handler fails after writing for n = -3",
            ));
        }
        Ok(())
    }
}

/// Fixes the bug that makes events with n = -2 fail.
pub async fn heal(pool: &PgPool) {
    sqlx::query("INSERT INTO healed DEFAULT VALUES")
        .execute(pool)
        .await
        .unwrap();
}

pub async fn effects(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM effects")
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn inbox_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM oc_inbox")
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn unpublished(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM oc_outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Writes one committed Ping through the outbox.
pub async fn write(pool: &PgPool, outbox: &Outbox, n: i32) {
    let mut tx = pool.begin().await.unwrap();
    outbox
        .append(
            &mut tx,
            &Ping {
                id: format!("ping-{n}"),
                n,
            },
        )
        .await
        .unwrap();
    outbox.commit(tx).await.unwrap();
}

pub async fn ensure_probe_stream(env: &TestEnv) {
    runtime::nats::ensure_stream(
        env.jetstream(),
        &env.subjects(),
        "probe",
        &env.settings.streams,
    )
    .await
    .unwrap();
}

pub fn spawn_relay(env: &TestEnv, pool: &PgPool, outbox: &Outbox, failpoints: FailPoints) -> Task {
    let relay = Relay::new(
        outbox,
        pool.clone(),
        env.jetstream().clone(),
        env.subjects(),
        "probe",
        env.settings.messaging.clone(),
    )
    .with_failpoints(failpoints);
    Task::spawn(move |token| relay.run(token))
}

pub async fn spawn_consumer(
    env: &TestEnv,
    pool: &PgPool,
    failpoints: FailPoints,
    metrics: MessagingMetrics,
) -> Task {
    let consumer = Consumer::<Ping, Recorder>::provision(
        "probe",
        Recorder,
        pool.clone(),
        env.jetstream().clone(),
        env.subjects(),
        &env.settings.streams,
        env.settings.messaging.clone(),
    )
    .await
    .unwrap()
    .with_failpoints(failpoints)
    .with_metrics(metrics);
    Task::spawn(move |token| consumer.run(token))
}

/// A background task stopped when dropped.
pub struct Task {
    token: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl Task {
    fn spawn<F, Fut>(f: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let token = CancellationToken::new();
        let handle = tokio::spawn(f(token.clone()));
        Self { token, handle }
    }

    /// Waits until the task ended by itself (a fail point stopped it).
    pub async fn ended(&mut self) {
        tokio::time::timeout(testkit::PATIENCE, &mut self.handle)
            .await
            .expect("task did not stop at its fail point")
            .unwrap();
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

pub const SHORT: Duration = Duration::from_millis(300);
