//! Configuration from `OC_…` environment variables, with defaults that work on a developer
//! machine (NATS and Postgres on localhost, the §3a addresses). Secrets are never printed:
//! `Debug` for [`AuthSettings`] hides the key.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use crate::clock::Clock;

/// Every service, in the order that fixes its default ports (gRPC 50051…, admin HTTP 9101…).
pub const SERVICE_NAMES: [&str; 8] = [
    "orders",
    "inventory",
    "payments",
    "fulfillment",
    "shipping",
    "notifications",
    "feedback",
    "analytics",
];

#[derive(Debug, thiserror::Error)]
#[error("invalid value for {var}: {reason}")]
pub struct ConfigError {
    pub var: String,
    pub reason: String,
}

/// Settings shared by every service of one deployment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `OC_NATS_URL`, default `nats://127.0.0.1:4222`.
    pub nats_url: String,
    /// `OC_DATABASE_URL`: the Postgres server; each service uses its own database on it.
    pub database_url: String,
    /// `OC_SUBJECT_ROOT`, default `oc`: first token of every subject, part of every stream name.
    pub subject_root: String,
    pub clock: Clock,
    pub auth: AuthSettings,
    /// `OC_DB_POOL_SIZE`: connections per service (default 4).
    pub pool_size: u32,
    pub streams: StreamSettings,
    pub messaging: MessagingSettings,
    pub log: LogSettings,
    /// Bounded time for draining RPCs and background work at shutdown (`OC_SHUTDOWN_GRACE_SECS`).
    pub shutdown_grace: Duration,
    /// Load shedding and per-caller rate limits of the gRPC servers (`crate::admission`).
    pub admission: AdmissionSettings,
    /// TLS of the gRPC servers and of the calls between services (`crate::tls`); `None`:
    /// plaintext (a service mesh or a trusted network provides transport security).
    pub tls: Option<TlsSettings>,
    /// Values that win over the process environment for [`Settings::env`]: how a test gives one
    /// in-process service its own `OC_<SERVICE>_…` settings without touching the process.
    pub overrides: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStorage {
    File,
    Memory,
}

/// JetStream stream settings (`OC_STREAM_STORAGE`, `OC_STREAM_DUPLICATE_WINDOW_MS`,
/// `OC_STREAM_MAX_AGE_HOURS`).
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub storage: StreamStorage,
    /// A help against republished events, not the guarantee: consumers dedupe by inbox.
    pub duplicate_window: Duration,
    pub max_age: Duration,
}

/// Outbox relay, consumer and timer tuning (`OC_RELAY_*`, `OC_CONSUMER_*`, `OC_TIMER_*`).
#[derive(Debug, Clone)]
pub struct MessagingSettings {
    /// Rows locked and published per relay round.
    pub relay_batch: i64,
    /// How often an idle relay looks for rows written by another process.
    pub relay_poll: Duration,
    /// Deliveries of one event before it is dead-lettered.
    pub max_deliveries: i64,
    /// Events a consumer applies in one transaction when they are waiting (in savepoints only
    /// when one fails): one commit per batch instead of one per event (`OC_CONSUMER_BATCH`, 64; 1
    /// turns it off). A service's batching consumers take turns (docs/BENCHMARKS.md).
    pub consumer_batch: usize,
    /// First redelivery delay; doubles per delivery up to `retry_backoff_max`.
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    /// How long a consumer may hold an event before JetStream redelivers it.
    pub ack_wait: Duration,
    pub timer_poll: Duration,
    /// Due timers of one kind a poller fires in one transaction (in savepoints only when one
    /// fails): one commit per batch instead of one per timer (`OC_TIMER_BATCH`, 64).
    pub timer_batch: i64,
    /// How often gauges read from NATS or Postgres are refreshed: each consumer's lag,
    /// orders per status.
    pub metrics_poll: Duration,
}

#[derive(Debug, Clone)]
pub struct AdmissionSettings {
    /// `OC_GRPC_MAX_IN_FLIGHT`: calls one server works on at once; more are refused
    /// `RESOURCE_EXHAUSTED` at once (0: no bound).
    pub max_in_flight: usize,
    /// `OC_RATE_LIMIT_PER_SEC`: calls per second per caller (0: no limit).
    pub rate_per_sec: f64,
    /// `OC_RATE_LIMIT_BURST`: calls a caller may make at once above its rate.
    pub burst: f64,
}

