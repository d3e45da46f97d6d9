//! Starting services: the registry of every service, the dependency checks with actionable
//! errors, and the private NATS that `up` starts when none is listening.

use std::time::Duration;

use anyhow::{Context as _, bail};
use runtime::config::{Env, Settings};
use runtime::{ServiceDef, telemetry};
use tokio_util::sync::CancellationToken;

use crate::output;

/// Every service, in the order of their default ports.
pub static SERVICES: [&ServiceDef; 8] = [
    &orders::SERVICE,
    &inventory::SERVICE,
    &payments::SERVICE,
    &fulfillment::SERVICE,
    &shipping::SERVICE,
    &notifications::SERVICE,
    &feedback::SERVICE,
    &analytics::SERVICE,
];

fn find(name: &str) -> anyhow::Result<&'static ServiceDef> {
    SERVICES
        .iter()
        .copied()
        .find(|def| def.name == name)
        .with_context(|| {
            let names: Vec<_> = SERVICES.iter().map(|d| d.name).collect();
            format!("unknown service `{name}`; one of: {}", names.join(", "))
        })
}

pub async fn up() -> anyhow::Result<()> {
    // Dev mode: authentication off unless the environment says otherwise explicitly.
    let env = Env::from_fn(
        |key| match std::env::var(key).ok().filter(|v| !v.is_empty()) {
            None if key == "OC_AUTH" => Some("off".to_owned()),
            other => other,
        },
    );
    let mut settings = Settings::from(&env)?;
    // Fulfillment calls shipping: point it at wherever this process runs shipping.
    if env.get("OC_FULFILLMENT_SHIPPING_URL").is_none() {
        let shipping = settings.service_from(&env, shipping::SERVICE.name)?;
        settings.overrides.insert(
            "OC_FULFILLMENT_SHIPPING_URL".to_owned(),
            format!("http://{}", shipping.grpc_addr),
        );
    }
    output::dev_mode_banner();
    let _telemetry = telemetry::init("ordercycle", &settings.log)?;
    let _nats = ensure_nats(&settings).await?;

    let shutdown = CancellationToken::new();
    let mut running = tokio::task::JoinSet::new();
    for def in SERVICES {
        let service = settings.service_from(&env, def.name)?;
        let app = runtime::launch(def, &settings, service)
            .await
            .with_context(|| format!("starting {}", def.name))?;
        output::service_started(def.name, app.grpc_addr(), app.http_addr());
        let token = shutdown.clone();
        running.spawn(async move { app.run_until(token.cancelled_owned()).await });
    }
    output::note("all services up; Ctrl-C stops them");
    tokio::select! {
        () = runtime::shutdown::signal() => {}
        Some(result) = running.join_next() => {
            shutdown.cancel();
            result??;
            bail!("a service stopped unexpectedly");
        }
    }
    shutdown.cancel();
    while let Some(result) = running.join_next().await {
        result??;
    }
    Ok(())
}

pub async fn serve(name: &str) -> anyhow::Result<()> {
    let def = find(name)?;
    let settings = Settings::from_env()?;
    let telemetry = telemetry::init(&format!("ordercycle-{name}"), &settings.log)?;
    if matches!(settings.auth, runtime::config::AuthSettings::Off) {
        tracing::warn!("authentication is OFF (OC_AUTH=off)");
    }
    let app = runtime::launch(def, &settings, settings.service(def.name)?).await?;
    tracing::info!(grpc = %app.grpc_addr(), http = %app.http_addr(), "{name} listening");
    app.run_until(runtime::shutdown::signal()).await?;
    telemetry.shutdown();
    Ok(())
}

pub async fn migrate(names: &[String]) -> anyhow::Result<()> {
    let env = Env::from_fn(
        |key| match std::env::var(key).ok().filter(|v| !v.is_empty()) {
            None if key == "OC_AUTH" => Some("off".to_owned()),
            other => other,
        },
    );
    let settings = Settings::from(&env)?;
    let defs: Vec<&ServiceDef> = if names.is_empty() {
        SERVICES.to_vec()
    } else {
        names.iter().map(|n| find(n)).collect::<Result<_, _>>()?
    };
    for def in defs {
        let service = settings.service_from(&env, def.name)?;
        runtime::db::ensure_database(&service.database_url).await?;
        let pool = runtime::db::pool(&service.database_url, 1).await?;
        runtime::db::migrate(&pool, def.name, &def.migrator()).await?;
        pool.close().await;
        output::note(&format!("{}: migrated", def.name));
    }
    Ok(())
}

/// A `nats-server` this process started; stopped when dropped.
struct PrivateNats(tokio::process::Child);

impl Drop for PrivateNats {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// When nothing answers at the NATS URL but `nats-server` is installed, starts one with
/// JetStream under `./.ordercycle/nats` so that one command runs the platform.
async fn ensure_nats(settings: &Settings) -> anyhow::Result<Option<PrivateNats>> {
    if runtime::nats::connect(&settings.nats_url, "ordercycle-probe")
        .await
        .is_ok()
    {
        return Ok(None);
    }
    let local = settings.nats_url.contains("127.0.0.1") || settings.nats_url.contains("localhost");
    let binary = [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists());
    let (true, Some(binary)) = (local, binary) else {
        bail!(
            "cannot reach NATS at {}; start it with `nats-server -js` or set OC_NATS_URL",
            settings.nats_url
        );
    };
    let port = settings
        .nats_url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
        .unwrap_or(4222);
    std::fs::create_dir_all(".ordercycle/nats")?;
    let child = tokio::process::Command::new(binary)
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-js",
            "-sd",
            ".ordercycle/nats",
        ])
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {binary}"))?;
    output::note(&format!(
        "no NATS at {}; started a private nats-server (data in ./.ordercycle/nats)",
        settings.nats_url
    ));
    for _ in 0..100 {
        if runtime::nats::connect(&settings.nats_url, "ordercycle-probe")
            .await
            .is_ok()
        {
            return Ok(Some(PrivateNats(child)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "started nats-server but it does not answer at {}",
        settings.nats_url
    )
}
