//! Invoke: `POST /2015-03-31/functions/{name}/invocations`, headers in and out as AWS.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::QualifierQuery;
use crate::durable::invoke::DurableInvoke;
use crate::error::{EngineError, EngineResult};
use crate::{Engine, InvokeRequest};
use lambda_rules::{FunctionRef, InvocationType};

pub async fn invoke(
    State(engine): State<Engine>,
    Path(raw): Path<String>,
    Query(q): Query<QualifierQuery>,
    headers: HeaderMap,
    payload: Bytes,
) -> EngineResult<Response> {
    let (record, qualifier) = super::functions::lookup(&engine, &raw, q.qualifier)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let invocation_type = InvocationType::parse(header("x-amz-invocation-type"))?;
    let execution_name = header("x-amz-durable-execution-name");
    let (version, _) = record.resolve(qualifier.as_deref())?;
    match &version.durable_config {
        Some(config) if invocation_type != InvocationType::DryRun => {
            let invoked = engine
                .invoke_durable_function(DurableInvoke {
                    function: &record.name,
                    version,
                    config,
                    invocation_type,
                    execution_name,
                    payload,
                    trace_header: header("x-amzn-trace-id"),
                })
                .await?;
            let mut response = (
                StatusCode::from_u16(invoked.status).unwrap_or(StatusCode::OK),
                invoked.payload,
            )
                .into_response();
            let out = response.headers_mut();
            let mut put = |name: &'static str, value: &str| {
                if let Ok(value) = HeaderValue::from_str(value) {
                    out.insert(name, value);
                }
            };
            put("content-type", "application/json");
            put("x-amzn-requestid", &uuid::Uuid::new_v4().to_string());
            put("x-amz-executed-version", &version.version);
            put("x-amz-durable-execution-arn", &invoked.arn);
            if let Some(error) = invoked.function_error {
                put("x-amz-function-error", error);
            }
            return Ok(response);
        }
        None if execution_name.is_some() => {
            return Err(EngineError::invalid_parameter(
                "A durable execution name can only be given when invoking a durable function (one with a DurableConfig).",
            ));
        }
        _ => {}
    }
    let request = InvokeRequest {
        function: FunctionRef {
            name: record.name,
            qualifier,
        },
        invocation_type,
        log_tail: header("x-amz-log-type") == Some("Tail"),
        client_context_base64: header("x-amz-client-context").map(str::to_string),
        trace_header: header("x-amzn-trace-id").map(str::to_string),
        payload,
    };
    let outcome = engine.invoke(request).await?;
    let mut response = (
        StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::OK),
        outcome.payload,
    )
        .into_response();
    let out = response.headers_mut();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            out.insert(name, value);
        }
    };
    put("content-type", "application/json");
    put("x-amzn-requestid", &outcome.request_id);
    put("x-amz-executed-version", &outcome.executed_version);
    if let Some(error) = outcome.function_error {
        put("x-amz-function-error", error);
    }
    if let Some(tail) = &outcome.log_result {
        put("x-amz-log-result", tail);
    }
    Ok(response)
}