/// PEM material read once at start-up from `OC_TLS_CERT_FILE`, `OC_TLS_KEY_FILE` and, for
/// mutual TLS, `OC_TLS_CA_FILE`.
#[derive(Clone)]
pub struct TlsSettings {
    /// This service's certificate chain: served to callers, and presented when it calls
    /// another service.
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
    /// The CA that signs every service's certificate. When set, servers require a client
    /// certificate it signed (mutual TLS) and clients verify servers against it.
    pub ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("TlsSettings")
            .field("mutual", &self.ca.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub enum AuthSettings {
    /// Development: every caller is `dev-operator` with every role.
    Off,
    /// JWT bearer tokens, HS256 with a shared secret (`OC_JWT_SECRET`) or RS256/ES256 with a
    /// public key in PEM (`OC_JWT_PUBLIC_KEY_FILE`); optional `OC_JWT_ISSUER`, `OC_JWT_AUDIENCE`.
    Jwt(JwtSettings),
}

#[derive(Clone)]
pub struct JwtSettings {
    pub key: JwtKey,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

#[derive(Clone)]
pub enum JwtKey {
    Secret(Vec<u8>),
    RsaPem(Vec<u8>),
    EcPem(Vec<u8>),
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Off => f.write_str("Off"),
            Self::Jwt(jwt) => f
                .debug_struct("Jwt")
                .field("key", &"<redacted>")
                .field("issuer", &jwt.issuer)
                .field("audience", &jwt.audience)
                .finish(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    /// `OC_LOG_FORMAT`: `pretty` (default) or `json`.
    pub format: LogFormat,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: export spans over OTLP/gRPC when set.
    pub otlp_endpoint: Option<String>,
}

/// Where one service listens and which database it owns.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    pub name: &'static str,
    /// `OC_<SERVICE>_GRPC_ADDR`, default `127.0.0.1:5005N`.
    pub grpc_addr: SocketAddr,
    /// `OC_<SERVICE>_HTTP_ADDR`, default `127.0.0.1:910N`: `/metrics`, `/healthz`, `/readyz`.
    pub http_addr: SocketAddr,
    /// `OC_<SERVICE>_DATABASE_URL`, default the server of `OC_DATABASE_URL` with database
    /// `ordercycle_<service>`.
    pub database_url: String,
}

/// Reads variables through a function so tests can configure without touching the process env.
pub struct Env<'a> {
    lookup: Box<Lookup<'a>>,
}

type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

impl Env<'static> {
    pub fn process() -> Self {
        Self {
            lookup: Box::new(|key| std::env::var(key).ok().filter(|v| !v.is_empty())),
        }
    }
}

impl<'a> Env<'a> {
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        (self.lookup)(key)
    }

