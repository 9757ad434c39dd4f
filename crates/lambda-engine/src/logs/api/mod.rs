//! The CloudWatch Logs API (JSON 1.1, `X-Amz-Target: Logs_20140328.<Operation>`) the engine
//! serves at `POST /` of its endpoint, beside its Lambda API; one file per group of
//! operations, as the SDKs and the AWS CLI call them.

pub mod error;
mod events;
mod groups;
mod live_tail;
mod streams;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::Engine;
use error::{LogsError, LogsResult};

/// What `X-Amz-Target` starts with for a CloudWatch Logs operation.
pub const TARGET_PREFIX: &str = "Logs_20140328.";

/// Runs the operation the `X-Amz-Target` header names.
pub async fn dispatch(State(engine): State<Engine>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
        // Not a CloudWatch Logs call at all (IAM's and STS's query protocol also POST to
        // `/`): answer as for any path the engine does not serve, a 404, so a client that
        // probes for IAM learns that this endpoint has none.
        return LogsError::not_served(&target).into_response();
    };
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    if operation == "StartLiveTail" {
        return match parse(body).and_then(|input| live_tail::start(engine, input)) {
            Ok(response) => response,
            Err(error) => error.into_response(),
        };
    }
    let engine_for_task = engine.clone();
    let operation_name = operation.to_string();
    let body = body.to_vec();
    // Reading files must not hold up the async workers.
    let answer = tokio::task::spawn_blocking(move || run(&engine_for_task, &operation_name, &body))
        .await
        .unwrap_or_else(|e| Err(LogsError::serialization(format!("operation failed: {e}"))));
    match answer {
        Ok(value) => {
            let mut response = value.to_string().into_response();
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
            response
        }
        Err(error) => error.into_response(),
    }
}

fn run(engine: &Engine, operation: &str, body: &[u8]) -> LogsResult {
    match operation {
        "CreateLogGroup" => groups::create(engine, parse(body)?),
        "DeleteLogGroup" => groups::delete(engine, parse(body)?),
        "DescribeLogGroups" => groups::describe(engine, parse(body)?),
        "PutRetentionPolicy" => groups::put_retention(engine, parse(body)?),
        "DeleteRetentionPolicy" => groups::delete_retention(engine, parse(body)?),
        "DescribeLogStreams" => streams::describe(engine, parse(body)?),
        "GetLogEvents" => events::get(engine, parse(body)?),
        "FilterLogEvents" => events::filter(engine, parse(body)?),
        other => Err(LogsError::unknown_operation(other)),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, LogsError> {
    serde_json::from_slice(body).map_err(|e| LogsError::serialization(format!("Could not parse the request: {e}")))
}

/// A log group named by `logGroupName` or `logGroupIdentifier` (a name or an ARN).
fn group_name(name: Option<String>, identifier: Option<String>) -> Result<String, LogsError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(LogsError::invalid_parameter(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(name), None) => Ok(name),
        (None, Some(id)) => Ok(match id.split_once(":log-group:") {
            Some((_, rest)) => rest.strip_suffix(":*").unwrap_or(rest).to_string(),
            None => id,
        }),
        (None, None) => Err(LogsError::invalid_parameter(
            "Should provide either name or ARN of the LogGroup.",
        )),
    }
}

/// A `limit` within `1..=max`, `default` when absent.
fn limit(value: Option<i64>, default: usize, max: usize) -> Result<usize, LogsError> {
    match value {
        None => Ok(default),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) => Err(LogsError::invalid_parameter(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

/// A page token that is an offset into a sorted listing.
fn offset_token(token: Option<&str>) -> Result<usize, LogsError> {
    token.map_or(Ok(0), |t| {
        t.strip_prefix("o/")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| LogsError::invalid_parameter("The specified nextToken is invalid."))
    })
}
