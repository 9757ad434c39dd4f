//! Invoke on a durable function: starts (or, by name, re-attaches to) an execution. An
//! `Event` invocation answers at once with the execution's ARN; a `RequestResponse` one
//! waits for the execution to end (at most 15 minutes, as on AWS) and answers its result.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use super::model::{DurableConfig, ExecutionStatus};
use super::{Start, driver};
use crate::Engine;
use crate::error::{EngineError, EngineResult, ErrorKind};
use crate::model::FunctionVersion;
use lambda_rules::{InvocationType, MAX_ASYNC_PAYLOAD, MAX_SYNC_PAYLOAD};

/// The longest a synchronous invocation of a durable function waits, as on AWS.
const SYNC_WAIT: Duration = Duration::from_secs(15 * 60);

/// What Invoke answers for a durable function.
pub struct DurableInvoked {
    pub arn: String,
    pub status: u16,
    pub payload: Bytes,
    pub function_error: Option<&'static str>,
}

/// An Invoke of a durable function, as it arrived.
pub struct DurableInvoke<'a> {
    pub function: &'a str,
    pub version: &'a FunctionVersion,
    pub config: &'a DurableConfig,
    pub invocation_type: InvocationType,
    pub execution_name: Option<&'a str>,
    pub payload: Bytes,
    pub trace_header: Option<&'a str>,
}

/// Lambda's rule for execution names: 1 to 64 letters, digits, `-` and `_`.
pub fn validate_execution_name(name: &str) -> EngineResult<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(EngineError::invalid_parameter(format!(
            "1 validation error detected: Value '{name}' at 'durableExecutionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length between 1 and 64"
        )))
    }
}

impl Engine {
    pub(crate) async fn invoke_durable_function(&self, request: DurableInvoke<'_>) -> EngineResult<DurableInvoked> {
        if let Some(refusal) = &self.sandbox.refusal {
            return Err(EngineError::new(ErrorKind::InvalidRuntime, refusal.clone()));
        }
        let limit = match request.invocation_type {
            InvocationType::Event => MAX_ASYNC_PAYLOAD,
            _ => MAX_SYNC_PAYLOAD,
        };
        if request.payload.len() > limit {
            return Err(EngineError::too_large(format!(
                "Request must be smaller than {limit} bytes for the Invoke operation"
            )));
        }
        let payload = if request.payload.iter().all(u8::is_ascii_whitespace) {
            "{}".to_string()
        } else {
            let text = String::from_utf8(request.payload.to_vec())
                .map_err(|_| EngineError::invalid_content("Could not parse request body into json"))?;
            serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| {
                EngineError::invalid_content(format!(
                    "Could not parse request body into json: Could not parse payload into json: {e}"
                ))
            })?;
            text
        };
        let generated;
        let name = match request.execution_name {
            Some(name) => {
                validate_execution_name(name)?;
                name
            }
            None => {
                generated = uuid::Uuid::new_v4().to_string();
                &generated
            }
        };
        let (execution, created) = self.durable.start(Start {
            function_arn: &self.location.function_arn(request.function),
            function_name: request.function,
            version: &request.version.version,
            name,
            payload: &payload,
            config: request.config,
            trace_header: request.trace_header,
        })?;
        if created {
            driver::spawn(self, execution.clone());
        }
        let arn = execution.record.lock().arn.clone();
        if request.invocation_type == InvocationType::Event {
            return Ok(DurableInvoked {
                arn,
                status: 202,
                payload: Bytes::new(),
                function_error: None,
            });
        }
        let wait = SYNC_WAIT.min(Duration::from_secs(u64::from(request.config.execution_timeout())));
        let mut done = execution.done.subscribe();
        let _ = tokio::time::timeout(wait, done.wait_for(|done| *done)).await;
        let record = execution.record.lock().clone();
        let (payload, function_error) = match record.status {
            ExecutionStatus::Succeeded => (Bytes::from(record.result.unwrap_or_else(|| "null".into())), None),
            ExecutionStatus::Running => (
                error_document(
                    "DurableExecutionStillRunning",
                    &format!(
                        "The durable execution {arn} is still running after the synchronous invocation's limit; follow it with GetDurableExecution"
                    ),
                    None,
                ),
                Some("Unhandled"),
            ),
            _ => {
                let error = record.error.unwrap_or(Value::Null);
                let kind = error
                    .get("ErrorType")
                    .and_then(Value::as_str)
                    .unwrap_or(record.status.as_str());
                let message = error.get("ErrorMessage").and_then(Value::as_str).unwrap_or_default();
                (
                    error_document(kind, message, error.get("StackTrace")),
                    Some("Unhandled"),
                )
            }
        };
        Ok(DurableInvoked {
            arn,
            status: 200,
            payload,
            function_error,
        })
    }
}

/// A function error document, as Invoke answers a failed execution.
fn error_document(kind: &str, message: &str, trace: Option<&Value>) -> Bytes {
    let mut document = json!({"errorType": kind, "errorMessage": message});
    if let Some(trace) = trace {
        document["stackTrace"] = trace.clone();
    }
    Bytes::from(document.to_string())
}
