//! Test harness for ordercycle: every test gets its own subject root (so its streams and
//! subjects never meet another test's), its own databases (cloned from one migrated template
//! per service, built once under an advisory lock), and the real services started in-process on
//! port 0. Streams use memory storage; databases and streams are removed when the [`TestEnv`]
//! is dropped.
//!
//! Services are started through their [`runtime::ServiceDef`], so a service's own tests link
//! only the services they start.

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

mod db;
mod events;
mod nats_server;
pub mod privacy;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use async_nats::jetstream;
use runtime::config::{AuthSettings, Env};
use runtime::{ServiceDef, ServiceSettings, Settings, Subjects};
use sqlx::PgPool;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

pub use events::EventTap;
pub use nats_server::NatsServer;

/// How long a waiting helper waits before failing the test: a liveness bound so a stuck saga
/// fails instead of hanging CI, not a speed assertion.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct TestEnv {
    pub settings: Settings,
    nats: async_nats::Client,
    jetstream: jetstream::Context,
    databases: Mutex<Vec<String>>,
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// A test environment whose settings `tweak` may change (a tiny duplicate window, another
    /// NATS server, JWT auth…).
    pub async fn with(tweak: impl FnOnce(&mut Settings)) -> Self {
        init_logging();
        let root = format!("t{}", uuid::Uuid::new_v4().simple());
        let root = root[..13].to_owned();
        let env = Env::from_fn(|key| match key {
            "OC_AUTH" => Some("off".into()),
            "OC_SUBJECT_ROOT" => Some(root.clone()),
            "OC_STREAM_STORAGE" => Some("memory".into()),
            "OC_DB_POOL_SIZE" => Some("2".into()),
            "OC_RELAY_POLL_MS" => Some("50".into()),
            "OC_CONSUMER_MAX_DELIVERIES" => Some("3".into()),
            "OC_CONSUMER_RETRY_BACKOFF_MS" => Some("50".into()),
            "OC_CONSUMER_RETRY_BACKOFF_MAX_MS" => Some("500".into()),
            "OC_CONSUMER_ACK_WAIT_MS" => Some("5000".into()),
            "OC_TIMER_POLL_MS" => Some("50".into()),
            "OC_SHUTDOWN_GRACE_SECS" => Some("5".into()),
            other => std::env::var(other).ok().filter(|_| {
                // Only connection settings leak in from the environment.
                matches!(other, "OC_NATS_URL" | "OC_DATABASE_URL")
            }),
        });
        let mut settings = Settings::from(&env).expect("test settings");
        settings.auth = AuthSettings::Off;
        tweak(&mut settings);
        let nats = runtime::nats::connect(&settings.nats_url, "testkit")
            .await
            .expect("NATS must be running for tests (see README)");
        let jetstream = jetstream::new(nats.clone());
        Self {
            settings,
            nats,
            jetstream,
            databases: Mutex::new(Vec::new()),
        }
    }

    pub fn subjects(&self) -> Subjects {
        Subjects::new(self.settings.subject_root.clone())
    }

    pub fn nats(&self) -> &async_nats::Client {
        &self.nats
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// A fresh, migrated database for `def`; returns its URL.
    pub async fn database(&self, def: &ServiceDef) -> String {
        let url = db::fresh(&self.settings.database_url, def).await;
        self.databases.lock().unwrap().push(url.clone());
        url
    }

    /// A pool on a fresh, migrated database for `def` (for store and messaging tests).
    pub async fn pool(&self, def: &ServiceDef) -> PgPool {
        let url = self.database(def).await;
        runtime::db::pool(&url, 4).await.expect("test pool")
    }

    /// Starts `def` in-process on port 0 with a fresh database.
    pub async fn start(&self, def: &'static ServiceDef) -> RunningService {
        let database_url = self.database(def).await;
        self.start_on(def, database_url).await
    }

    /// Starts every service of `defs` in order on fresh databases, telling each one where the
    /// ones before it listen (`OC_<SERVICE>_<OTHER>_URL`, e.g. fulfillment's
    /// `OC_FULFILLMENT_SHIPPING_URL`): list the services called over gRPC first.
    pub async fn start_all(&mut self, defs: &[&'static ServiceDef]) -> Vec<RunningService> {
        let mut started: Vec<RunningService> = Vec::new();
        for def in defs {
            for earlier in &started {
                self.settings.overrides.insert(
                    format!(
                        "OC_{}_{}_URL",
                        def.name.to_uppercase(),
                        earlier.name.to_uppercase()
                    ),
                    format!("http://{}", earlier.grpc_addr),
                );
            }
            started.push(self.start(def).await);
        }
        started
    }

    /// Starts `def` on an existing database (a restart after a crash).
    pub async fn start_on(&self, def: &'static ServiceDef, database_url: String) -> RunningService {
        let service = ServiceSettings {
            name: def.name,
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.clone(),
        };
        let app = runtime::launch(def, &self.settings, service)
            .await
            .unwrap_or_else(|err| panic!("starting {}: {err}", def.name));
        let grpc_addr = app.grpc_addr();
        let http_addr = app.http_addr();
        let pool = runtime::db::pool(&database_url, 2)
            .await
            .expect("assertion pool");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
        });
        let running = RunningService {
            name: def.name,
            grpc_addr,
            http_addr,
            database_url,
            pool,
            tls: self.settings.tls.clone(),
            stop: Some(stop),
            handle: Some(handle),
        };
        running.wait_serving().await;
        running
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let databases = std::mem::take(&mut *self.databases.lock().unwrap());
        let server = self.settings.database_url.clone();
        let nats_url = self.settings.nats_url.clone();
        let subjects = self.subjects();
        // Drop runs inside the test's runtime; clean up on a thread with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(client) = async_nats::connect(&nats_url).await {
                    runtime::nats::delete_streams(&jetstream::new(client), &subjects).await;
                }
                db::drop_all(&server, &databases).await;
            });
        });
        let _ = cleanup.join();
    }
}

