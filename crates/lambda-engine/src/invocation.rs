//! Invoke: resolve the version, take an execution environment (cold-starting one when
//! none is warm), hand it the event, and frame what it printed with the START / END /
//! REPORT lines AWS writes. Timeouts, crashes and oversized answers end as AWS ends them.

use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;

use super::Engine;
use super::environment::{EnvironmentSpec, ExecutionEnvironment, InvocationEnd, StartError};
use super::error::{EngineError, EngineResult, ErrorKind};
use super::model::FunctionVersion;
use super::runtime_api::{InvocationRequest, MAX_RESPONSE_BYTES, RuntimeReply};
use super::sandbox::Limits;
use lambda_rules::{FunctionRef, InvocationType, Language, MAX_ASYNC_PAYLOAD, MAX_CLIENT_CONTEXT, MAX_SYNC_PAYLOAD};

/// The log tail Lambda returns with `X-Amz-Log-Type: Tail`.
const LOG_TAIL_BYTES: usize = 4096;

/// An Invoke call as it arrived.
#[derive(Debug)]
pub struct InvokeRequest {
    pub function: FunctionRef,
    pub invocation_type: InvocationType,
    pub log_tail: bool,
    pub client_context_base64: Option<String>,
    /// The caller's `X-Amzn-Trace-Id`: the function's `_X_AMZN_TRACE_ID` continues it.
    pub trace_header: Option<String>,
    pub payload: Bytes,
}

/// What Invoke answers.
#[derive(Debug)]
pub struct InvokeOutcome {
    pub status: u16,
    pub request_id: String,
    pub executed_version: String,
    pub function_error: Option<&'static str>,
    pub payload: Bytes,
    /// Base64 of the last 4 KB of the log, when the caller asked for the tail.
    pub log_result: Option<String>,
}

/// One execution as the runtime finished it.
struct Execution {
    payload: Bytes,
    function_error: Option<&'static str>,
    log: Vec<String>,
}

impl Engine {
    /// Invoke, with AWS's validation, limits and invocation types.
    pub async fn invoke(&self, request: InvokeRequest) -> EngineResult<InvokeOutcome> {
        let name = &request.function.name;
        let version = self.functions.resolve(name, request.function.qualifier.as_deref())?;
        // Fail closed: a host that cannot contain user code runs none, and says why.
        if let Some(refusal) = &self.sandbox.refusal
            && request.invocation_type != InvocationType::DryRun
        {
            return Err(EngineError::new(ErrorKind::InvalidRuntime, refusal.clone()));
        }
        let limit = match request.invocation_type {
            InvocationType::Event => MAX_ASYNC_PAYLOAD,
            _ => MAX_SYNC_PAYLOAD,
        };
        if request.payload.len() > limit {
            let operation = if limit == MAX_ASYNC_PAYLOAD {
                "InvokeAsync"
            } else {
                "InvokeFunction"
            };
            return Err(EngineError::too_large(format!(
                "Request must be smaller than {limit} bytes for the {operation} operation"
            )));
        }
        let payload = event_payload(request.payload)?;
        let client_context = client_context(request.client_context_base64.as_deref())?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let arn = match &request.function.qualifier {
            Some(q) => self.location.qualified_arn(name, q),
            None => self.location.function_arn(name),
        };
        let invocation = InvocationRequest {
            request_id: request_id.clone(),
            payload,
            deadline_epoch_ms: 0,
            function_arn: arn,
            client_context,
            trace_id: function_trace_id(request.trace_header.as_deref()),
            durable: None,
        };
        let outcome = |status, function_error, payload, log_result| InvokeOutcome {
            status,
            request_id: request_id.clone(),
            executed_version: version.version.clone(),
            function_error,
            payload,
            log_result,
        };
        match request.invocation_type {
            InvocationType::DryRun => Ok(outcome(204, None, Bytes::new(), None)),
            InvocationType::Event => {
                let engine = self.clone();
                let (name, version) = (name.clone(), version.clone());
                self.background.spawn(async move {
                    match engine.execute(&name, &version, invocation).await {
                        Ok(execution) => {
                            tracing::info!(function = %name, error = ?execution.function_error, "event invocation finished")
                        }
                        Err(e) => tracing::warn!(function = %name, error = %e, "event invocation dropped"),
                    }
                });
                Ok(outcome(202, None, Bytes::new(), None))
            }
            InvocationType::RequestResponse => {
                let execution = self.execute(name, &version, invocation).await?;
                let tail = request.log_tail.then(|| log_tail(&execution.log));
                Ok(outcome(200, execution.function_error, execution.payload, tail))
            }
        }
    }

