//! The durable executions' control plane (2025-12-01 paths), on the engine's signed API:
//! GetDurableExecution, GetDurableExecutionHistory, ListDurableExecutionsByFunction,
//! StopDurableExecution and SendDurableExecutionCallbackSuccess / Failure / Heartbeat.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Engine;
use crate::durable::checkpoint;
use crate::durable::history as events;
use crate::durable::model::{ExecutionRecord, ExecutionStatus, OperationStatus, now_ms, seconds};
use crate::error::{EngineError, EngineResult, ErrorKind};

/// Query parameters, repeated ones (`Statuses`) kept.
fn query(raw: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn flag(query: &[(String, String)], name: &str) -> Option<bool> {
    param(query, name).map(|v| v.eq_ignore_ascii_case("true"))
}

fn number(query: &[(String, String)], name: &str) -> EngineResult<Option<usize>> {
    param(query, name)
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| EngineError::invalid_parameter(format!("{name} must be a number")))
        })
        .transpose()
}

/// `GetDurableExecution`.
pub async fn get(
    State(engine): State<Engine>,
    Path(arn): Path<String>,
    RawQuery(raw): RawQuery,
) -> EngineResult<Response> {
    let query = query(raw);
    let include = flag(&query, "IncludeExecutionData").unwrap_or(true);
    let record = engine.durable.find(&arn)?.record.lock().clone();
    let mut body = summary(&engine, &record);
    if include {
        body["InputPayload"] = record.input_payload.clone().into();
        if let Some(result) = &record.result {
            body["Result"] = result.clone().into();
        }
    }
    body["ExecutionDataIncluded"] = include.into();
    if let Some(error) = &record.error {
        body["Error"] = error.clone();
    }
    body["Version"] = record.version.clone().into();
    body["DurableConfig"] = serde_json::to_value(&record.config).unwrap_or_default();
    if record.is_running() {
        body["ExpectedExecutionTimeoutTimestamp"] = seconds(record.timeout_at());
    }
    if let Some(trace) = &record.trace_header {
        body["TraceHeader"] = json!({"XAmznTraceId": trace});
    }
    Ok(Json(body).into_response())
}

/// An execution as `ListDurableExecutionsByFunction` lists it (`Execution`).
fn summary(engine: &Engine, record: &ExecutionRecord) -> Value {
    let mut body = json!({
        "DurableExecutionArn": record.arn,
        "DurableExecutionName": record.name,
        "FunctionArn": engine.location.qualified_arn(&record.function_name, &record.version),
        "Status": record.status.as_str(),
        "StartTimestamp": seconds(record.start_ms),
    });
    if let Some(end) = record.end_ms {
        body["EndTimestamp"] = seconds(end);
    }
    body
}

/// `GetDurableExecutionHistory`: its events, a page at a time, oldest first unless reversed.
pub async fn history(
    State(engine): State<Engine>,
    Path(arn): Path<String>,
    RawQuery(raw): RawQuery,
) -> EngineResult<Response> {
    let query = query(raw);
    let include = flag(&query, "IncludeExecutionData").unwrap_or(false);
    let reverse = flag(&query, "ReverseOrder").unwrap_or(false);
    let size = number(&query, "MaxItems")?.filter(|n| *n > 0).unwrap_or(1000);
    let start = number(&query, "Marker")?.unwrap_or(0);
    let record = engine.durable.find(&arn)?.record.lock().clone();
    let mut events: Vec<&Value> = record.history.iter().collect();
    if reverse {
        events.reverse();
    }
    let page: Vec<Value> = events
        .iter()
        .skip(start)
        .take(size)
        .map(|e| events::wire(e, include))
        .collect();
    let mut body = json!({"Events": page});
    if start + size < events.len() {
        body["NextMarker"] = (start + size).to_string().into();
    }
    Ok(Json(body).into_response())
}

/// `ListDurableExecutionsByFunction`, with its filters.
pub async fn list(
    State(engine): State<Engine>,
    Path(raw_name): Path<String>,
    RawQuery(raw): RawQuery,
) -> EngineResult<Response> {
    let query = query(raw);
    let (record, qualifier) =
        super::functions::lookup(&engine, &raw_name, param(&query, "Qualifier").map(str::to_string))?;
    let version = match qualifier.as_deref() {
        Some(q) => Some(record.resolve(Some(q))?.0.version.clone()),
        None => None,
    };
    let statuses: Vec<ExecutionStatus> = query
        .iter()
        .filter(|(k, _)| k == "Statuses")
        .map(|(_, v)| {
            ExecutionStatus::parse(v).ok_or_else(|| EngineError::invalid_parameter(format!("Unknown status: {v}")))
        })
        .collect::<EngineResult<_>>()?;
    let name = param(&query, "DurableExecutionName");
    let after = param(&query, "StartedAfter").map(timestamp_ms).transpose()?;
    let before = param(&query, "StartedBefore").map(timestamp_ms).transpose()?;
    let size = number(&query, "MaxItems")?.filter(|n| *n > 0).unwrap_or(1000);
    let start = number(&query, "Marker")?.unwrap_or(0);
    let mut records: Vec<ExecutionRecord> = engine
        .durable
        .of_function(&record.name)
        .into_iter()
        .filter(|r| version.as_ref().is_none_or(|v| &r.version == v))
        .filter(|r| statuses.is_empty() || statuses.contains(&r.status))
        .filter(|r| name.is_none_or(|n| r.name == n))
        .filter(|r| after.is_none_or(|t| r.start_ms > t))
        .filter(|r| before.is_none_or(|t| r.start_ms < t))
        .collect();
    if flag(&query, "ReverseOrder").unwrap_or(false) {
        records.reverse();
    }
    let page: Vec<Value> = records
        .iter()
        .skip(start)
        .take(size)
        .map(|r| summary(&engine, r))
        .collect();
    let mut body = json!({"DurableExecutions": page});
    if start + size < records.len() {
        body["NextMarker"] = (start + size).to_string().into();
    }
    Ok(Json(body).into_response())
}

