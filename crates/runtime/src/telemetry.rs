//! Logs and traces: a `tracing` subscriber (env filter from `RUST_LOG`, pretty or JSON lines),
//! an OpenTelemetry layer whose spans are exported over OTLP/gRPC when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and W3C trace-context helpers that carry a trace across
//! gRPC metadata and NATS headers.
//!
//! The OpenTelemetry layer is installed even without an exporter so that trace ids exist and
//! propagate; a collector can be added later without code changes.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::{LogFormat, LogSettings};

/// Flushes and stops span export when dropped; keep it alive for the life of the process.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Flushes buffered spans, bounded so a dead collector cannot stall shutdown.
    pub fn shutdown(mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown_with_timeout(Duration::from_secs(5))
        {
            tracing::warn!(error = %err, "telemetry flush failed");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.flush();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot build the OTLP exporter for {endpoint}: {source}")]
    Exporter {
        endpoint: String,
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

/// Installs the global subscriber and propagator. A second call in the same process (several
/// services in one test binary) keeps the first subscriber and returns an inert guard.
pub fn init(process_name: &str, settings: &LogSettings) -> Result<TelemetryGuard, TelemetryError> {
    install(process_name, settings, true)
}

/// For a command-line client whose stdout is its output (`ordercycle demo`): spans only, exported
/// when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and no log lines.
pub fn init_client(
    process_name: &str,
    settings: &LogSettings,
) -> Result<TelemetryGuard, TelemetryError> {
    install(process_name, settings, false)
}

fn install(
    process_name: &str,
    settings: &LogSettings,
    logs: bool,
) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let mut builder = SdkTracerProvider::builder().with_resource(
        opentelemetry_sdk::Resource::builder()
            .with_service_name(process_name.to_owned())
            .build(),
    );
    if let Some(endpoint) = &settings.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|source| TelemetryError::Exporter {
                endpoint: endpoint.clone(),
                source,
            })?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer("ordercycle");

    const DEFAULT_FILTER: &str = "info,opentelemetry=warn,opentelemetry_sdk=warn,sqlx=warn,async_nats=warn,h2=warn,tower=warn,hyper=warn";
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Not an `Option` of a layer: `Option<Layer>` does not pass `on_register_dispatch` on, and
    // without it the JSON layer cannot find a line's `trace_id`.
    let fmt = match (logs, settings.format) {
        (false, _) => tracing_subscriber::layer::Identity::new().boxed(),
        (true, LogFormat::Pretty) => tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_filter(filter())
            .boxed(),
        (true, LogFormat::Json) => crate::json_logs::JsonLogLayer::new(std::io::stdout)
            .with_filter(filter())
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(fmt)
        .with(
            // Spans do not follow `RUST_LOG`: quieter logs must not cut an order's trace.
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(EnvFilter::new(DEFAULT_FILTER)),
        )
        .try_init()
        .is_ok();
    if installed {
        opentelemetry::global::set_tracer_provider(provider.clone());
        Ok(TelemetryGuard {
            provider: Some(provider),
        })
    } else {
        Ok(TelemetryGuard { provider: None })
    }
}

/// Names the order the current span (an RPC or a consumed event) is about, so that every log
/// line inside it carries `order_id` and the trace can be searched by order. Spans declare the
/// field empty; recording it on a span without the field does nothing, and so does an empty
/// id (an optional `order_id` filter left unset).
pub fn record_order_id(order_id: &dyn std::fmt::Display) {
    let order_id = order_id.to_string();
    if !order_id.is_empty() {
        tracing::Span::current().record("order_id", order_id.as_str());
    }
}

/// The trace id of `span` (32 hex digits), when spans are recorded.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = span.context();
    let otel = cx.span();
    let sc = otel.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// The W3C `traceparent` of `span`, if it belongs to a sampled trace.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut MapCarrier(&mut carrier));
    carrier.remove("traceparent")
}

/// Makes `span` a child of the trace named by `traceparent` (from NATS headers or metadata).
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(value) = traceparent else { return };
    let cx = TraceContextPropagator::new().extract(&SingleHeader(value));
    // A malformed header only loses the link to the caller's trace.
    let _ = span.set_parent(cx);
}

struct MapCarrier<'a>(&'a mut HashMap<String, String>);

impl Injector for MapCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct SingleHeader<'a>(&'a str);

impl Extractor for SingleHeader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == "traceparent").then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}