    /// Runs one invocation in an environment and frames its log; a 429 when every
    /// environment of the function stayed busy for the queue timeout, as AWS throttles.
    async fn execute(
        &self,
        name: &str,
        version: &FunctionVersion,
        mut invocation: InvocationRequest,
    ) -> EngineResult<Execution> {
        let request_id = invocation.request_id.clone();
        let timeout = Duration::from_secs(u64::from(version.timeout_seconds));
        let queue = Duration::from_secs(self.settings.queue_seconds);
        let Some(mut lease) = self.pools.acquire(name, &version.version, timeout, queue).await else {
            return Err(EngineError::too_many_requests("Rate Exceeded.", 1));
        };
        let cold_start = lease.environment().is_none().then(Instant::now);
        if cold_start.is_some() {
            match self.start_environment(name, version).await {
                Ok(environment) => lease.hold(environment),
                Err(why) => {
                    let message = why.to_string();
                    lease.release(false);
                    let kind = "Runtime.InvalidEntrypoint";
                    let log = vec![
                        format!("START RequestId: {request_id} Version: {}", version.version),
                        format!("{} {request_id} {kind}: {message}", timestamp()),
                        format!("END RequestId: {request_id}"),
                    ];
                    let payload = serde_json::json!({"errorType": kind, "errorMessage": message});
                    return Ok(Execution {
                        payload: Bytes::from(payload.to_string()),
                        function_error: Some("Unhandled"),
                        log,
                    });
                }
            }
        }
        let environment = lease.environment().expect("leased environment");
        let start_line = format!("START RequestId: {request_id} Version: {}", version.version);
        environment.log.note_request(&request_id);
        environment.log.write_now(std::slice::from_ref(&start_line));
        let started = Instant::now();
        invocation.deadline_epoch_ms = (chrono::Utc::now().timestamp_millis() as u64) + timeout.as_millis() as u64;
        let ending = environment.run(invocation, timeout).await;
        // A cold start's init phase ends when the runtime first asks for work; the
        // invocation's duration starts there, as AWS counts them.
        let initialized = environment.initialized_at();
        let init_duration = cold_start.map(|spawned| {
            initialized
                .unwrap_or_else(Instant::now)
                .saturating_duration_since(spawned)
        });
        let duration = initialized.map_or(started, |i| i.max(started)).elapsed();
        if matches!(ending, InvocationEnd::TimedOut) {
            environment.kill_and_wait().await;
        }
        environment.output.drain().await;
        let (printed, dropped) = environment.output.take();

        let mut log = vec![start_line];
        if dropped > 0 {
            log.push(format!("[{dropped} earlier lines of output were not kept]"));
        }
        log.extend(printed);
        // What the engine writes after the function's own lines goes to the stream too.
        let printed_end = log.len();
        let (payload, function_error, status, reusable) = conclude(ending, &request_id, version, &mut log);
        log.push(format!("END RequestId: {request_id}"));
        log.push(report_line(
            &request_id,
            version,
            duration,
            init_duration,
            environment.max_memory_used_mb(),
            status,
        ));
        environment.log.write_now(&log[printed_end..]);
        lease.note_timing(duration, init_duration);
        lease.release(reusable);
        Ok(Execution {
            payload,
            function_error,
            log,
        })
    }

