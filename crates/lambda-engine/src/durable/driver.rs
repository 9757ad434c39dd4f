//! Drives one execution: invokes its handler with the durable event (its ARN, a fresh
//! checkpoint token, the operations so far), reads the handler's answer (SUCCEEDED,
//! FAILED or PENDING), fires its timers, and invokes it again when something it waits for
//! happened, until the execution ends. One driver per running execution, and at most one
//! invocation of an execution at a time, as on AWS.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::data_plane::Binding;
use super::model::{Clock, ExecutionRecord, ExecutionStatus, OperationStatus, OperationType, now_ms, wire};
use super::{Execution, checkpoint, history, random_token};
use crate::{Engine, EngineInner};

/// Invocations that end in a function error (a crash, a timeout, an exception outside the
/// durable wrapper) are tried again this many times, then the execution fails.
const INVOCATION_RETRIES: u32 = 3;

/// The durable event carries operations up to about this size; the rest the SDK pages in
/// through `GetDurableExecutionState`.
const EVENT_OPERATIONS_BYTES: usize = 5 * 1024 * 1024;

/// How one invocation of the handler ended.
struct Ended {
    request_id: String,
    started_ms: i64,
    /// The handler's answer, or the function error's document (with its kind).
    answer: Result<Bytes, (Option<&'static str>, Bytes)>,
    /// Every environment of the function stayed busy: tried again, never counted as a failure.
    throttled: bool,
}

/// Starts the driver of `execution` (new, or found running after a restart).
pub fn spawn(engine: &Engine, execution: Arc<Execution>) {
    let weak = Arc::downgrade(&engine.0);
    let shutdown = engine.shutdown.clone();
    tokio::spawn(drive(weak, execution, shutdown));
}

async fn drive(engine: Weak<EngineInner>, execution: Arc<Execution>, shutdown: CancellationToken) {
    let mut in_flight: Option<tokio::task::JoinHandle<Ended>> = None;
    let mut failures = 0u32;
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        let (running, due) = {
            let mut record = execution.record.lock();
            let before = (record.seq, record.status);
            if checkpoint::fire_due(&mut record, now_ms()) {
                execution.dirty.store(true, Ordering::Release);
            }
            if (record.seq, record.status) != before {
                execution.save(&record);
            }
            (record.is_running(), checkpoint::next_due(&record))
        };
        if !running {
            execution.done.send_replace(true);
            if in_flight.is_none() {
                return;
            }
        }
        let may_invoke = retry_at.is_none_or(|at| at <= tokio::time::Instant::now());
        if running && in_flight.is_none() && may_invoke && execution.dirty.swap(false, Ordering::AcqRel) {
            let Some(inner) = engine.upgrade() else { return };
            retry_at = None;
            in_flight = Some(tokio::spawn(invoke_once(Engine(inner), execution.clone())));
        }
        let sleep_for = due
            .map(|at| Duration::from_millis((at - now_ms()).max(0) as u64))
            .unwrap_or(Duration::from_secs(3600));
        let sleep_until = match retry_at {
            Some(at) => at.min(tokio::time::Instant::now() + sleep_for),
            None => tokio::time::Instant::now() + sleep_for,
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = execution.wake.notified() => {}
            _ = tokio::time::sleep_until(sleep_until) => {}
            ended = async { in_flight.as_mut().expect("guarded").await }, if in_flight.is_some() => {
                in_flight = None;
                let Ok(ended) = ended else { continue };
                let throttled = ended.throttled;
                match conclude(&execution, ended) {
                    Verdict::Settled => failures = 0,
                    Verdict::Retry if throttled => {
                        retry_at = Some(tokio::time::Instant::now() + Duration::from_secs(1));
                        execution.dirty.store(true, Ordering::Release);
                    }
                    Verdict::Retry => {
                        failures += 1;
                        let delay = Duration::from_secs(1 << failures.min(5));
                        retry_at = Some(tokio::time::Instant::now() + delay);
                        execution.dirty.store(true, Ordering::Release);
                    }
                }
                if failures > INVOCATION_RETRIES {
                    let mut record = execution.record.lock();
                    let error = record.history.iter().rev().find_map(|e| e.pointer("/InvocationCompletedDetails/Error/Payload").cloned());
                    checkpoint::finish(&mut record, ExecutionStatus::Failed, None, error, now_ms());
                    execution.save(&record);
                }
            }
        }
    }
}

/// The durable event of one invocation; also gives the invocation its checkpoint token.
fn begin(record: &mut ExecutionRecord) -> Bytes {
    let token = random_token();
    record.checkpoint_token = Some(token.clone());
    record.seen_seq = record.seq;
    let mut operations = Vec::new();
    let mut size = 0;
    let mut next_marker = String::new();
    for (index, op) in record.operations.iter().enumerate() {
        let op = wire(op, Clock::Millis);
        size += op.to_string().len();
        if size > EVENT_OPERATIONS_BYTES && index > 0 {
            next_marker = index.to_string();
            break;
        }
        operations.push(op);
    }
    let event = json!({
        "DurableExecutionArn": record.arn,
        "CheckpointToken": token,
        "InitialExecutionState": {"Operations": operations, "NextMarker": next_marker},
    });
    Bytes::from(event.to_string())
}

