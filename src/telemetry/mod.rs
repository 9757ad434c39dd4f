//! The service's own log and its OpenTelemetry traces.
//!
//! The log goes to stdout as before (`RUST_LOG` filters it). Traces are off unless
//! `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; then spans go
//! over OTLP, by gRPC or HTTP/protobuf as `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or
//! `OTEL_EXPORTER_OTLP_PROTOCOL` says (`http/protobuf` when neither does, as the
//! specification's default), named by `OTEL_SERVICE_NAME` (`lambda-steps` when unset),
//! described by `OTEL_RESOURCE_ATTRIBUTES`, gzip-compressed when `OTEL_EXPORTER_OTLP_COMPRESSION`
//! says so, sampled as `OTEL_TRACES_SAMPLER` /
//! `OTEL_TRACES_SAMPLER_ARG` say, batched as `OTEL_BSP_*` say. The SDK reads those
//! variables itself; this module only decides whether there is an exporter and which.
//!
//! One trace per run: the submit's context is kept in the queue row ([`context`]), and the
//! worker that claims the run, on whichever replica, continues it ([`spans`]). Spans that
//! exist only for the trace use the target [`TRACE_TARGET`] at debug level, so the stdout
//! log does not show them and, with traces off, they cost a disabled callsite.

pub mod context;
mod export;
pub mod spans;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::LogFormat;

/// The target of spans made for the trace only (not shown in the stdout log by default).
pub const TRACE_TARGET: &str = "lambda_steps::trace";

/// The name this service gives itself when `OTEL_SERVICE_NAME` and the resource attributes
/// do not name it.
const SERVICE_NAME: &str = "lambda-steps";

/// Whether this process exports traces: read on hot paths to skip work that only a trace needs.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (an OTLP endpoint is set and the exporter started).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Ends the traces with the process: the spans still queued are sent (within a bound).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends what is queued and stops the exporter; waits at most the exporter's timeout.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            // Off the async threads: the batch processor's shutdown blocks until it is done.
            let _ = std::thread::spawn(move || provider.shutdown()).join();
        }
    }
}

/// Starts the stdout log and, when an OTLP endpoint is set, the trace exporter.
pub fn start(format: LogFormat) -> Telemetry {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let fmt = tracing_subscriber::fmt::layer();
    let fmt = match format {
        LogFormat::Json => fmt.json().with_current_span(false).boxed(),
        LogFormat::Text => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            fmt.with_ansi(colour).boxed()
        }
    };
    let exporter = match export::Settings::from_env() {
        Some(settings) => match export::provider(&settings) {
            Ok(provider) => Some((settings, provider)),
            Err(why) => {
                eprintln!("warning: traces are not exported: {why:#}");
                None
            }
        },
        None => None,
    };
    let otel = exporter.as_ref().map(|(_, provider)| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("lambda-steps"))
            .with_filter(trace_filter())
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .init();
    let provider = exporter.map(|(settings, provider)| {
        opentelemetry::global::set_tracer_provider(provider.clone());
        opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
        EXPORTING.store(true, Ordering::Relaxed);
        tracing::info!(
            endpoint = %settings.endpoint,
            protocol = settings.protocol.as_str(),
            "exporting traces over OTLP"
        );
        provider
    });
    Telemetry { provider }
}

/// What reaches the trace: the service's spans and events at info, its trace-only spans,
/// the AWS SDK's own spans (debug) where they happen inside a run's span (not the
/// background work's, which would each be a trace of its own), and nothing of the crates
/// the exporter itself uses (their events would be exported by the exporter they describe).
fn trace_filter<S>() -> impl tracing_subscriber::layer::Filter<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let targets = targets();
    tracing_subscriber::filter::dynamic_filter_fn(move |meta, cx| {
        if targets.would_enable(meta.target(), meta.level()) {
            return true;
        }
        let sdk = meta.target().starts_with("aws_sdk_") || meta.target().starts_with("aws_smithy_runtime");
        meta.is_span() && sdk && *meta.level() <= tracing::Level::DEBUG && cx.lookup_current().is_some()
    })
}

fn targets() -> Targets {
    Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target(TRACE_TARGET, LevelFilter::TRACE)
        .with_target("opentelemetry", LevelFilter::OFF)
        .with_target("opentelemetry_sdk", LevelFilter::OFF)
        .with_target("opentelemetry_otlp", LevelFilter::OFF)
        .with_target("tonic", LevelFilter::OFF)
        .with_target("h2", LevelFilter::OFF)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("hyper_util", LevelFilter::OFF)
        .with_target("reqwest", LevelFilter::OFF)
        .with_target("tower", LevelFilter::OFF)
}
