//! Trace contexts as text: the W3C `traceparent` a run keeps in its queue row and takes
//! from a submit's header, and the X-Ray `X-Amzn-Trace-Id` an Invoke carries to Lambda.

use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The trace id (32 lowercase hex digits) of a `traceparent` (`00-TRACE-SPAN-FLAGS`).
pub fn trace_id_of(traceparent: &str) -> Option<String> {
    let context = parse(traceparent)?;
    Some(context.span().span_context().trace_id().to_string())
}

/// The context a `traceparent` names, as a remote parent; None when it is not one.
pub fn parse(traceparent: &str) -> Option<Context> {
    let carrier = std::collections::HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    context.span().span_context().is_valid().then_some(context)
}

/// The context of an HTTP request's `traceparent` (and `tracestate`) headers.
pub fn from_headers(headers: &axum::http::HeaderMap) -> Option<Context> {
    let carrier: std::collections::HashMap<String, String> = ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|name| Some((name.to_string(), headers.get(name)?.to_str().ok()?.to_string())))
        .collect();
    carrier.contains_key("traceparent").then_some(())?;
    let context = TraceContextPropagator::new().extract(&carrier);
    context.span().span_context().is_valid().then_some(context)
}

/// The `traceparent` of a span, when it is part of an exported trace.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    if !super::exporting() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| format_traceparent(&span_context))
}

fn format_traceparent(context: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().to_u8()
    )
}

/// X-Ray's form of a span's context, as Lambda takes it in `X-Amzn-Trace-Id` and gives it
/// to the function in `_X_AMZN_TRACE_ID`: the root is the W3C trace id cut after its first
/// 8 digits (X-Ray's epoch part), the parent is the span.
pub fn xray_header(span: &tracing::Span) -> Option<String> {
    if !super::exporting() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| xray_of(&span_context))
}

fn xray_of(context: &SpanContext) -> String {
    let trace = context.trace_id().to_string();
    format!(
        "Root=1-{}-{};Parent={};Sampled={}",
        &trace[..8],
        &trace[8..],
        context.span_id(),
        u8::from(context.is_sampled())
    )
}

/// The W3C trace id of an X-Ray `Root=1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY` field.
pub fn trace_id_of_xray(header: &str) -> Option<String> {
    let root = header.split(';').find_map(|field| field.trim().strip_prefix("Root="))?;
    let mut parts = root.split('-');
    let (version, epoch, unique) = (parts.next()?, parts.next()?, parts.next()?);
    (version == "1" && epoch.len() == 8 && unique.len() == 24).then(|| format!("{epoch}{unique}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_reads_back_its_trace_id_and_xray_carries_the_same() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            trace_id_of(traceparent).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        let context = parse(traceparent).unwrap();
        let span_context = context.span().span_context().clone();
        assert_eq!(format_traceparent(&span_context), traceparent);
        let xray = xray_of(&span_context);
        assert_eq!(
            xray,
            "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"
        );
        assert_eq!(
            trace_id_of_xray(&xray).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(trace_id_of("not a traceparent"), None);
        assert_eq!(trace_id_of_xray("Root=1-abc"), None);
    }
}