    /// One invocation of a durable execution's handler with its durable event: the
    /// environment serves the execution's own checkpoint API while it runs. Answers the
    /// request id, the payload and the function error, if any.
    pub(crate) async fn invoke_durable(
        &self,
        name: &str,
        version: &str,
        event: Bytes,
        binding: crate::durable::data_plane::Binding,
        trace_header: Option<&str>,
    ) -> EngineResult<(String, Bytes, Option<&'static str>)> {
        let version = self.functions.resolve(name, Some(version))?;
        if let Some(refusal) = &self.sandbox.refusal {
            return Err(EngineError::new(ErrorKind::InvalidRuntime, refusal.clone()));
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let invocation = InvocationRequest {
            request_id: request_id.clone(),
            payload: event,
            deadline_epoch_ms: 0,
            function_arn: self.location.qualified_arn(name, &version.version),
            client_context: None,
            trace_id: function_trace_id(trace_header),
            durable: Some(binding),
        };
        let execution = self.execute(name, &version, invocation).await?;
        Ok((request_id, execution.payload, execution.function_error))
    }

    async fn start_environment(
        &self,
        name: &str,
        version: &FunctionVersion,
    ) -> Result<ExecutionEnvironment, StartError> {
        let language = Language::of(&version.runtime)
            .ok_or_else(|| super::runtimes::RuntimeUnavailable::Unknown(version.runtime.clone()))?;
        let interpreter = self.interpreters.for_language(language)?;
        let code_dir = self.code.unpacked(&self.functions.code_path(version)).await?;
        let aws = self.function_aws.of(name);
        let (credentials, notice) = match &aws.issuer {
            None => (None, None),
            Some(issuer) => match issuer.issue(&version.role, name).await {
                Ok(credentials) => (credentials, None),
                Err(why) => (
                    None,
                    Some(format!(
                        "lambda-steps: could not assume the execution role {} ({why}); this environment has no AWS credentials",
                        version.role
                    )),
                ),
            },
        };
        let sdk = self
            .sdks
            .for_language(language)
            .and_then(|sdk| sdk.module_dir.as_deref());
        ExecutionEnvironment::start(EnvironmentSpec {
            function_name: name,
            version: &version.version,
            runtime: &version.runtime,
            handler: &version.handler,
            memory_mb: version.memory_mb,
            region: &self.location.region,
            user_environment: &version.environment,
            language,
            interpreter,
            code_dir: &code_dir,
            runtime_dir: &self.runtime_dir,
            work_dir: &self.environments_dir,
            sandbox: &self.sandbox,
            limits: Limits {
                memory_mb: version.memory_mb,
                address_space_headroom_mb: self.settings.address_space_headroom_mb,
                cpu_seconds: self.settings.cpu_seconds,
                processes: self.settings.max_processes,
                file_size_mb: self.settings.file_size_mb,
                open_files: 1024,
                cap_address_space: !matches!(language, Language::Node | Language::Provided),
                tmp_mb: version.ephemeral_storage_mb,
            },
            logs: &self.logs,
            sdk,
            aws_endpoint_url: aws.endpoint_url.as_deref(),
            credentials: credentials.as_ref(),
            notice,
            durable: version.durable_config.is_some(),
        })
        .await
    }
}

/// The answer, function error, REPORT status and whether the environment may be reused.
fn conclude(
    ending: InvocationEnd,
    request_id: &str,
    version: &FunctionVersion,
    log: &mut Vec<String>,
) -> (Bytes, Option<&'static str>, Option<String>, bool) {
    let error = |kind: &str, message: String| {
        Bytes::from(serde_json::json!({"errorType": kind, "errorMessage": message}).to_string())
    };
    match ending {
        InvocationEnd::Reply(RuntimeReply::Response(body)) => (body, None, None, true),
        InvocationEnd::Reply(RuntimeReply::Error(body)) => {
            let kind = error_type(&body);
            (
                body,
                Some("Unhandled"),
                Some(format!("Status: error\tError Type: {kind}")),
                true,
            )
        }
        InvocationEnd::Reply(RuntimeReply::InitError(body)) => {
            let kind = error_type(&body);
            (
                body,
                Some("Unhandled"),
                Some(format!("Status: error\tError Type: {kind}")),
                false,
            )
        }
        InvocationEnd::Reply(RuntimeReply::ResponseTooLarge) => {
            let kind = "Function.ResponseSizeTooLarge";
            let message =
                format!("Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).");
            log.push(format!("{} {request_id} {message}", timestamp()));
            (
                error(kind, message),
                Some("Unhandled"),
                Some(format!("Status: error\tError Type: {kind}")),
                true,
            )
        }
        InvocationEnd::TimedOut => {
            let seconds = format!("{}.00", version.timeout_seconds);
            log.push(format!(
                "{} {request_id} Task timed out after {seconds} seconds",
                timestamp()
            ));
            let message = format!("RequestId: {request_id} Error: Task timed out after {seconds} seconds");
            (
                error("Sandbox.Timedout", message),
                Some("Unhandled"),
                Some("Status: timeout".into()),
                false,
            )
        }
        // The kernel's kill reaches the runtime under bubblewrap's init, which reports it as
        // an exit status: AWS's words are those of the kill.
        InvocationEnd::OutOfMemory => {
            let kind = "Runtime.OutOfMemory";
            let message = format!("RequestId: {request_id} Error: Runtime exited with error: signal: killed");
            log.push(message.clone());
            log.push(kind.to_string());
            (
                error(kind, message),
                Some("Unhandled"),
                Some(format!("Status: error\tError Type: {kind}")),
                false,
            )
        }
        InvocationEnd::Exited(how) => {
            let kind = "Runtime.ExitError";
            let message = format!("RequestId: {request_id} Error: {}", exit_reason(&how));
            // AWS's platform lines: the message, then the error type on a line of its own.
            log.push(message.clone());
            log.push(kind.to_string());
            (
                error(kind, message),
                Some("Unhandled"),
                Some(format!("Status: error\tError Type: {kind}")),
                false,
            )
        }
    }
}

/// AWS's words for a runtime that exited mid-invocation: a clean exit gave no reason, any
/// other is an error with Go's description of the status.
fn exit_reason(how: &str) -> String {
    match how {
        "exit status 0" => "Runtime exited without providing a reason".to_string(),
        how => format!("Runtime exited with error: {how}"),
    }
}

fn error_type(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errorType").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_else(|| "Unknown".into())
}

/// AWS's REPORT line: tab-separated fields, billed duration rounded up to the millisecond.
fn report_line(
    request_id: &str,
    version: &FunctionVersion,
    duration: Duration,
    init: Option<Duration>,
    max_memory_mb: u64,
    status: Option<String>,
) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {max_memory_mb} MB\t",
        ms.ceil() as u64,
        version.memory_mb
    );
    if let Some(init) = init {
        line.push_str(&format!("Init Duration: {:.2} ms\t", init.as_secs_f64() * 1000.0));
    }
    if let Some(status) = status {
        line.push_str(&status);
        line.push('\t');
    }
    line
}