/// A query timestamp: ISO 8601 (what the SDKs send) or epoch seconds.
fn timestamp_ms(text: &str) -> EngineResult<i64> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    text.parse::<f64>()
        .map(|s| (s * 1000.0) as i64)
        .map_err(|_| EngineError::invalid_parameter(format!("Invalid timestamp: {text}")))
}

/// An `ErrorObject` body (StopDurableExecution, SendDurableExecutionCallbackFailure); empty is none.
fn error_body(body: &[u8]) -> EngineResult<Option<Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .map(Some)
        .ok_or_else(|| EngineError::invalid_content("Could not parse request body into json"))
}

/// `StopDurableExecution`.
pub async fn stop(State(engine): State<Engine>, Path(arn): Path<String>, body: Bytes) -> EngineResult<Response> {
    let error = error_body(&body)?;
    let execution = engine.durable.find(&arn)?;
    let now = now_ms();
    {
        let mut record = execution.record.lock();
        if !record.is_running() {
            return Err(EngineError::invalid_parameter(format!(
                "Durable execution {arn} has already ended ({})",
                record.status.as_str()
            )));
        }
        checkpoint::finish(&mut record, ExecutionStatus::Stopped, None, error, now);
        execution.save(&record);
    }
    execution.wake.notify_one();
    Ok(Json(json!({"StopTimestamp": seconds(now)})).into_response())
}

/// How a callback is answered.
enum Answer {
    Success(Bytes),
    Failure(Option<Value>),
    Heartbeat,
}

async fn answer_callback(engine: &Engine, callback_id: &str, answer: Answer) -> EngineResult<Response> {
    let execution = engine.durable.by_callback(callback_id)?;
    let now = now_ms();
    {
        let mut record = execution.record.lock();
        let pending = record.callbacks.contains_key(callback_id);
        if !pending {
            let timed_out = record.operations.iter().any(|op| {
                op.status == OperationStatus::TimedOut
                    && op
                        .callback_details
                        .as_ref()
                        .is_some_and(|c| c.callback_id == callback_id)
            });
            return Err(match timed_out {
                true => EngineError::new(ErrorKind::CallbackTimeout, "Callback has timed out"),
                false => {
                    EngineError::invalid_parameter("Callback has already been completed or its execution has ended")
                }
            });
        }
        match answer {
            Answer::Heartbeat => {
                if let Some(timer) = record.callbacks.get_mut(callback_id)
                    && timer.heartbeat_seconds > 0
                {
                    timer.heartbeat_at = Some(now + (timer.heartbeat_seconds as i64) * 1000);
                }
            }
            Answer::Success(result) => {
                let result = String::from_utf8_lossy(&result).into_owned();
                checkpoint::complete_callback(
                    &mut record,
                    callback_id,
                    OperationStatus::Succeeded,
                    Some(result),
                    None,
                    now,
                );
            }
            Answer::Failure(error) => {
                checkpoint::complete_callback(&mut record, callback_id, OperationStatus::Failed, None, error, now);
            }
        }
        execution.save(&record);
    }
    execution.poke();
    Ok(Json(json!({})).into_response())
}

/// `SendDurableExecutionCallbackSuccess`: the body is the result, as it is.
pub async fn callback_success(
    State(engine): State<Engine>,
    Path(callback_id): Path<String>,
    body: Bytes,
) -> EngineResult<Response> {
    answer_callback(&engine, &callback_id, Answer::Success(body)).await
}

/// `SendDurableExecutionCallbackFailure`: the body is an `ErrorObject`.
pub async fn callback_failure(
    State(engine): State<Engine>,
    Path(callback_id): Path<String>,
    body: Bytes,
) -> EngineResult<Response> {
    let error = error_body(&body)?;
    answer_callback(&engine, &callback_id, Answer::Failure(error)).await
}

/// `SendDurableExecutionCallbackHeartbeat`.
pub async fn callback_heartbeat(
    State(engine): State<Engine>,
    Path(callback_id): Path<String>,
) -> EngineResult<Response> {
    answer_callback(&engine, &callback_id, Answer::Heartbeat).await
}
