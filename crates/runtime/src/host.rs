//! Running one service: [`Host`] is what a service's `build` function receives (its database
//! pool, NATS, clock, subjects, metrics registry) and fills with gRPC services and background
//! tasks; [`launch`] binds the listeners and returns an [`App`] that runs until a shutdown
//! future resolves.
//!
//! Start-up order: create and migrate the database, connect NATS, provision the service's
//! stream, build, bind. Health turns SERVING only once all of that is done. Shutdown order:
//! health NOT_SERVING → background tasks (event consumers, relay, timers) stopped → RPCs
//! drained → listeners closed. Telemetry is flushed by the binary after `run_until` returns.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;

use crate::auth::Authenticator;
use crate::clock::Clock;
use crate::config::{ServiceSettings, Settings};
use crate::nats::Subjects;
use crate::{admin, admission, db, grpc, nats};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the `ordercycle` binary and the testkit need to know to run a service.
pub struct ServiceDef {
    pub name: &'static str,
    /// Embedded migration sets, applied together in version order (messaging's, then the
    /// service's own).
    pub migrations: &'static [&'static Migrator],
    /// Registers the service's gRPC services and background tasks on the host.
    pub build: for<'a> fn(&'a mut Host) -> BoxFuture<'a, Result<(), BoxError>>,
}