    fn parse<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|err: T::Err| ConfigError {
                var: key.to_owned(),
                reason: err.to_string(),
            }),
        }
    }

    fn millis(&self, key: &str, default_ms: u64) -> Result<Duration, ConfigError> {
        self.parse(key, default_ms).map(Duration::from_millis)
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::process())
    }

    pub fn from(env: &Env<'_>) -> Result<Self, ConfigError> {
        let storage = match env.get("OC_STREAM_STORAGE").as_deref() {
            None | Some("file") => StreamStorage::File,
            Some("memory") => StreamStorage::Memory,
            Some(other) => {
                return Err(ConfigError {
                    var: "OC_STREAM_STORAGE".into(),
                    reason: format!("`{other}` is neither `file` nor `memory`"),
                });
            }
        };
        let format = match env.get("OC_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    var: "OC_LOG_FORMAT".into(),
                    reason: format!("`{other}` is neither `pretty` nor `json`"),
                });
            }
        };
        let subject_root = env.get("OC_SUBJECT_ROOT").unwrap_or_else(|| "oc".into());
        validate_subject_root(&subject_root)?;
        let scale: f64 = env.parse("OC_CLOCK_SCALE", 1.0)?;
        if !(scale.is_finite() && scale > 0.0) {
            return Err(ConfigError {
                var: "OC_CLOCK_SCALE".into(),
                reason: "must be a positive number".into(),
            });
        }
        Ok(Self {
            nats_url: env
                .get("OC_NATS_URL")
                .unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
            database_url: env
                .get("OC_DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".into()),
            subject_root,
            clock: Clock::scaled(scale),
            auth: auth_from_env(env)?,
            pool_size: env.parse("OC_DB_POOL_SIZE", 4)?,
            streams: StreamSettings {
                storage,
                duplicate_window: env.millis("OC_STREAM_DUPLICATE_WINDOW_MS", 120_000)?,
                max_age: Duration::from_secs(3600 * env.parse("OC_STREAM_MAX_AGE_HOURS", 24 * 7)?),
            },
            messaging: MessagingSettings {
                relay_batch: env.parse("OC_RELAY_BATCH", 256)?,
                relay_poll: env.millis("OC_RELAY_POLL_MS", 200)?,
                max_deliveries: env.parse("OC_CONSUMER_MAX_DELIVERIES", 5)?,
                consumer_batch: env.parse::<usize>("OC_CONSUMER_BATCH", 64)?.max(1),
                retry_backoff: env.millis("OC_CONSUMER_RETRY_BACKOFF_MS", 500)?,
                retry_backoff_max: env.millis("OC_CONSUMER_RETRY_BACKOFF_MAX_MS", 30_000)?,
                ack_wait: env.millis("OC_CONSUMER_ACK_WAIT_MS", 30_000)?,
                timer_poll: env.millis("OC_TIMER_POLL_MS", 500)?,
                timer_batch: env.parse::<i64>("OC_TIMER_BATCH", 64)?.max(1),
                metrics_poll: env.millis("OC_METRICS_POLL_MS", 5000)?,
            },
            log: LogSettings {
                format,
                otlp_endpoint: env.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            },
            shutdown_grace: Duration::from_secs(env.parse("OC_SHUTDOWN_GRACE_SECS", 20)?),
            tls: tls_settings(env)?,
            admission: AdmissionSettings {
                max_in_flight: env.parse("OC_GRPC_MAX_IN_FLIGHT", 256)?,
                rate_per_sec: env.parse("OC_RATE_LIMIT_PER_SEC", 0.0)?,
                burst: env.parse("OC_RATE_LIMIT_BURST", 100.0)?,
            },
            overrides: std::collections::BTreeMap::new(),
        })
    }

    /// The variables a service reads its own settings from: [`Settings::overrides`] first, then
    /// the process environment.
    pub fn env(&self) -> Env<'_> {
        Env::from_fn(move |key| {
            self.overrides
                .get(key)
                .cloned()
                .or_else(|| std::env::var(key).ok().filter(|v| !v.is_empty()))
        })
    }

    /// The listen addresses and database of `name`, from `OC_<NAME>_…` or the defaults.
    pub fn service(&self, name: &'static str) -> Result<ServiceSettings, ConfigError> {
        self.service_from(&Env::process(), name)
    }

    pub fn service_from(
        &self,
        env: &Env<'_>,
        name: &'static str,
    ) -> Result<ServiceSettings, ConfigError> {
        let index = SERVICE_NAMES
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| ConfigError {
                var: "service".into(),
                reason: format!("`{name}` is not an ordercycle service"),
            })? as u16;
        let prefix = format!("OC_{}", name.to_uppercase());
        let grpc_default = SocketAddr::from(([127, 0, 0, 1], 50051 + index));
        let http_default = SocketAddr::from(([127, 0, 0, 1], 9101 + index));
        Ok(ServiceSettings {
            name,
            grpc_addr: env.parse(&format!("{prefix}_GRPC_ADDR"), grpc_default)?,
            http_addr: env.parse(&format!("{prefix}_HTTP_ADDR"), http_default)?,
            database_url: env
                .get(&format!("{prefix}_DATABASE_URL"))
                .unwrap_or_else(|| format!("{}/ordercycle_{name}", server_url(&self.database_url))),
        })
    }
}

/// The server part of a Postgres URL (drops a database path and query, keeps credentials).
pub fn server_url(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find(['/', '?']) {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

fn validate_subject_root(root: &str) -> Result<(), ConfigError> {
    let ok = !root.is_empty()
        && root
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            var: "OC_SUBJECT_ROOT".into(),
            reason: format!("`{root}` must be one subject token of letters, digits, `_` or `-`"),
        })
    }
}