/// The base64 of the last 4 KB of the log, as `X-Amz-Log-Result` carries it.
fn log_tail(log: &[String]) -> String {
    let text: String = log.iter().map(|l| format!("{l}\n")).collect();
    let bytes = text.as_bytes();
    let tail = &bytes[bytes.len().saturating_sub(LOG_TAIL_BYTES)..];
    base64::engine::general_purpose::STANDARD.encode(tail)
}

/// Lambda takes any JSON document as the event; an empty body is `{}`.
fn event_payload(payload: Bytes) -> EngineResult<Bytes> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        Ok(_) => Ok(payload),
        Err(e) => Err(EngineError::invalid_content(format!(
            "Could not parse request body into json: Could not parse payload into json: {e}"
        ))),
    }
}

/// The client context: base64 of a JSON object, at most 3,583 bytes encoded.
fn client_context(raw: Option<&str>) -> EngineResult<Option<String>> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.len() > MAX_CLIENT_CONTEXT {
        return Err(EngineError::invalid_parameter(format!(
            "Client context must be at most {MAX_CLIENT_CONTEXT} bytes when base64-encoded"
        )));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.is_object()))
        .ok_or_else(|| EngineError::invalid_parameter("Client context must be a valid Base64-encoded JSON object."))?;
    Ok(Some(decoded))
}

