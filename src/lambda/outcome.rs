//! What Lambda answered, turned into a run's status, result and log lines: the decoded
//! log tail, the payload (pretty JSON), and the function's error document.

use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::operation::invoke::InvokeOutput;
use base64::Engine as _;

use crate::domain::run::{FunctionErrorDetails, LogLevel, RunError, RunErrorCode, RunResult, RunStatus};
use crate::domain::step::InvocationType;

/// A finished invocation, ready to record.
#[derive(Debug)]
pub struct Outcome {
    pub status: RunStatus,
    pub result: RunResult,
    pub error: Option<RunError>,
    /// What the function printed, as Lambda's 4 KB tail has it.
    pub function_log: Vec<String>,
    /// The service's lines after it: the result, or the function's error.
    pub log: Vec<(LogLevel, String)>,
}

/// Reads an Invoke answer the way a user wants to see it.
pub fn from_output(output: &InvokeOutput, invocation_type: InvocationType) -> Outcome {
    let mut log = Vec::new();
    let tail = output
        .log_result()
        .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).to_string())
        .unwrap_or_default();
    // The tail is the last 4 KB: when it does not start at START, the beginning was cut.
    let truncated = !tail.is_empty() && !tail.starts_with("START RequestId:");
    let function_log = tail.lines().map(str::to_string).collect();

    let payload_bytes = output.payload().map(|p| p.as_ref().to_vec()).unwrap_or_default();
    // What the function answered is kept as it can be stored (see domain::json::storable).
    let payload = (!payload_bytes.is_empty()).then(|| {
        crate::domain::json::storable(
            serde_json::from_slice::<serde_json::Value>(&payload_bytes)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&payload_bytes).to_string())),
        )
    });
    let function_error = output.function_error().map(str::to_string);
    let error_details = function_error.as_ref().map(|_| error_document(payload.as_ref()));
    let mut result = RunResult {
        status_code: Some(output.status_code()),
        executed_version: output.executed_version().map(str::to_string),
        request_id: output.request_id().map(str::to_string),
        function_error: function_error.clone(),
        payload: payload.clone(),
        error: error_details.clone(),
        duration_ms: duration_from_report(&tail),
        log_tail_truncated: truncated,
        function: None,
        durable_execution_arn: None,
    };

    let (status, error) = match (invocation_type, &error_details) {
        (InvocationType::Event, _) => {
            log.push((
                LogLevel::Info,
                format!(
                    "Lambda accepted the event ({}); that says it is queued, not that the function ran or succeeded",
                    output.status_code()
                ),
            ));
            (RunStatus::Succeeded, None)
        }
        (InvocationType::DryRun, _) => {
            log.push((
                LogLevel::Info,
                "DryRun: the parameters and permissions are valid; the function did not run".into(),
            ));
            (RunStatus::Succeeded, None)
        }
        (_, None) => {
            if let Some(payload) = &payload {
                log.push((LogLevel::Info, "result:".into()));
                let pretty = serde_json::to_string_pretty(payload).unwrap_or_default();
                log.extend(pretty.lines().map(|l| (LogLevel::Info, l.to_string())));
            }
            (RunStatus::Succeeded, None)
        }
        (_, Some(details)) => {
            let kind = details.kind.clone().unwrap_or_else(|| "Unknown".into());
            let message = details.message.clone().unwrap_or_default();
            log.push((LogLevel::Error, format!("the function failed: {kind}: {message}")));
            log.extend(
                details
                    .stack_trace
                    .iter()
                    .map(|frame| (LogLevel::Error, frame.trim_end().to_string())),
            );
            let timed_out = kind == "Sandbox.Timedout" || message.contains("Task timed out after");
            let (status, code) = if timed_out {
                (RunStatus::TimedOut, RunErrorCode::TimedOut)
            } else {
                (RunStatus::Failed, RunErrorCode::FunctionError)
            };
            (status, Some(RunError::new(code, format!("{kind}: {message}"))))
        }
    };
    if result.function_error.is_none() {
        result.error = None;
    }
    Outcome {
        status,
        result,
        error,
        function_log,
        log,
    }
}

/// `errorType`, `errorMessage` and `stackTrace` (Python, Ruby) or `trace` (Node.js).
fn error_document(payload: Option<&serde_json::Value>) -> FunctionErrorDetails {
    let field = |name: &str| {
        payload
            .and_then(|p| p.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let frames = payload
        .and_then(|p| p.get("stackTrace").or_else(|| p.get("trace")))
        .and_then(|t| t.as_array())
        .map(|frames| frames.iter().filter_map(|f| f.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    FunctionErrorDetails {
        kind: field("errorType"),
        message: field("errorMessage").or_else(|| payload.and_then(|p| p.as_str()).map(str::to_string)),
        stack_trace: frames,
    }
}

/// `Duration: 12.34 ms` from the REPORT line, rounded up.
fn duration_from_report(tail: &str) -> Option<u64> {
    let report = tail.lines().rev().find(|l| l.starts_with("REPORT RequestId:"))?;
    let after = report.split("\tDuration: ").nth(1)?;
    let ms: f64 = after.split(' ').next()?.parse().ok()?;
    Some(ms.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_lambda::primitives::Blob;

    fn output(payload: &str, function_error: Option<&str>, tail: &str) -> InvokeOutput {
        InvokeOutput::builder()
            .status_code(200)
            .payload(Blob::new(payload))
            .set_function_error(function_error.map(str::to_string))
            .log_result(base64::engine::general_purpose::STANDARD.encode(tail))
            .executed_version("$LATEST")
            .build()
    }

    #[test]
    fn a_success_logs_the_tail_and_the_pretty_result() {
        let tail = "START RequestId: r Version: $LATEST\nhi\nEND RequestId: r\nREPORT RequestId: r\tDuration: 3.21 ms\tBilled Duration: 4 ms\t\n";
        let out = from_output(&output(r#"{"ok":true}"#, None, tail), InvocationType::RequestResponse);
        assert_eq!(out.status, RunStatus::Succeeded);
        assert_eq!(out.result.duration_ms, Some(4));
        assert!(!out.result.log_tail_truncated);
        assert!(out.function_log.contains(&"hi".to_string()));
        let lines: Vec<&str> = out.log.iter().map(|(_, l)| l.as_str()).collect();
        assert!(lines.contains(&"  \"ok\": true"), "{lines:?}");
    }

    #[test]
    fn function_errors_fail_and_timeouts_time_out() {
        let failed = from_output(
            &output(
                r#"{"errorType":"ValueError","errorMessage":"bad","stackTrace":["  File x"]}"#,
                Some("Unhandled"),
                "x",
            ),
            InvocationType::RequestResponse,
        );
        assert_eq!(failed.status, RunStatus::Failed);
        assert_eq!(failed.error.as_ref().unwrap().code, RunErrorCode::FunctionError);
        assert_eq!(failed.result.error.as_ref().unwrap().stack_trace, ["  File x"]);
        assert!(failed.result.log_tail_truncated, "a tail not starting at START was cut");
        let timed_out = from_output(
            &output(
                r#"{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: r Error: Task timed out after 1.00 seconds"}"#,
                Some("Unhandled"),
                "",
            ),
            InvocationType::RequestResponse,
        );
        assert_eq!(timed_out.status, RunStatus::TimedOut);
    }
}
