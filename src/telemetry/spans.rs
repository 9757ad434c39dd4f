//! The spans of a run's trace, named and described in one place (the operations guide's
//! tracing page lists them). Attributes follow the OpenTelemetry semantic conventions
//! where they have one (`http.*`, `faas.*`, `cloud.*`, `rpc.*`, `db.*`); the service's own
//! are `run.id`, `project`, `step.type`, `lambda_steps.phase`.
//!
//! ```text
//! POST                         server span of the submit (continues a caller's traceparent)
//! └─ submit run                the context kept in the queue row
//!    ├─ queue wait             from the submit to the claim
//!    └─ run                    the worker's, on whichever replica claimed it
//!       ├─ claimed             ... one span per phase (RunPhase), in order
//!       ├─ installing_packages
//!       ├─ creating
//!       ├─ invoking
//!       │  └─ Lambda Invoke    client span; X-Amzn-Trace-Id carries it into the function
//!       ├─ returned
//!       │  └─ log fetch        the function's whole log from CloudWatch Logs
//!       ├─ cleaned_up
//!       └─ queued          a run given back to the queue (its next claim is a new `run`)
//! ```

use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::TRACE_TARGET;
use crate::domain::run::RunPhase;

/// The server span of an HTTP request, continuing the caller's `traceparent` if it sent one.
pub fn http_request<B>(request: &axum::http::Request<B>) -> Span {
    let span = tracing::debug_span!(
        target: TRACE_TARGET,
        "http request",
        otel.name = %request.method(),
        otel.kind = "server",
        http.request.method = %request.method(),
        url.path = request.uri().path(),
        http.response.status_code = tracing::field::Empty,
    );
    if super::exporting()
        && let Some(parent) = super::context::from_headers(request.headers())
    {
        let _ = span.set_parent(parent);
    }
    span
}

/// Records the answer's status on the request's span.
pub fn http_response<B>(response: &axum::http::Response<B>, _latency: std::time::Duration, span: &Span) {
    span.record("http.response.status_code", response.status().as_u16());
}

/// The submit of one run: its context is what the run keeps in its queue row.
pub fn submit(project: &str, step_type: &str) -> Span {
    tracing::debug_span!(target: TRACE_TARGET, "submit run", project, step.type = step_type, run.id = tracing::field::Empty)
}

/// Makes the worker's `run` span a child of the submit's context kept in the queue row.
pub fn continue_run(span: &Span, traceparent: Option<&str>) {
    if super::exporting()
        && let Some(parent) = traceparent.and_then(super::context::parse)
    {
        let _ = span.set_parent(parent);
    }
}

/// The run's wait in the queue, from its submit to its claim: a span with those times,
/// made after the fact, beside the worker's `run` span under the submit.
pub fn queue_wait(traceparent: Option<&str>, submitted: chrono::DateTime<chrono::Utc>, run_id: uuid::Uuid) {
    if !super::exporting() {
        return;
    }
    let Some(parent) = traceparent.and_then(super::context::parse) else {
        return;
    };
    let tracer = opentelemetry::global::tracer_provider().tracer("lambda-steps");
    let mut span = tracer
        .span_builder("queue wait")
        .with_kind(SpanKind::Internal)
        .with_start_time(SystemTime::from(submitted))
        .with_attributes([
            KeyValue::new("run.id", run_id.to_string()),
            KeyValue::new("db.system.name", "postgresql"),
            KeyValue::new("messaging.operation.type", "receive"),
        ])
        .start_with_context(&tracer, &parent);
    span.end_with_timestamp(SystemTime::now());
}

/// One phase of a run, a child of its `run` span.
pub fn phase(run: &Span, phase: RunPhase) -> Span {
    let span = tracing::debug_span!(
        target: TRACE_TARGET,
        parent: run,
        "phase",
        otel.name = phase.as_str(),
        lambda_steps.phase = phase.as_str(),
        db.system.name = tracing::field::Empty,
    );
    // The claim is the queue's UPDATE ... SKIP LOCKED, and the project's settings read.
    if phase == RunPhase::Claimed {
        span.record("db.system.name", "postgresql");
    }
    span
}

/// The Invoke, a client span under the `invoking` phase; the AWS SDK's own spans nest in it.
pub fn invoke(parent: &Span, function: &str, qualifier: Option<&str>, invocation_type: &str, region: &str) -> Span {
    tracing::debug_span!(
        target: TRACE_TARGET,
        parent: parent,
        "Lambda Invoke",
        otel.kind = "client",
        rpc.system = "aws-api",
        rpc.service = "Lambda",
        rpc.method = "Invoke",
        cloud.provider = "aws",
        cloud.region = region,
        faas.invoked_provider = "aws",
        faas.invoked_name = function,
        faas.invoked_region = region,
        faas.invocation_type = invocation_type,
        faas.qualifier = qualifier,
        aws.request_id = tracing::field::Empty,
        faas.invocation_id = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

/// What Lambda answered, on the Invoke's span.
pub fn invoke_answered(span: &Span, status: i32, request_id: Option<&str>) {
    span.record("http.response.status_code", status);
    if let Some(id) = request_id {
        span.record("aws.request_id", id);
        span.record("faas.invocation_id", id);
    }
}

/// The Invoke got no answer to record.
pub fn invoke_failed(span: &Span) {
    span.record("otel.status_code", "ERROR");
}

/// Reading a function's whole log from CloudWatch Logs, under the `returned` phase.
pub fn log_fetch(parent: &Span, function: &str, request_id: Option<&str>) -> Span {
    tracing::debug_span!(
        target: TRACE_TARGET,
        parent: parent,
        "log fetch",
        otel.kind = "client",
        rpc.system = "aws-api",
        rpc.service = "CloudWatchLogs",
        faas.invoked_name = function,
        aws.request_id = request_id,
    )
}