fn timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_keeps_the_last_4_kb() {
        let log: Vec<String> = (0..1000).map(|i| format!("line {i:04}")).collect();
        let tail = base64::engine::general_purpose::STANDARD
            .decode(log_tail(&log))
            .unwrap();
        assert_eq!(tail.len(), LOG_TAIL_BYTES);
        assert!(String::from_utf8_lossy(&tail).ends_with("line 0999\n"));
    }

    #[test]
    fn client_context_must_be_base64_json_object_within_limit() {
        let good = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"k":"v"}}"#);
        assert_eq!(
            client_context(Some(&good)).unwrap().as_deref(),
            Some(r#"{"custom":{"k":"v"}}"#)
        );
        assert!(client_context(Some("not base64!")).is_err());
        let too_long = "A".repeat(MAX_CLIENT_CONTEXT + 1);
        assert!(client_context(Some(&too_long)).is_err());
    }

    #[test]
    fn empty_event_is_an_empty_object_and_bad_json_is_refused() {
        assert_eq!(event_payload(Bytes::new()).unwrap(), Bytes::from_static(b"{}"));
        let err = event_payload(Bytes::from_static(b"{nope")).unwrap_err();
        assert_eq!(err.kind.aws_type(), "InvalidRequestContentException");
    }
}

/// The function's `_X_AMZN_TRACE_ID`, as Lambda gives it: the caller's trace when its
/// `X-Amzn-Trace-Id` names one (`Root=1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY`, with its
/// `Parent` and `Sampled`), else a fresh root, not sampled.
pub fn function_trace_id(header: Option<&str>) -> String {
    let field = |name: &str| {
        header?
            .split(';')
            .find_map(|part| part.trim().strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
    };
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let root = field("Root").filter(|root| {
        let parts: Vec<&str> = root.split('-').collect();
        matches!(parts.as_slice(), ["1", epoch, unique] if hex(epoch, 8) && hex(unique, 24))
    });
    match root {
        Some(root) => {
            let parent = field("Parent")
                .filter(|p| hex(p, 16))
                .map(|p| format!(";Parent={p}"))
                .unwrap_or_default();
            let sampled = field("Sampled")
                .filter(|s| s == "0" || s == "1")
                .unwrap_or_else(|| "0".into());
            format!("Root={root}{parent};Sampled={sampled}")
        }
        None => format!(
            "Root=1-{:08x}-{};Parent={};Sampled=0",
            chrono::Utc::now().timestamp(),
            &uuid::Uuid::new_v4().simple().to_string()[..24],
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        ),
    }
}

#[cfg(test)]
mod trace_id_tests {
    use super::function_trace_id;

    #[test]
    fn the_callers_trace_continues_and_a_fresh_root_is_made_without_one() {
        let caller = "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1";
        assert_eq!(function_trace_id(Some(caller)), caller);
        for absent in [None, Some("garbage"), Some("Root=1-xyz-abc")] {
            let fresh = function_trace_id(absent);
            assert!(fresh.starts_with("Root=1-") && fresh.ends_with(";Sampled=0"), "{fresh}");
            assert_ne!(fresh, function_trace_id(absent), "a new root each time");
        }
    }
}
