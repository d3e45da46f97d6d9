//! One order, one trace: the eight `ordercycle serve` processes export their spans over OTLP to
//! a trace receiver running in this test, the demo walks one card order through them, and the
//! spans of the demo's trace must come from every service the order passes through and form
//! one tree.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;

use crate::processes::Processes;

/// One received span: the exporting service, its ids, its name.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

/// An OTLP/gRPC trace receiver keeping every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    Value::StringValue(name) => Some(name.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                received.push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                });
            }
        }
        self.spans.lock().unwrap().extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    /// Serves on a loopback port; returns the endpoint URL.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(self.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(server);
        format!("http://{addr}")
    }

    fn trace(&self, trace_id: &str) -> Vec<Received> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    }
}

/// The services one card order passes through; feedback only joins after acceptance, through
/// a timer of its own.
const ON_THE_PATH: [&str; 7] = [
    "ordercycle-orders",
    "ordercycle-payments",
    "ordercycle-inventory",
    "ordercycle-fulfillment",
    "ordercycle-shipping",
    "ordercycle-notifications",
    "ordercycle-analytics",
];

/// Spans whose parent is not in `spans`: a hop that lost the trace context, or a parent not
/// exported yet.
fn orphans(spans: &[Received]) -> Vec<&Received> {
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    spans
        .iter()
        .filter(|s| !s.parent_span_id.is_empty() && !ids.contains(s.parent_span_id.as_str()))
        .collect()
}

#[tokio::test]
async fn one_card_order_is_one_trace_across_every_service_it_passes_through() {
    let receiver = Receiver::default();
    let endpoint = receiver.start().await;
    let platform = Processes::start_with(vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        // Export within a tenth of a second rather than the default five.
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ])
    .await;

    let result = platform.demo("card_ship").await;
    assert_eq!(result["final_status"], "ORDER_STATUS_COMPLETED", "{result}");
    let trace_id = result["trace_id"].as_str().unwrap().to_owned();
    assert_eq!(trace_id.len(), 32, "the demo reports its trace: {result}");

    // Spans arrive in batches as they end; wait until the tree is whole.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let spans = loop {
        let spans = receiver.trace(&trace_id);
        let services: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
        let whole = ON_THE_PATH.iter().all(|s| services.contains(s))
            && orphans(&spans).is_empty()
            && spans.iter().filter(|s| s.parent_span_id.is_empty()).count() == 1;
        if whole || tokio::time::Instant::now() >= deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let mut by_service: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for span in &spans {
        by_service
            .entry(span.service.as_str())
            .or_default()
            .insert(span.name.as_str());
    }
    for service in ON_THE_PATH {
        assert!(
            by_service.contains_key(service),
            "no span from {service} in trace {trace_id}; spans by service: {by_service:#?}"
        );
    }
    let roots: Vec<&Received> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "one root: {roots:#?}");
    assert_eq!(roots[0].service, "ordercycle-demo");
    let orphans = orphans(&spans);
    assert!(
        orphans.is_empty(),
        "spans whose parent is not in the trace: {orphans:#?}"
    );
}
