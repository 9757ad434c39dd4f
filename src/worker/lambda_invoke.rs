//! The `lambda_invoke` step: `claimed` (how long to wait: the function's own timeout), then
//! the Invoke every step ends with (`invoking`, `returned`; see `phases/invoke.rs`).

use std::time::{Duration, Instant};

use tracing::Instrument as _;

use super::phases::invoke::invoke_and_record;
use super::{Ending, StepContext};
use crate::domain::replay::RecordedFunction;
use crate::domain::run::RunErrorCode;
use crate::domain::step::{InvocationType, InvokeStep};
use crate::lambda::at_most_once::InvokeCall;

pub async fn run(ctx: &StepContext<'_>, step: &InvokeStep) -> Ending {
    // A durable function runs as an execution the step follows, not as one Invoke.
    if step.invocation_type != InvocationType::DryRun
        && super::durable_step::is_durable(ctx, &step.function_name, step.qualifier.as_deref())
            .instrument(ctx.phases.span())
            .await
    {
        // Not the run's own function: its log group holds every caller's lines.
        return super::durable_step::run(ctx, &step.function_name, step.qualifier.as_deref(), &step.payload, None)
            .await;
    }
    // What a replay needs of the function, from the configuration read for its timeout.
    let mut described = None;
    let timeout = match step.invocation_type {
        InvocationType::RequestResponse => {
            match function_timeout(ctx, &step.function_name, step.qualifier.as_deref())
                .instrument(ctx.phases.span())
                .await
            {
                Ok((function, recorded)) => {
                    described = recorded;
                    call_timeout(ctx, function)
                }
                // Lambda says there is no such function: nothing to invoke.
                Err(missing) => {
                    ctx.log.error(format!("Lambda has no such function: {missing}"));
                    return Ending::failed(RunErrorCode::LambdaError, missing.to_string());
                }
            }
        }
        // Lambda answers these at once, without running the function.
        InvocationType::Event | InvocationType::DryRun => QUICK_CALL,
    };
    let call = InvokeCall {
        function_name: step.function_name.clone(),
        qualifier: step.qualifier.clone(),
        invocation_type: step.invocation_type,
        payload: step.payload.to_string().into_bytes(),
        client_context_base64: step.client_context_base64(),
        timeout,
        trace_header: None,
    };
    let ending = invoke_and_record(ctx, call, None).await;
    super::replay::record::attach(ctx, described, ending).await
}

/// Lambda answered that the function to invoke does not exist; Lambda's message.
#[derive(Debug, thiserror::Error)]
#[error("ResourceNotFoundException: {message}")]
struct NoSuchFunction {
    message: String,
}

/// The wait of an asynchronous or dry-run call.
const QUICK_CALL: Duration = Duration::from_secs(60);
/// Lambda's longest function timeout, used when the function's own cannot be read.
const LONGEST_FUNCTION: Duration = Duration::from_secs(15 * 60);

/// How long to wait for a synchronous answer: the function's timeout plus the margin.
pub fn call_timeout(ctx: &StepContext<'_>, function: Duration) -> Duration {
    function.min(LONGEST_FUNCTION) + Duration::from_secs(ctx.worker.settings.invoke_timeout_margin_seconds)
}

/// The function's own timeout, from GetFunctionConfiguration, remembered for a minute
/// with what a replay needs of the same answer; the longest Lambda allows when it cannot
/// be read (no permission, say). Err when Lambda answers that the function does not exist.
async fn function_timeout(
    ctx: &StepContext<'_>,
    function: &str,
    qualifier: Option<&str>,
) -> Result<(Duration, Option<RecordedFunction>), NoSuchFunction> {
    let key = (
        ctx.run.project.clone(),
        function.to_string(),
        qualifier.map(str::to_string),
    );
    if let Some((at, timeout, recorded)) = ctx.worker.function_timeouts.lock().get(&key)
        && at.elapsed() < Duration::from_secs(60)
    {
        return Ok((*timeout, recorded.clone()));
    }
    let asked = ctx
        .lambda
        .clients
        .control
        .get_function_configuration()
        .function_name(function)
        .set_qualifier(qualifier.map(str::to_string))
        .send();
    let (timeout, recorded) = match tokio::time::timeout(Duration::from_secs(10), asked).await {
        Ok(Ok(config)) => (
            config
                .timeout()
                .map_or(LONGEST_FUNCTION, |t| Duration::from_secs(t.max(1) as u64)),
            Some(super::replay::record::described(function, &config)),
        ),
        Ok(Err(e))
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            let message =
                aws_sdk_lambda::error::ProvideErrorMetadata::message(e.as_service_error().expect("service error"))
                    .unwrap_or("Function not found")
                    .to_string();
            return Err(NoSuchFunction { message });
        }
        _ => (LONGEST_FUNCTION, None),
    };
    ctx.worker
        .function_timeouts
        .lock()
        .insert(key, (Instant::now(), timeout, recorded.clone()));
    Ok((timeout, recorded))
}
