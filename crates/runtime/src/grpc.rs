//! gRPC plumbing shared by every service: field-level validation errors, the internal-error
//! mapping that never leaks SQL or stack text, and the layers every server gets (per-call span
//! joined to the caller's trace, caller authentication, per-method metrics).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt as _};

/// Violations named in an INVALID_ARGUMENT's message; the details carry up to [`MAX_DETAILED`].
pub const MAX_SUMMARIZED: usize = 10;
/// Violations carried in an INVALID_ARGUMENT's `BadRequest` details.
pub const MAX_DETAILED: usize = 40;

/// Collects every invalid field of a request, so the caller learns all of them at once.
#[derive(Debug, Default, Clone)]
pub struct FieldViolations {
    violations: Vec<FieldViolation>,
}

impl FieldViolations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.violations
            .push(FieldViolation::new(field, description));
    }

    /// Records a violation when `ok` is false.
    pub fn check(&mut self, ok: bool, field: impl Into<String>, description: impl Into<String>) {
        if !ok {
            self.add(field, description);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn len(&self) -> usize {
        self.violations.len()
    }

    /// Violations of a nested message, with `prefix.` before each field path.
    pub fn extend_prefixed(&mut self, prefix: &str, other: FieldViolations) {
        for v in other.violations {
            self.add(format!("{prefix}.{}", v.field), v.description);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.violations
            .iter()
            .map(|v| (v.field.as_str(), v.description.as_str()))
    }

    /// `Ok(())` when nothing was recorded, else the INVALID_ARGUMENT status.
    pub fn into_result(self) -> Result<(), Status> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into_status())
        }
    }

    /// INVALID_ARGUMENT with a `google.rpc.BadRequest` listing the violations. Both travel in
    /// response headers, which peers cap (16 KiB is common): a request with hundreds of bad
    /// elements gets the first [`MAX_DETAILED`] in the details and the first [`MAX_SUMMARIZED`]
    /// in the message, each cut to a readable length, and the count of the rest.
    pub fn into_status(self) -> Status {
        let total = self.violations.len();
        let short = |text: &str, max: usize| -> String {
            if text.chars().count() <= max {
                text.to_owned()
            } else {
                format!("{}…", text.chars().take(max).collect::<String>())
            }
        };
        let mut summary = self
            .violations
            .iter()
            .take(MAX_SUMMARIZED)
            .map(|v| format!("{}: {}", short(&v.field, 80), short(&v.description, 160)))
            .collect::<Vec<_>>()
            .join("; ");
        if total > MAX_SUMMARIZED {
            summary.push_str(&format!("; and {} more", total - MAX_SUMMARIZED));
        }
        let details = self
            .violations
            .into_iter()
            .take(MAX_DETAILED)
            .map(|v| FieldViolation::new(short(&v.field, 80), short(&v.description, 160)))
            .collect::<Vec<_>>();
        Status::with_error_details(
            Code::InvalidArgument,
            format!("invalid request: {summary}"),
            ErrorDetails::with_bad_request(details),
        )
    }
}

