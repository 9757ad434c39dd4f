//! Invoke, at most once. Retried only when Lambda proved the function did not start: 429
//! throttling, 409 / ResourceNotReady while the function is not ready, or a connection
//! refused before the request went out; with exponential backoff and full jitter,
//! honouring `Retry-After`. Lambda's 4xx and its setup 5xx errors are refusals. Anything
//! else after the request may have gone out ends as `outcome_unknown` and is never sent
//! again.

use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeOutput};
use aws_sdk_lambda::primitives::Blob;
use rand::Rng;

use crate::domain::step::InvocationType;

/// One Invoke call's parameters.
#[derive(Debug, Clone)]
pub struct InvokeCall {
    pub function_name: String,
    pub qualifier: Option<String>,
    pub invocation_type: InvocationType,
    pub payload: Vec<u8>,
    pub client_context_base64: Option<String>,
    /// How long to wait for the answer: the function's own timeout plus a margin.
    pub timeout: Duration,
    /// The run's trace in X-Ray's form, sent as `X-Amzn-Trace-Id` (Lambda gives it to the
    /// function as `_X_AMZN_TRACE_ID`); None when traces are off.
    pub trace_header: Option<String>,
}

/// Why an Invoke did not produce an answer.
#[derive(Debug)]
pub enum InvokeFailure {
    /// The request may have reached Lambda; nobody can say whether the function ran.
    OutcomeUnknown(String),
    /// Lambda refused the call (not found, bad parameters, permissions...); it did not run.
    Refused { kind: String, message: String },
    /// Still throttled or not ready after every retry.
    GaveUp(String),
}

/// What the caller is told between attempts (for the run's log).
pub type RetryNotice<'a> = &'a (dyn Fn(String) + Send + Sync);

/// Retries allowed and the backoff between them.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    /// Full jitter over an exponential ceiling, never less than what `Retry-After` asked.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.base.saturating_mul(1 << retry.min(16)).min(self.cap);
        let jittered = Duration::from_millis(rand::rng().random_range(0..=ceiling.as_millis() as u64));
        jittered.max(retry_after.unwrap_or_default())
    }
}

/// Invokes until an answer, a refusal, or a failure that forbids trying again.
pub async fn invoke_at_most_once(
    client: &Client,
    call: &InvokeCall,
    policy: RetryPolicy,
    notice: RetryNotice<'_>,
) -> Result<InvokeOutput, InvokeFailure> {
    let mut retry = 0;
    loop {
        let request = client
            .invoke()
            .function_name(&call.function_name)
            .set_qualifier(call.qualifier.clone())
            .invocation_type(call.invocation_type.as_str().into())
            .log_type(aws_sdk_lambda::types::LogType::Tail)
            .set_client_context(call.client_context_base64.clone())
            .payload(Blob::new(call.payload.clone()))
            .customize()
            .mutate_request({
                let header = call.trace_header.clone();
                move |request| {
                    if let Some(header) = &header {
                        request.headers_mut().insert("X-Amzn-Trace-Id", header.clone());
                    }
                }
            })
            .config_override(
                aws_sdk_lambda::config::Builder::default().timeout_config(
                    aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(10))
                        .operation_timeout(call.timeout)
                        .build(),
                ),
            );
        let error = match request.send().await {
            Ok(output) => return Ok(output),
            Err(error) => error,
        };
        match classify(&error) {
            Verdict::Retry { why, retry_after } if retry < policy.max_retries => {
                let delay = policy.delay(retry, retry_after);
                notice(format!(
                    "{why}; trying again in {} ms (retry {} of {})",
                    delay.as_millis(),
                    retry + 1,
                    policy.max_retries
                ));
                tokio::time::sleep(delay).await;
                retry += 1;
            }
            Verdict::Retry { why, .. } => {
                return Err(InvokeFailure::GaveUp(format!("{why}; gave up after {retry} retries")));
            }
            Verdict::Refused { kind, message } => return Err(InvokeFailure::Refused { kind, message }),
            Verdict::Unknown(why) => return Err(InvokeFailure::OutcomeUnknown(why)),
        }
    }
}

