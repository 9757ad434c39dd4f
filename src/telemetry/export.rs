//! The OTLP exporter: which endpoint and protocol the environment names, and an exporter
//! that never holds up the service. Spans leave through the SDK's batch processor (its own
//! thread, a bounded queue that drops rather than blocks); each batch is sent from a small
//! runtime of its own, so neither the gRPC nor the HTTP client needs the service's runtime,
//! and a collector that cannot be reached is said once in the log (and once more when it
//! can be reached again), not once a batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    HttpProtobuf,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }
}

/// Where traces go, as the OpenTelemetry variables say.
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoint: String,
    pub protocol: Protocol,
}

impl Settings {
    /// None when no OTLP endpoint is set: traces are off.
    pub fn from_env() -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))?;
        let protocol = match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .as_deref()
        {
            Some("grpc") => Protocol::Grpc,
            Some("http/protobuf") | None => Protocol::HttpProtobuf,
            Some(other) => {
                eprintln!(
                    "warning: OTLP protocol {other:?} is not supported (grpc or http/protobuf); using http/protobuf"
                );
                Protocol::HttpProtobuf
            }
        };
        Some(Self { endpoint, protocol })
    }
}

/// The tracer provider exporting to the endpoint the settings name. The SDK reads the
/// endpoint, headers, timeout, sampler, resource and batch variables itself.
pub fn provider(settings: &Settings) -> anyhow::Result<SdkTracerProvider> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("otlp-export")
        .enable_all()
        .build()
        .context("starting the exporter's runtime")?;
    // The gRPC channel is made (lazily connected) inside the runtime that drives it.
    let built = {
        let _inside = runtime.enter();
        match settings.protocol {
            Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder().with_tonic().build(),
            Protocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .build(),
        }
    };
    let exporter = match built {
        Ok(exporter) => exporter,
        Err(e) => {
            // Dropped here, a runtime would block the service's own runtime thread, which
            // tokio refuses with a panic: the service would not start at all.
            runtime.shutdown_background();
            return Err(e).with_context(|| format!("the OTLP exporter for {}", settings.endpoint));
        }
    };
    let exporter = OwnRuntime {
        inner: Arc::new(exporter),
        runtime: Arc::new(runtime),
        endpoint: settings.endpoint.clone(),
        failing: Arc::new(AtomicBool::new(false)),
    };
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource())
        .build())
}

/// The environment's resource (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`), named
/// `lambda-steps` when neither names the service.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if named {
        detected
    } else {
        Resource::builder().with_service_name(super::SERVICE_NAME).build()
    }
}

/// An exporter sending each batch from a runtime of its own.
#[derive(Debug)]
struct OwnRuntime<E> {
    inner: Arc<E>,
    runtime: Arc<tokio::runtime::Runtime>,
    endpoint: String,
    /// Whether the last batch failed: the first failure is said, the next ones are not.
    failing: Arc<AtomicBool>,
}

impl<E: SpanExporter + 'static> SpanExporter for OwnRuntime<E> {
    fn export(&self, batch: Vec<SpanData>) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let inner = self.inner.clone();
        let spans = batch.len();
        let sent = self.runtime.spawn(async move { inner.export(batch).await });
        let (failing, endpoint) = (self.failing.clone(), self.endpoint.clone());
        async move {
            let result = sent
                .await
                .unwrap_or_else(|e| Err(OTelSdkError::InternalFailure(e.to_string())));
            match &result {
                Err(e) if !failing.swap(true, Ordering::Relaxed) => tracing::warn!(
                    endpoint = %endpoint,
                    error = %e,
                    spans,
                    "the trace collector cannot be reached; spans are dropped until it can (said once)"
                ),
                Ok(()) if failing.swap(false, Ordering::Relaxed) => {
                    tracing::info!(endpoint = %endpoint, "the trace collector can be reached again")
                }
                _ => {}
            }
            result
        }
    }

    fn shutdown_with_timeout(&mut self, timeout: std::time::Duration) -> OTelSdkResult {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => {
                let _inside = self.runtime.enter();
                inner.shutdown_with_timeout(timeout)
            }
            None => Ok(()),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}