/// A short status for a store failure; the full error chain goes to the log only. An
/// unreachable database is `UNAVAILABLE` (retry); a value the database refused as such
/// (PostgreSQL's data exceptions, class 22: a NUL character, a date or number out of range; or
/// a value too large to index, 54000) was the caller's input, so it is `INVALID_ARGUMENT`;
/// anything else is `INTERNAL`. None names SQL.
pub fn internal(context: &str, err: &(dyn std::error::Error + 'static)) -> Status {
    if unreachable_store(err) {
        tracing::warn!(error = %err, "{context}: the database is unreachable");
        return Status::unavailable("the database is unreachable; retry later");
    }
    let mut chain = err.to_string();
    let mut refused = None;
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = current {
        if refused.is_none() {
            refused = refused_input(cause);
        }
        current = cause.source();
        if let Some(next) = current {
            chain.push_str(": ");
            chain.push_str(&next.to_string());
        }
    }
    if let Some(why) = refused {
        tracing::info!(error = %chain, "{context}: input refused by the database");
        return Status::invalid_argument(format!("a value in the request {why}"));
    }
    tracing::error!(error = %chain, "{context}");
    Status::internal(format!("{context}; the error was logged"))
}

/// Why the database refused a value of the request, if that is what `err` is.
fn refused_input(err: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    let sqlx::Error::Database(db) = err.downcast_ref::<sqlx::Error>()? else {
        return None;
    };
    let code = db.code()?;
    match code.as_ref() {
        "54000" => Some("is too large"),
        "22021" => Some("contains a character that cannot be stored (e.g. NUL)"),
        "22008" | "22007" => Some("holds a date or time out of range"),
        "22003" => Some("holds a number out of range"),
        c if c.starts_with("22") => Some("cannot be stored as given"),
        _ => None,
    }
}

/// Whether `err` (or anything in its chain) says the database cannot be reached — the pool
/// found no connection, or a connection broke — rather than that a query failed: the caller
/// should retry (UNAVAILABLE), not report a bug (INTERNAL).
fn unreachable_store(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<sqlx::Error>()
            .is_some_and(crate::db::is_unreachable)
            || e.downcast_ref::<std::io::Error>().is_some_and(|io| {
                use std::io::ErrorKind as K;
                matches!(
                    io.kind(),
                    K::ConnectionRefused
                        | K::ConnectionReset
                        | K::ConnectionAborted
                        | K::NotConnected
                        | K::BrokenPipe
                        | K::UnexpectedEof
                        | K::TimedOut
                )
            })
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Span for one RPC, a child of the caller's trace when it sent `traceparent`.
pub fn rpc_span(request: &http::Request<()>) -> tracing::Span {
    let span = tracing::info_span!(
        "rpc",
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.method = %request.uri().path(),
        order_id = tracing::field::Empty,
    );
    crate::telemetry::set_parent(
        &span,
        request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok()),
    );
    span
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodCodeLabels {
    method: String,
    code: String,
}

/// `oc_rpc_requests_total{method,code}` and `oc_rpc_duration_seconds{method}`.
#[derive(Clone)]
pub struct RpcMetrics {
    requests: Family<MethodCodeLabels, Counter>,
    duration: Family<MethodLabels, Histogram>,
}

impl RpcMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::<MethodCodeLabels, Counter>::default();
        let duration = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
        });
        registry.register(
            "oc_rpc_requests",
            "gRPC calls by method and status code",
            requests.clone(),
        );
        registry.register(
            "oc_rpc_duration_seconds",
            "gRPC call latency by method",
            duration.clone(),
        );
        Self { requests, duration }
    }
}

impl<S> tower::Layer<S> for RpcMetrics {
    type Service = RpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetricsService {
            inner,
            metrics: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RpcMetricsService<S> {
    inner: S,
    metrics: RpcMetrics,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for RpcMetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let started = Instant::now();
        let metrics = self.metrics.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            // Errors come back trailers-only with `grpc-status` in the headers; a success
            // carries it in the trailers, which this layer does not wait for.
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .map(|c| format!("{:?}", Code::from_bytes(c.as_bytes())))
                .unwrap_or_else(|| "Ok".to_owned());
            metrics
                .duration
                .get_or_create(&MethodLabels {
                    method: method.clone(),
                })
                .observe(started.elapsed().as_secs_f64());
            metrics
                .requests
                .get_or_create(&MethodCodeLabels { method, code })
                .inc();
            Ok(response)
        })
    }
}

/// A client interceptor that carries the current trace to the called service
/// (`traceparent` metadata), for services that call each other over gRPC.
pub fn propagate_trace(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
    if let Some(value) = crate::telemetry::traceparent(&tracing::Span::current())
        .and_then(|tp| tonic::metadata::MetadataValue::try_from(tp.as_str()).ok())
    {
        request.metadata_mut().insert("traceparent", value);
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_become_invalid_argument_with_bad_request_details() {
        let mut v = FieldViolations::new();
        v.add("lines[0].quantity", "must be positive");
        v.add("customer.id", "is required");
        let status = v.into_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().unwrap();
        assert_eq!(bad.field_violations.len(), 2);
        assert_eq!(bad.field_violations[0].field, "lines[0].quantity");
    }

    #[test]
    fn hundreds_of_violations_stay_within_what_headers_carry() {
        let mut v = FieldViolations::new();
        for i in 0..500 {
            v.add(format!("lines[{i}].sku"), "x".repeat(5_000));
        }
        let status = v.into_status();
        assert!(status.message().ends_with("and 490 more"));
        assert!(status.message().len() < 4_000);
        let bad = status.get_error_details().bad_request().cloned().unwrap();
        assert_eq!(bad.field_violations.len(), MAX_DETAILED);
        assert!(
            status.details().len() < 12_000,
            "{}",
            status.details().len()
        );
    }

    #[test]
    fn internal_errors_do_not_leak_their_text() {
        let err = std::io::Error::other("relation \"orders\" does not exist");
        let status = internal("placing the order failed", &err);
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("relation"));
    }
}