fn tls_settings(env: &Env<'_>) -> Result<Option<TlsSettings>, ConfigError> {
    let read = |var: &str| -> Result<Option<Vec<u8>>, ConfigError> {
        env.get(var)
            .map(|path| {
                std::fs::read(&path).map_err(|err| ConfigError {
                    var: var.into(),
                    reason: format!("cannot read {path}: {err}"),
                })
            })
            .transpose()
    };
    let (cert, key, ca) = (
        read("OC_TLS_CERT_FILE")?,
        read("OC_TLS_KEY_FILE")?,
        read("OC_TLS_CA_FILE")?,
    );
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsSettings { cert, key, ca })),
        (None, None) if ca.is_none() => Ok(None),
        _ => Err(ConfigError {
            var: "OC_TLS_CERT_FILE / OC_TLS_KEY_FILE".into(),
            reason: "TLS needs both a certificate and its key (and OC_TLS_CA_FILE for mutual TLS)"
                .into(),
        }),
    }
}

fn auth_from_env(env: &Env<'_>) -> Result<AuthSettings, ConfigError> {
    let mode = env.get("OC_AUTH");
    let secret = env.get("OC_JWT_SECRET");
    let key_file = env.get("OC_JWT_PUBLIC_KEY_FILE");
    match mode.as_deref() {
        Some("off") => return Ok(AuthSettings::Off),
        None | Some("jwt") => {}
        Some(other) => {
            return Err(ConfigError {
                var: "OC_AUTH".into(),
                reason: format!("`{other}` is neither `off` nor `jwt`"),
            });
        }
    }
    let key = match (secret, key_file) {
        (Some(secret), _) => JwtKey::Secret(secret.into_bytes()),
        (None, Some(path)) => {
            let pem = std::fs::read(&path).map_err(|err| ConfigError {
                var: "OC_JWT_PUBLIC_KEY_FILE".into(),
                reason: format!("cannot read {path}: {err}"),
            })?;
            if String::from_utf8_lossy(&pem).contains("EC PUBLIC KEY") || path.ends_with(".ec.pem")
            {
                JwtKey::EcPem(pem)
            } else {
                JwtKey::RsaPem(pem)
            }
        }
        (None, None) if mode.is_none() => {
            return Err(ConfigError {
                var: "OC_AUTH".into(),
                reason: "set OC_JWT_SECRET or OC_JWT_PUBLIC_KEY_FILE, or OC_AUTH=off to run \
                         without authentication"
                    .into(),
            });
        }
        (None, None) => {
            return Err(ConfigError {
                var: "OC_JWT_SECRET".into(),
                reason: "OC_AUTH=jwt needs OC_JWT_SECRET or OC_JWT_PUBLIC_KEY_FILE".into(),
            });
        }
    };
    Ok(AuthSettings::Jwt(JwtSettings {
        key,
        issuer: env.get("OC_JWT_ISSUER"),
        audience: env.get("OC_JWT_AUDIENCE"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_url_drops_the_database_and_keeps_credentials() {
        assert_eq!(
            server_url("postgres://u:p@h:5432/db?x=1"),
            "postgres://u:p@h:5432"
        );
        assert_eq!(
            server_url("postgres://postgres@127.0.0.1:5432"),
            "postgres://postgres@127.0.0.1:5432"
        );
    }

    #[test]
    fn defaults_follow_the_design_addresses() {
        let env = Env::from_fn(|k| (k == "OC_AUTH").then(|| "off".to_owned()));
        let settings = Settings::from(&env).unwrap();
        let payments = settings.service_from(&env, "payments").unwrap();
        assert_eq!(payments.grpc_addr.to_string(), "127.0.0.1:50053");
        assert_eq!(payments.http_addr.to_string(), "127.0.0.1:9103");
        assert_eq!(
            payments.database_url,
            "postgres://postgres@127.0.0.1:5432/ordercycle_payments"
        );
        assert_eq!(settings.subject_root, "oc");
    }

    #[test]
    fn serving_without_auth_settings_is_refused_with_a_hint() {
        let err = Settings::from(&Env::from_fn(|_| None)).unwrap_err();
        assert!(err.reason.contains("OC_AUTH=off"), "{err}");
    }

    #[test]
    fn a_subject_root_with_a_dot_is_refused() {
        let env = Env::from_fn(|k| match k {
            "OC_AUTH" => Some("off".into()),
            "OC_SUBJECT_ROOT" => Some("a.b".into()),
            _ => None,
        });
        assert_eq!(Settings::from(&env).unwrap_err().var, "OC_SUBJECT_ROOT");
    }
}