/// Lambda's 5xx errors that it answers while setting the function up (network, KMS, EFS,
/// SnapStart, runtime): the handler never ran, so the run fails as refused, not with an
/// unknown outcome. They are not retried: setup fails the same way again.
const NEVER_STARTED: [&str; 19] = [
    "EC2AccessDeniedException",
    "EC2ThrottledException",
    "EC2UnexpectedException",
    "EFSMountConnectivityException",
    "EFSMountFailureException",
    "EFSMountTimeoutException",
    "ENILimitReachedException",
    "InvalidRuntimeException",
    "InvalidSecurityGroupIDException",
    "InvalidSubnetIDException",
    "InvalidZipFileException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
    "SnapStartException",
    "SnapStartNotReadyException",
    "SnapStartTimeoutException",
    "SubnetIPAddressLimitReachedException",
];

enum Verdict {
    Retry { why: String, retry_after: Option<Duration> },
    Refused { kind: String, message: String },
    Unknown(String),
}

fn classify(error: &SdkError<InvokeError, HttpResponse>) -> Verdict {
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let retry_after = service
                .raw()
                .headers()
                .get("retry-after")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(Duration::from_secs_f64);
            let err = service.err();
            let kind = ProvideErrorMetadata::code(err).unwrap_or("Unknown").to_string();
            let message = ProvideErrorMetadata::message(err).unwrap_or_default().to_string();
            match err {
                InvokeError::TooManyRequestsException(_) => Verdict::Retry {
                    why: format!("Lambda throttled the call (429 {kind}: {message})"),
                    retry_after,
                },
                InvokeError::ResourceNotReadyException(_) | InvokeError::ResourceConflictException(_) => {
                    Verdict::Retry {
                        why: format!("the function is not ready ({status} {kind}: {message})"),
                        retry_after,
                    }
                }
                _ if status >= 500 && !NEVER_STARTED.contains(&kind.as_str()) => {
                    Verdict::Unknown(format!("Lambda answered {status} {kind}: {message}"))
                }
                _ => Verdict::Refused { kind, message },
            }
        }
        SdkError::DispatchFailure(dispatch)
            if dispatch.as_connector_error().is_some_and(|e| refused_before_sending(e)) =>
        {
            Verdict::Retry {
                why: "the connection to Lambda was refused before the request went out".into(),
                retry_after: None,
            }
        }
        SdkError::ConstructionFailure(_) => Verdict::Refused {
            kind: "InvalidRequest".into(),
            message: format!("{}", DisplayErrorContext(error)),
        },
        other => Verdict::Unknown(format!(
            "the Invoke request may have reached Lambda but no answer came back ({})",
            DisplayErrorContext(other)
        )),
    }
}

