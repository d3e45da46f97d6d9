//! The platform as separate `ordercycle serve` processes (as in containers), one per service,
//! talking only through NATS, gRPC and their own databases: the card order runs to COMPLETED,
//! and the next one still does after the orders process is killed with SIGKILL and restarted on
//! its database.

use std::net::TcpListener;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use testkit::TestEnv;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::ALL;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub(crate) struct Processes {
    env: TestEnv,
    /// More environment for every process, the demo's too (e.g. where to export spans).
    extra_env: Vec<(&'static str, String)>,
    /// (service, gRPC address, database URL, HTTP address)
    services: Vec<(&'static str, String, String, String)>,
    children: Vec<(&'static str, Child)>,
    /// When set, every process's stdout and stderr lines are kept here instead of discarded.
    output: Option<Arc<Mutex<String>>>,
    /// This test's turn: one set of processes at a time (see [`TURNS`]).
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// Up to eight processes per test, each with its pools, consumers and timers: two such tests at
/// once on two cores starve each other (a service then takes over a minute to start) and
/// crowd PostgreSQL's connection limit, so the tests that run processes take turns.
static TURNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// More environment for one service's first process only (e.g. an armed fail point).
pub(crate) type FirstRun = Option<(&'static str, Vec<(&'static str, String)>)>;

impl Processes {
    async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    pub(crate) async fn start_with(extra_env: Vec<(&'static str, String)>) -> Self {
        Self::start_first(extra_env, None).await
    }

    /// Like `start_with`, and every line the processes write goes to `output`.
    pub(crate) async fn start_capturing(
        extra_env: Vec<(&'static str, String)>,
        output: Option<Arc<Mutex<String>>>,
    ) -> Self {
        Self::launch(extra_env, None, output).await
    }

    /// Starts every service with `extra_env`; the service named in `first_run` gets its extra
    /// variables too, in this first process only (a restart runs without them).
    pub(crate) async fn start_first(
        extra_env: Vec<(&'static str, String)>,
        first_run: FirstRun,
    ) -> Self {
        Self::launch(extra_env, first_run, None).await
    }

    async fn launch(
        extra_env: Vec<(&'static str, String)>,
        first_run: FirstRun,
        output: Option<Arc<Mutex<String>>>,
    ) -> Self {
        let mut processes =
            Self::prepare(&ALL.map(|d| d.name), TestEnv::new().await, extra_env).await;
        processes.output = output;
        for name in ALL.map(|d| d.name) {
            match &first_run {
                Some((service, env)) if *service == name => processes.spawn_with(name, env),
                _ => processes.spawn(name),
            }
        }
        for (name, grpc, _, _) in &processes.services {
            wait_serving(name, grpc).await;
        }
        processes
    }

    /// Databases and addresses for the services in `names` (in `ALL`'s order), on `env`'s
    /// NATS and subject root; nothing runs yet ([`Processes::start_service`] starts one).
    pub(crate) async fn prepare(
        names: &[&'static str],
        env: TestEnv,
        extra_env: Vec<(&'static str, String)>,
    ) -> Self {
        let turn = TURNS.lock().await;
        let mut services = Vec::new();
        for def in ALL.iter().filter(|d| names.contains(&d.name)) {
            let database = env.database(def).await;
            services.push((
                def.name,
                format!("127.0.0.1:{}", free_port()),
                database,
                format!("127.0.0.1:{}", free_port()),
            ));
        }
        Self {
            env,
            extra_env,
            services,
            children: Vec::new(),
            output: None,
            _turn: turn,
        }
    }

    /// Starts `name` with `env` besides the common environment and waits until it serves.
    pub(crate) async fn start_service(
        &mut self,
        name: &'static str,
        env: &[(&'static str, String)],
    ) {
        self.spawn_with(name, env);
        wait_serving(name, &self.addr(name)).await;
    }

    fn spawn(&mut self, name: &'static str) {
        self.spawn_with(name, &[]);
    }

    fn spawn_with(&mut self, name: &'static str, env: &[(&'static str, String)]) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ordercycle"));
        command
            .arg("serve")
            .arg(name)
            .env("OC_AUTH", "off")
            .env("OC_SUBJECT_ROOT", self.env.subjects().root())
            .env("OC_STREAM_STORAGE", "memory")
            .env("OC_CLOCK_SCALE", "3600")
            .env("OC_DB_POOL_SIZE", "2")
            .env("OC_RELAY_POLL_MS", "50")
            .env("OC_TIMER_POLL_MS", "50")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (service, grpc, database, http) in &self.services {
            let upper = service.to_uppercase();
            command
                .env(format!("OC_{upper}_GRPC_ADDR"), grpc)
                .env(format!("OC_{upper}_HTTP_ADDR"), http)
                .env(format!("OC_{upper}_DATABASE_URL"), database);
        }
        let shipping = self.addr("shipping");
        command.env("OC_FULFILLMENT_SHIPPING_URL", format!("http://{shipping}"));
        command.envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        command.envs(env.iter().map(|(k, v)| (k, v)));
        if self.output.is_some() {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let mut child = command.spawn().expect("ordercycle serve starts");
        if let Some(output) = &self.output {
            if let Some(stdout) = child.stdout.take() {
                tokio::spawn(collect(stdout, output.clone()));
            }
            if let Some(stderr) = child.stderr.take() {
                tokio::spawn(collect(stderr, output.clone()));
            }
        }
        self.children.push((name, child));
    }

    pub(crate) fn addr(&self, name: &str) -> String {
        self.services
            .iter()
            .find(|(service, ..)| *service == name)
            .map(|(_, grpc, ..)| grpc.clone())
            .unwrap_or_default()
    }

    /// The admin HTTP address (`/metrics`, `/healthz`, `/readyz`) of `name`.
    pub(crate) fn http_addr(&self, name: &str) -> String {
        self.services
            .iter()
            .find(|(service, ..)| *service == name)
            .map(|(.., http)| http.clone())
            .unwrap_or_default()
    }

    /// The database URL of `name`, for a test that checks rows directly.
    pub(crate) fn database(&self, name: &str) -> String {
        self.services
            .iter()
            .find(|(service, ..)| *service == name)
            .map(|(_, _, database, _)| database.clone())
            .unwrap_or_default()
    }

    /// SIGKILL: no drain, no flush, as a crashed container.
    pub(crate) async fn kill(&mut self, name: &str) {
        let index = self
            .children
            .iter()
            .position(|(n, _)| *n == name)
            .expect("running");
        let (_, mut child) = self.children.remove(index);
        child.start_kill().expect("kill");
        let _ = child.wait().await;
    }

    /// Whether `name`'s process (the one started last) is still running.
    pub(crate) fn running(&mut self, name: &str) -> bool {
        self.children
            .iter_mut()
            .find(|(n, _)| *n == name)
            .is_some_and(|(_, child)| matches!(child.try_wait(), Ok(None)))
    }

    /// Waits until `name`'s process ends by itself (a crash) and forgets it.
    pub(crate) async fn exited(&mut self, name: &str) -> ExitStatus {
        let index = self
            .children
            .iter()
            .position(|(n, _)| *n == name)
            .expect("running");
        let status = testkit::eventually(&format!("{name} to exit"), || {
            let status = self.children[index].1.try_wait().expect("try_wait");
            async move { status }
        })
        .await;
        self.children.remove(index);
        status
    }

    /// Starts `name` again on its database and waits until it serves.
    pub(crate) async fn restart(&mut self, name: &'static str) {
        self.spawn(name);
        wait_serving(name, &self.addr(name)).await;
    }

    pub(crate) async fn demo(&self, scenarios: &str) -> serde_json::Value {
        run_demo(self.demo_command(scenarios)).await
    }

    /// `ordercycle demo` for `scenarios` against these processes, to run with [`run_demo`]
    /// while the test does something else.
    pub(crate) fn demo_command(&self, scenarios: &str) -> Command {
        let mut demo = Command::new(env!("CARGO_BIN_EXE_ordercycle"));
        demo.arg("--json")
            .arg("demo")
            .arg("--scenarios")
            .arg(scenarios);
        for (name, grpc, ..) in &self.services {
            demo.arg(format!("--{name}-addr")).arg(grpc);
        }
        demo.env("OC_CLOCK_SCALE", "3600")
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .kill_on_drop(true);
        demo
    }
}

/// Appends every line of `stream` to `output` until the process closes it.
async fn collect(stream: impl AsyncRead + Unpin, output: Arc<Mutex<String>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut output = output.lock().unwrap();
        output.push_str(&line);
        output.push('\n');
    }
}

/// Runs a demo and returns its (first) scenario's result.
pub(crate) async fn run_demo(mut demo: Command) -> serde_json::Value {
    let output = tokio::time::timeout(std::time::Duration::from_secs(600), demo.output())
        .await
        .expect("the demo finishes")
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|v| v.get("scenario").is_some())
        .unwrap_or_else(|| {
            panic!(
                "no scenario result: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

async fn wait_serving(name: &str, grpc: &str) {
    let uri = format!("http://{grpc}");
    // A process migrates its database and provisions its streams and consumers before it
    // serves; with every demo test starting its own platform on two cores that can take long.
    let patience = std::time::Duration::from_secs(180);
    testkit::eventually_within(&format!("{name} to serve"), patience, || {
        let uri = uri.clone();
        async move {
            let channel = tonic::transport::Channel::from_shared(uri)
                .ok()?
                .connect()
                .await
                .ok()?;
            let status = tonic_health::pb::health_client::HealthClient::new(channel)
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .ok()?
                .into_inner()
                .status;
            (status == 1).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn a_card_order_completes_across_separate_serve_processes_even_when_orders_is_killed() {
    let mut platform = Processes::start().await;
    let first = platform.demo("card_ship").await;
    assert_eq!(first["final_status"], "ORDER_STATUS_COMPLETED", "{first}");

    // Kill orders with SIGKILL (no drain, no flush), restart it on the same database:
    // the next order still runs the whole cycle.
    platform.kill("orders").await;
    platform.restart("orders").await;
    let second = platform.demo("card_ship").await;
    assert_eq!(second["final_status"], "ORDER_STATUS_COMPLETED", "{second}");
    assert_ne!(first["order_number"], second["order_number"]);
}