impl ServiceDef {
    pub fn migrator(&self) -> Migrator {
        db::combined(self.migrations)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Nats(#[from] nats::NatsError),
    #[error("{service}: {source}")]
    Build {
        service: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Auth(#[from] crate::auth::KeyError),
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

type Task = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>;

pub struct Host {
    def_name: &'static str,
    settings: Settings,
    service: ServiceSettings,
    pool: PgPool,
    nats: async_nats::Client,
    jetstream: jetstream::Context,
    subjects: Subjects,
    auth: Authenticator,
    routes: RoutesBuilder,
    served: Vec<&'static str>,
    tasks: Vec<(&'static str, Task)>,
    registry: Registry,
    admin_routes: axum::Router,
}

impl Host {
    /// Creates and migrates the service's database, connects NATS, provisions its stream.
    pub async fn connect(
        def: &ServiceDef,
        settings: &Settings,
        service: ServiceSettings,
    ) -> Result<Self, HostError> {
        db::ensure_database(&service.database_url).await?;
        let pool = db::pool(&service.database_url, settings.pool_size).await?;
        db::migrate(&pool, def.name, &def.migrator()).await?;

        let nats = nats::connect(&settings.nats_url, &format!("ordercycle-{}", def.name)).await?;
        let jetstream = jetstream::new(nats.clone());
        let subjects = Subjects::new(settings.subject_root.clone());
        nats::ensure_stream(&jetstream, &subjects, def.name, &settings.streams).await?;

        // Every metric carries the service's name, so one Prometheus job can scrape them all.
        let registry = Registry::with_labels(
            [(
                std::borrow::Cow::Borrowed("service"),
                std::borrow::Cow::Borrowed(def.name),
            )]
            .into_iter(),
        );
        Ok(Self {
            def_name: def.name,
            auth: Authenticator::new(&settings.auth)?,
            settings: settings.clone(),
            service,
            pool,
            nats,
            jetstream,
            subjects,
            routes: RoutesBuilder::default(),
            served: Vec::new(),
            tasks: Vec::new(),
            registry,
            admin_routes: axum::Router::new(),
        })
    }

    pub fn name(&self) -> &'static str {
        self.def_name
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn service_settings(&self) -> &ServiceSettings {
        &self.service
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn nats(&self) -> &async_nats::Client {
        &self.nats
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    pub fn clock(&self) -> &Clock {
        &self.settings.clock
    }

    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Serves a generated tonic server; its health status follows the host's.
    pub fn add_service<S>(&mut self, service: S)
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.served.push(S::NAME);
        self.routes.add_service(service);
    }

    /// Mounts extra routes on the admin HTTP server (e.g. webhooks).
    pub fn add_admin_routes(&mut self, routes: axum::Router) {
        let current = std::mem::take(&mut self.admin_routes);
        self.admin_routes = current.merge(routes);
    }

    /// Runs `task` in the background from start until shutdown; it must return soon after its
    /// token is cancelled (it is stopped before RPCs drain).
    pub fn spawn<F, Fut>(&mut self, name: &'static str, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks
            .push((name, Box::new(move |token| Box::pin(task(token)))));
    }
}

/// Connects, builds and binds `def`; the returned [`App`] knows its real addresses.
pub async fn launch(
    def: &ServiceDef,
    settings: &Settings,
    service: ServiceSettings,
) -> Result<App, HostError> {
    let mut host = Host::connect(def, settings, service).await?;
    (def.build)(&mut host)
        .await
        .map_err(|source| HostError::Build {
            service: def.name,
            source,
        })?;
    App::bind(host).await
}

/// A built service with its listeners bound.
pub struct App {
    host: Host,
    grpc: TcpListener,
    http: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
}

impl App {
    async fn bind(host: Host) -> Result<Self, HostError> {
        let bind = |what, addr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| HostError::Bind { what, addr, source })
        };
        let grpc = bind("gRPC", host.service.grpc_addr).await?;
        let http = bind("admin HTTP", host.service.http_addr).await?;
        let grpc_addr = grpc.local_addr().map_err(|source| HostError::Bind {
            what: "gRPC",
            addr: host.service.grpc_addr,
            source,
        })?;
        let http_addr = http.local_addr().map_err(|source| HostError::Bind {
            what: "admin HTTP",
            addr: host.service.http_addr,
            source,
        })?;
        Ok(Self {
            host,
            grpc,
            http,
            grpc_addr,
            http_addr,
        })
    }

    pub fn name(&self) -> &'static str {
        self.host.def_name
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn pool(&self) -> &PgPool {
        &self.host.pool
    }

    /// Serves until `shutdown` resolves, then drains in the documented order.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), HostError> {
        let App {
            mut host,
            grpc,
            http,
            ..
        } = self;
        let name = host.def_name;
        let grace = host.settings.shutdown_grace;

        let (health, health_service) = tonic_health::server::health_reporter();
        let reflection_v1 = reflection(&host.served)
            .build_v1()
            .map_err(|e| HostError::Build {
                service: name,
                source: Box::new(e),
            })?;
        let reflection_v1alpha =
            reflection(&host.served)
                .build_v1alpha()
                .map_err(|e| HostError::Build {
                    service: name,
                    source: Box::new(e),
                })?;

        let rpc_metrics = grpc::RpcMetrics::register(&mut host.registry);
        let ready = Arc::new(AtomicBool::new(false));
        let registry = Arc::new(std::mem::take(&mut host.registry));

        // Background work runs under its own token so it stops before RPCs drain.
        let tasks_token = CancellationToken::new();
        let mut tasks = tokio::task::JoinSet::new();
        for (task_name, task) in std::mem::take(&mut host.tasks) {
            let token = tasks_token.clone();
            tasks.spawn(async move {
                task(token).await;
                tracing::debug!(task = task_name, "background task stopped");
            });
        }
        let monitor_token = CancellationToken::new();
        tasks.spawn(monitor_readiness(
            health.clone(),
            host.served.clone(),
            host.pool.clone(),
            host.nats.clone(),
            ready.clone(),
            monitor_token.clone(),
        ));

        let auth = host.auth.clone();
        let admission = host.settings.admission.clone();
        let routes = std::mem::take(&mut host.routes).routes();
        let (stop_grpc, grpc_stopped) = tokio::sync::oneshot::channel::<()>();
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &host.settings.tls {
            builder =
                builder
                    .tls_config(crate::tls::server(tls))
                    .map_err(|e| HostError::Build {
                        service: name,
                        source: Box::new(e),
                    })?;
        }
        let grpc_server = builder
            .trace_fn(grpc::rpc_span)
            .layer(rpc_metrics)
            .layer(tonic::service::InterceptorLayer::new(
                move |request: tonic::Request<()>| auth.intercept(request),
            ))
            // Inside authentication: it knows the caller.
            .layer(admission::Shed::new(
                admission.max_in_flight,
                admission::RateLimiter::new(admission.rate_per_sec, admission.burst),
            ))
            .add_routes(routes)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .serve_with_incoming_shutdown(
                // Without TCP_NODELAY every small response waits on delayed ACKs (~40 ms).
                tonic::transport::server::TcpIncoming::from(grpc).with_nodelay(Some(true)),
                async {
                    let _ = grpc_stopped.await;
                },
            );
        let mut grpc_task = tokio::spawn(grpc_server);

        let admin = admin::router(admin::AdminState {
            registry,
            ready: ready.clone(),
        })
        .merge(std::mem::take(&mut host.admin_routes));
        let admin_token = CancellationToken::new();
        let admin_stop = admin_token.clone();
        let admin_task = tokio::spawn(async move {
            axum::serve(http, admin)
                .with_graceful_shutdown(async move { admin_stop.cancelled().await })
                .await
        });

        tracing::info!(service = name, "serving");
        let mut failed = None;
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                result = &mut grpc_task => {
                    failed = Some(result);
                    break;
                }
                // Background work (relay, consumers, timers) runs until shutdown; one that ends
                // early means events stop flowing for this service, so say so loudly.
                Some(ended) = tasks.join_next() => match ended {
                    Ok(()) => tracing::error!(service = name, "a background task stopped before shutdown"),
                    Err(err) => tracing::error!(service = name, error = %err, "a background task failed"),
                },
            }
        }

        tracing::info!(service = name, "shutting down");
        monitor_token.cancel();
        ready.store(false, Ordering::Relaxed);
        set_all(&health, &host.served, ServingStatus::NotServing).await;
        tasks_token.cancel();
        if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
            .await
            .is_err()
        {
            tracing::warn!(
                service = name,
                "background tasks did not stop in time; aborting them"
            );
            tasks.abort_all();
        }

        let result = match failed {
            Some(result) => result,
            None => {
                let _ = stop_grpc.send(());
                match tokio::time::timeout(grace, &mut grpc_task).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!(service = name, "RPCs did not drain in time");
                        grpc_task.abort();
                        Ok(Ok(()))
                    }
                }
            }
        };
        admin_token.cancel();
        let _ = admin_task.await;
        host.pool.close().await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(HostError::Serve(err)),
            Err(join) => Err(HostError::Build {
                service: name,
                source: Box::new(join),
            }),
        }
    }
}