/// A refused connection can only happen while connecting: nothing was sent.
fn refused_before_sending(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use parking_lot::Mutex;

    use aws_sdk_lambda::Client as Lambda;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::lambda::mock::{clients, http_answer, lost_responses};

    const POLICY: RetryPolicy = RetryPolicy {
        max_retries: 3,
        base: Duration::from_millis(100),
        cap: Duration::from_secs(1),
    };

    fn call() -> InvokeCall {
        InvokeCall {
            function_name: "step".into(),
            qualifier: None,
            invocation_type: InvocationType::RequestResponse,
            payload: b"{}".to_vec(),
            client_context_base64: None,
            timeout: Duration::from_secs(60),
            trace_header: None,
        }
    }

    /// Invokes once through `invoke_at_most_once`, returning its answer and its notices.
    async fn invoke(client: &Lambda) -> (Result<InvokeOutput, InvokeFailure>, Vec<String>) {
        let notices = Mutex::new(Vec::new());
        let notice = |line: String| notices.lock().push(line);
        let answer = invoke_at_most_once(client, &call(), POLICY, &notice).await;
        (answer, notices.into_inner())
    }

    fn answered() -> HttpResponse {
        http_answer(200, &[("x-amz-executed-version", "$LATEST")], r#"{"ok":true}"#)
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_by_this_loop_alone_honouring_retry_after() {
        let throttled = || {
            http_answer(
                429,
                &[("x-amzn-errortype", "TooManyRequestsException"), ("retry-after", "5")],
                r#"{"Type":"User","message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}"#,
            )
        };
        let rule = mock!(Lambda::invoke)
            .sequence()
            .http_response(throttled)
            .times(2)
            .http_response(answered)
            .build();
        let clients = clients(&[&rule]).await;
        let started = tokio::time::Instant::now();
        let (answer, notices) = invoke(&clients.invoke).await;
        let output = answer.expect("answered after two throttles");
        assert_eq!(output.payload().unwrap().as_ref(), br#"{"ok":true}"#);
        assert_eq!(rule.num_calls(), 3, "two throttled calls, then the answer");
        // Each retry is this loop's (the SDK's own retries are off for Invoke).
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(notices[0].starts_with("Lambda throttled the call (429 TooManyRequestsException"));
        assert!(
            started.elapsed() >= Duration::from_secs(10),
            "Retry-After: 5 was honoured"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_502_not_ready_is_retried_a_setup_502_refused_and_a_bare_502_unknown() {
        let not_ready = || {
            http_answer(
                502,
                &[("x-amzn-errortype", "ResourceNotReadyException")],
                r#"{"Type":"User","message":"The function is being created."}"#,
            )
        };
        let rule = mock!(Lambda::invoke)
            .sequence()
            .http_response(not_ready)
            .http_response(answered)
            .build();
        let (answer, notices) = invoke(&clients(&[&rule]).await.invoke).await;
        assert!(answer.is_ok(), "{notices:?}");
        assert_eq!(rule.num_calls(), 2);
        assert!(notices[0].starts_with("the function is not ready (502 ResourceNotReadyException"));

        // A 502 that names no Lambda error (a proxy's, say) may follow a run: not resent.
        let bad_gateway = mock!(Lambda::invoke).then_http_response(|| http_answer(502, &[], "Bad Gateway"));
        let (answer, notices) = invoke(&clients(&[&bad_gateway]).await.invoke).await;
        assert!(
            matches!(&answer, Err(InvokeFailure::OutcomeUnknown(why)) if why.contains("502")),
            "{answer:?}"
        );
        assert_eq!(bad_gateway.num_calls(), 1);
        assert!(notices.is_empty());

        // A 502 from setting the function up says the handler never ran: refused, once.
        let no_eni = mock!(Lambda::invoke).then_http_response(|| {
            http_answer(
                502,
                &[("x-amzn-errortype", "ENILimitReachedException")],
                r#"{"Type":"Server","message":"Lambda was not able to create an ENI in the VPC."}"#,
            )
        });
        let (answer, _) = invoke(&clients(&[&no_eni]).await.invoke).await;
        assert!(
            matches!(&answer, Err(InvokeFailure::Refused { kind, .. }) if kind == "ENILimitReachedException"),
            "{answer:?}"
        );
        assert_eq!(no_eni.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_lost_response_is_outcome_unknown_and_never_sent_again() {
        let (clients, sent) = lost_responses().await;
        let (answer, notices) = invoke(&clients.invoke).await;
        assert!(
            matches!(&answer, Err(InvokeFailure::OutcomeUnknown(why)) if why.contains("may have reached Lambda")),
            "{answer:?}"
        );
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 1, "sent once");
        assert!(notices.is_empty());
    }

    #[tokio::test]
    async fn a_missing_function_is_refused_not_retried() {
        let rule = mock!(Lambda::invoke).then_http_response(|| {
            http_answer(
                404,
                &[("x-amzn-errortype", "ResourceNotFoundException")],
                r#"{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:step"}"#,
            )
        });
        let (answer, _) = invoke(&clients(&[&rule]).await.invoke).await;
        assert!(
            matches!(&answer, Err(InvokeFailure::Refused { kind, .. }) if kind == "ResourceNotFoundException"),
            "{answer:?}"
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[test]
    fn backoff_grows_to_its_cap_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_retries: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        };
        for retry in 0..10 {
            assert!(policy.delay(retry, None) <= Duration::from_secs(2));
        }
        assert!(policy.delay(0, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
    }
}
