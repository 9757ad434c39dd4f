//! A trace collector for the tests, on the OpenTelemetry protobuf definitions: it takes
//! OTLP over gRPC (`TraceService/Export`) and over HTTP/protobuf (`POST /v1/traces`) on one
//! port, either plain or gzip-compressed, and keeps every span it is sent and how each
//! export was encoded.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;

/// One span as the collector received it (ids as lowercase hex).
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    /// 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: i32,
    pub attributes: HashMap<String, String>,
    /// The resource's attributes (`service.name`, `service.instance.id`, ...).
    pub resource: HashMap<String, String>,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
}

/// A running collector.
#[derive(Clone)]
pub struct Collector {
    /// `http://127.0.0.1:PORT`: the OTLP endpoint for either protocol.
    pub url: String,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    encodings: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Receiver(Arc<Mutex<Vec<ReceivedSpan>>>, Arc<Mutex<Vec<String>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let encoding = request.metadata().get("grpc-encoding").and_then(|v| v.to_str().ok());
        self.encoded("grpc", encoding);
        self.keep(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    /// Notes how one export came: `grpc identity`, `http/protobuf gzip`, ...
    fn encoded(&self, protocol: &str, encoding: Option<&str>) {
        self.1
            .lock()
            .push(format!("{protocol} {}", encoding.unwrap_or("identity")));
    }

    fn keep(&self, request: ExportTraceServiceRequest) {
        let mut kept = self.0.lock();
        for resource_spans in request.resource_spans {
            let resource = resource_spans
                .resource
                .map(|r| attributes(&r.attributes))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    kept.push(ReceivedSpan {
                        name: span.name,
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        kind: span.kind,
                        attributes: attributes(&span.attributes),
                        resource: resource.clone(),
                        start_unix_nano: span.start_time_unix_nano,
                        end_unix_nano: span.end_time_unix_nano,
                    });
                }
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(list: &[KeyValue]) -> HashMap<String, String> {
    list.iter()
        .map(|kv| (kv.key.clone(), kv.value.as_ref().map(text).unwrap_or_default()))
        .collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

impl Collector {
    /// Starts a collector on a free port, serving gRPC and HTTP/protobuf.
    pub async fn start() -> Self {
        let spans: Arc<Mutex<Vec<ReceivedSpan>>> = Arc::default();
        let encodings: Arc<Mutex<Vec<String>>> = Arc::default();
        let receiver = Receiver(spans.clone(), encodings.clone());
        let http = receiver.clone();
        let grpc = TraceServiceServer::new(receiver).accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        let grpc = tonic::service::Routes::new(grpc).into_axum_router();
        let router = grpc.route(
            "/v1/traces",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| async move {
                let encoding = headers.get("content-encoding").and_then(|v| v.to_str().ok());
                http.encoded("http/protobuf", encoding);
                let body = match encoding {
                    Some("gzip") => {
                        let mut plain = Vec::new();
                        let read = std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain);
                        read.map(|_| Bytes::from(plain)).unwrap_or_default()
                    }
                    _ => body,
                };
                match ExportTraceServiceRequest::decode(body) {
                    Ok(request) => {
                        http.keep(request);
                        (
                            axum::http::StatusCode::OK,
                            [("content-type", "application/x-protobuf")],
                            ExportTraceServiceResponse { partial_success: None }.encode_to_vec(),
                        )
                    }
                    Err(_) => (
                        axum::http::StatusCode::BAD_REQUEST,
                        [("content-type", "text/plain")],
                        b"not an ExportTraceServiceRequest".to_vec(),
                    ),
                }
            }),
        );
        let url = crate::support::fake_endpoint(router).await;
        Self { url, spans, encodings }
    }

    /// How each export so far was sent: `grpc gzip`, `http/protobuf identity`, ...
    pub fn encodings(&self) -> Vec<String> {
        self.encodings.lock().clone()
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().clone()
    }

    /// The spans of one trace, once `done` holds for them (within a minute).
    pub async fn wait_for_trace(&self, trace_id: &str, done: impl Fn(&[ReceivedSpan]) -> bool) -> Vec<ReceivedSpan> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let spans: Vec<ReceivedSpan> = self.spans().into_iter().filter(|s| s.trace_id == trace_id).collect();
            if done(&spans) {
                return spans;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the trace {trace_id} never held what was expected; it has: {:#?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The span named `name` in `spans` (the first, when several are).
pub fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name:?} in {:#?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}