async fn invoke_once(engine: Engine, execution: Arc<Execution>) -> Ended {
    let (function, version, arn, event, trace) = {
        let mut record = execution.record.lock();
        let event = begin(&mut record);
        execution.save(&record);
        (
            record.function_name.clone(),
            record.version.clone(),
            record.arn.clone(),
            event,
            record.trace_header.clone(),
        )
    };
    let started_ms = now_ms();
    let binding = Binding {
        arn,
        durable: engine.durable.clone(),
    };
    match engine
        .invoke_durable(&function, &version, event, binding, trace.as_deref())
        .await
    {
        Ok((request_id, payload, None)) => Ended {
            request_id,
            started_ms,
            answer: Ok(payload),
            throttled: false,
        },
        Ok((request_id, payload, Some(kind))) => Ended {
            request_id,
            started_ms,
            answer: Err((Some(kind), payload)),
            throttled: false,
        },
        Err(e) => Ended {
            request_id: String::new(),
            started_ms,
            throttled: e.kind == crate::error::ErrorKind::TooManyRequests,
            answer: Err((
                None,
                Bytes::from(json!({"errorType": e.kind.aws_type(), "errorMessage": e.message}).to_string()),
            )),
        },
    }
}

enum Verdict {
    Settled,
    Retry,
}

/// Reads the handler's answer into the execution.
fn conclude(execution: &Execution, ended: Ended) -> Verdict {
    let now = now_ms();
    let mut record = execution.record.lock();
    record.checkpoint_token = None;
    let mut details = json!({
        "StartTimestamp": ended.started_ms,
        "EndTimestamp": now,
        "RequestId": ended.request_id,
    });
    let verdict = match &ended.answer {
        Ok(payload) if record.is_running() => settle(&mut record, payload, now, execution),
        Ok(_) => Verdict::Settled,
        Err((_, document)) => {
            details["Error"] = history::error(Some(&error_object(document)));
            if record.is_running() {
                Verdict::Retry
            } else {
                Verdict::Settled
            }
        }
    };
    history::record(&mut record, "InvocationCompleted", None, now, details);
    execution.save(&record);
    verdict
}

/// A durable handler's output: `{"Status": "SUCCEEDED" | "FAILED" | "PENDING", ...}`.
fn settle(record: &mut ExecutionRecord, payload: &[u8], now: i64, execution: &Execution) -> Verdict {
    let output: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    match output.get("Status").and_then(Value::as_str) {
        Some("SUCCEEDED") => {
            let result = output.get("Result").and_then(Value::as_str).map(str::to_string);
            checkpoint::finish(record, ExecutionStatus::Succeeded, result, None, now);
        }
        Some("FAILED") => {
            let error = output.get("Error").cloned();
            checkpoint::finish(record, ExecutionStatus::Failed, None, error, now);
        }
        Some("PENDING") => {
            if !has_pending(record) && !execution.dirty.load(Ordering::Acquire) {
                let error = json!({"ErrorType": "InvalidParameterValueException", "ErrorMessage": "Cannot return PENDING status with no pending operations."});
                checkpoint::finish(record, ExecutionStatus::Failed, None, Some(error), now);
            }
        }
        _ => {
            let error = json!({
                "ErrorType": "Runtime.InvalidDurableOutput",
                "ErrorMessage": "The function's answer is not a durable execution output ({\"Status\": \"SUCCEEDED\" | \"FAILED\" | \"PENDING\"}); is its handler decorated with @durable_execution?",
            });
            checkpoint::finish(record, ExecutionStatus::Failed, None, Some(error), now);
        }
    }
    Verdict::Settled
}

/// Whether something the handler waits for can still happen on its own or from outside.
fn has_pending(record: &ExecutionRecord) -> bool {
    !record.callbacks.is_empty()
        || record.operations.iter().any(|op| {
            matches!(
                (op.kind, op.status),
                (OperationType::Wait, OperationStatus::Started)
                    | (OperationType::Step, OperationStatus::Pending | OperationStatus::Ready)
            )
        })
}

/// A function error document (`errorType`, `errorMessage`, `stackTrace`) as an `ErrorObject`.
pub fn error_object(document: &[u8]) -> Value {
    let doc: Value = serde_json::from_slice(document).unwrap_or(Value::Null);
    let mut error = json!({
        "ErrorType": doc.get("errorType").and_then(Value::as_str).unwrap_or("Runtime.Unknown"),
        "ErrorMessage": doc.get("errorMessage").and_then(Value::as_str).unwrap_or_default(),
    });
    if let Some(trace) = doc.get("stackTrace").filter(|t| t.is_array()) {
        error["StackTrace"] = trace.clone();
    }
    error
}