fn reflection(served: &[&'static str]) -> tonic_reflection::server::Builder<'static> {
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(contracts::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    for name in served {
        builder = builder.with_service_name(*name);
    }
    builder.with_service_name("grpc.health.v1.Health")
}

async fn set_all(
    health: &tonic_health::server::HealthReporter,
    served: &[&str],
    status: ServingStatus,
) {
    health.set_service_status("", status).await;
    for name in served {
        health.set_service_status(*name, status).await;
    }
}

/// Health follows the dependencies: SERVING while Postgres answers and NATS is connected.
async fn monitor_readiness(
    health: tonic_health::server::HealthReporter,
    served: Vec<&'static str>,
    pool: PgPool,
    nats: async_nats::Client,
    ready: Arc<AtomicBool>,
    token: CancellationToken,
) {
    let mut last = None;
    loop {
        let db_ok = tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&pool),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        let nats_ok = nats.connection_state() == async_nats::connection::State::Connected;
        let now_ready = db_ok && nats_ok;
        if last != Some(now_ready) {
            if last.is_some() {
                tracing::warn!(postgres = db_ok, nats = nats_ok, "readiness changed");
            }
            let status = if now_ready {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            set_all(&health, &served, status).await;
            ready.store(now_ready, Ordering::Relaxed);
            last = Some(now_ready);
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