/// A service running in-process for a test.
pub struct RunningService {
    pub name: &'static str,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub database_url: String,
    /// A pool on the service's database for asserting on its rows.
    pub pool: PgPool,
    /// The service's TLS settings, which the test's channels present too.
    pub tls: Option<runtime::config::TlsSettings>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Result<(), runtime::HostError>>>,
}

impl RunningService {
    /// A channel to the service, over TLS with its own certificate when it runs with TLS.
    pub async fn channel(&self) -> Channel {
        runtime::tls::endpoint(&format!("http://{}", self.grpc_addr), self.tls.as_ref())
            .expect("uri")
            .connect()
            .await
            .expect("connect to service")
    }

    /// Waits until the service's gRPC health check answers SERVING.
    pub async fn wait_serving(&self) {
        let channel = self.channel().await;
        eventually(&format!("{} to be SERVING", self.name), || {
            let mut health = tonic_health_client(channel.clone());
            async move {
                let response = health
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .ok()?;
                (response.into_inner().status == 1).then_some(())
            }
        })
        .await;
    }

    /// Graceful stop; returns what `run_until` returned.
    pub async fn stop(mut self) -> Result<(), runtime::HostError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.handle.take() {
            Some(handle) => handle.await.expect("service task"),
            None => Ok(()),
        }
    }

    /// Stops the service as a crash would: its tasks are aborted mid-flight.
    pub fn kill(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn tonic_health_client(channel: Channel) -> HealthClient<Channel> {
    HealthClient::new(channel)
}

/// Polls `check` until it returns `Some`, failing the test after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(what, PATIENCE, check).await
}

/// [`eventually`] with its own patience, for waits that depend on how loaded the machine is
/// (a whole platform of processes starting while other suites run).
pub async fn eventually_within<T, F, Fut>(what: &str, patience: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("gave up waiting for {what} after {patience:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Quiet by default; `RUST_LOG=info cargo test` shows the services' logs.
        if std::env::var_os("RUST_LOG").is_none() {
            return;
        }
        let settings = runtime::config::LogSettings {
            format: runtime::config::LogFormat::Pretty,
            otlp_endpoint: None,
        };
        if let Ok(guard) = runtime::telemetry::init("ordercycle-tests", &settings) {
            // Nothing to flush without an exporter; keep the provider for the process.
            std::mem::forget(guard);
        }
    });
}

/// `GET path` on a service's admin HTTP port (`/metrics`, `/readyz`): the whole raw answer,
/// status line and headers included.
pub async fn admin_get(
    addr: impl tokio::net::ToSocketAddrs,
    path: &str,
) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}
