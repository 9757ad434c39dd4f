//! The `lambda_invoke` step, and the Invoke every step ends with: marked as sent before it
//! goes out, never sent twice, stopped waiting for on cancel.

use std::time::{Duration, Instant};

use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::operation::invoke::InvokeOutput;

use super::follow::{FollowPace, Followed, Follower, FunctionLog};
use super::{Ending, StepContext};
use crate::domain::replay::RecordedFunction;
use crate::domain::run::RunErrorCode;
use crate::domain::step::{InvocationType, InvokeStep};
use crate::lambda::at_most_once::{InvokeCall, InvokeFailure, RetryPolicy, invoke_at_most_once};
use crate::lambda::client::LambdaTarget;
use crate::lambda::full_log::{self, Arrival, FullLogError, Invocation, PrintedLine};
use crate::lambda::outcome;
use crate::queue::pool::StopReason;

pub async fn run(ctx: &StepContext<'_>, step: &InvokeStep) -> Ending {
    // What a replay needs of the function, from the configuration read for its timeout.
    let mut described = None;
    let timeout = match step.invocation_type {
        InvocationType::RequestResponse => {
            match function_timeout(ctx, &step.function_name, step.qualifier.as_deref()).await {
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
    };
    let ending = invoke_and_record(ctx, &call, None).await;
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

/// Sends the Invoke (at most once) and turns the answer into the run's ending and log:
/// the one Invoke path every step ends with. `follow` names a function the run owns: its
/// log is followed live while the Invoke is in flight.
pub async fn invoke_and_record(ctx: &StepContext<'_>, call: &InvokeCall, follow: Option<FunctionLog>) -> Ending {
    let sent_at = chrono::Utc::now().timestamp_millis();
    // Following starts before the Invoke is marked sent: the wait for a Live Tail session
    // is not a time when a crash leaves the Invoke's fate unknown.
    let follower = match follow {
        Some(function) => {
            // A local endpoint (the engine, in process or not) has no quota to spare.
            let pace = match ctx.lambda.target {
                LambdaTarget::Aws => FollowPace::AWS,
                LambdaTarget::Embedded(_) | LambdaTarget::Endpoint(_) => FollowPace::LOCAL,
            };
            let logs = ctx.lambda.clients.logs.clone();
            Some(Follower::start(logs, ctx.log.clone(), function, sent_at, pace).await)
        }
        None => None,
    };
    if let Err(ending) = record_sending(ctx).await {
        if let Some(follower) = follower {
            follower.abandon();
        }
        return ending;
    }
    let started = Instant::now();
    let answer = match send(ctx, call).await {
        Ok(answer) => answer,
        Err(ending) => {
            match follower {
                // Another replica settled the run: nothing more of the function's output
                // belongs in its log from this one.
                Some(follower) if matches!(ending, Ending::LeaseLost) => follower.abandon(),
                // Cancelled: every line printed before the cancel is read, once.
                Some(follower) => {
                    follower.finish(None).await;
                }
                None => {}
            }
            return ending;
        }
    };
    let elapsed = started.elapsed().as_millis();
    match answer {
        Ok(output) => {
            crate::metrics::invoke_answered(started.elapsed().as_secs_f64());
            let followed = match follower {
                Some(follower) => Some(follower.finish(output.request_id()).await),
                None => None,
            };
            ctx.log
                .info(format!("Lambda answered {} in {elapsed} ms", output.status_code()));
            answered(ctx, call, &output, sent_at, followed).await
        }
        Err(failure) => {
            if let Some(follower) = follower {
                follower.finish(None).await;
            }
            failed(ctx, failure, elapsed)
        }
    }
}

/// Marks the Invoke as sent before it goes out, so it is never sent twice; Err with the
/// ending when it must not go out (cancelled, shutting down, lease lost, database away).
async fn record_sending(ctx: &StepContext<'_>) -> Result<(), Ending> {
    if ctx.stop.token.is_cancelled() {
        return Err(stopped(ctx, "cancelled before the Invoke was sent"));
    }
    if ctx.worker.shutdown.is_cancelled() {
        return Err(Ending::Released);
    }
    // Waits through database faults: the Invoke goes out only once it is recorded.
    let asked = Instant::now();
    match ctx.worker.writes.mark_invoke_sent(ctx.run.id, ctx.run.attempt).await {
        Ok(true) => {}
        Ok(false) => return Err(Ending::LeaseLost),
        // Nothing was sent: another attempt may send it.
        Err(e) => {
            return Err(Ending::Requeued(format!(
                "the Invoke could not be recorded before sending it ({e})"
            )));
        }
    }
    if asked.elapsed() > Duration::from_secs(1) {
        ctx.log.warn(format!(
            "the database was away; the Invoke was recorded after {:.1} s, when it answered again",
            asked.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

/// Sends the Invoke with the retry policy; Err with the ending when the run is stopped
/// while it waits.
async fn send(ctx: &StepContext<'_>, call: &InvokeCall) -> Result<Result<InvokeOutput, InvokeFailure>, Ending> {
    let qualifier = call
        .qualifier
        .as_deref()
        .map(|q| format!(" qualifier {q}"))
        .unwrap_or_default();
    ctx.log.info(format!(
        "invoking {} ({}{qualifier})",
        call.function_name,
        call.invocation_type.as_str()
    ));
    let policy = RetryPolicy {
        max_retries: ctx.worker.settings.invoke_retries,
        base: Duration::from_millis(200),
        cap: Duration::from_secs(20),
    };
    let log = ctx.log.clone();
    let notice = move |message: String| log.warn(message);
    tokio::select! {
        answer = invoke_at_most_once(&ctx.lambda.clients.invoke, call, policy, &notice) => Ok(answer),
        _ = ctx.stop.token.cancelled() => {
            Err(stopped(ctx, "cancelled while the function ran; it is no longer waited for"))
        }
    }
}

/// Lambda answered: the function's log (whole when the tail was cut), what the service
/// read in the answer, and the run's outcome.
async fn answered(
    ctx: &StepContext<'_>,
    call: &InvokeCall,
    output: &InvokeOutput,
    sent_at: i64,
    followed: Option<Followed>,
) -> Ending {
    let outcome = outcome::from_output(output, call.invocation_type);
    let function_log = match followed {
        // Every printed line is in the log already.
        Some(Followed::Complete) => Vec::new(),
        Some(Followed::Incomplete { last: Some(last) }) => {
            ctx.log
                .warn("[the function's log did not reach its REPORT line in time; the rest from Lambda's 4 KB tail]");
            // The tail's lines after the last one followed; the whole tail when it has not
            // that line (then some may be there twice).
            let tail = outcome.function_log.clone();
            let after = tail.iter().rposition(|l| *l == last).map_or(0, |i| i + 1);
            tail_lines(tail[after..].to_vec())
        }
        _ => tail_or_whole(ctx, call, &outcome, sent_at).await,
    };
    for line in function_log {
        ctx.log.function_line(line.time(), line.message);
    }
    for (level, line) in outcome.log {
        ctx.log.line(level, line);
    }
    Ending::Finished {
        status: outcome.status,
        result: Some(Box::new(outcome.result)),
        error: outcome.error,
    }
}

/// The function's lines from Lambda's answer: the tail when it holds the whole log (its
/// START line), else the whole log of exactly this request from CloudWatch Logs. A local
/// endpoint (the engine) has the log at once, so there a whole tail is read again for its
/// print times, in the same narrow window; the tail is as good when it cannot be.
async fn tail_or_whole(
    ctx: &StepContext<'_>,
    call: &InvokeCall,
    outcome: &outcome::Outcome,
    sent_at: i64,
) -> Vec<PrintedLine> {
    let tail = tail_lines(outcome.function_log.clone());
    let local = !matches!(ctx.lambda.target, LambdaTarget::Aws);
    if outcome.result.log_tail_truncated {
        whole_log(ctx, call, outcome.result.request_id.as_deref(), sent_at, tail).await
    } else if local
        && !tail.is_empty()
        && let Some(id) = outcome.result.request_id.as_deref()
    {
        let function = function_name(call);
        let invocation = Invocation {
            function: &function,
            request_id: id,
            sent_ms: sent_at,
            answered_ms: chrono::Utc::now().timestamp_millis(),
        };
        match full_log::fetch(
            &ctx.lambda.clients.logs,
            invocation,
            Some(&outcome.function_log),
            // The whole tail is here already: only a local endpoint's lines, printed by this
            // host's clock moments ago, are worth looking for.
            Arrival::LOCAL,
        )
        .await
        {
            Ok(lines) if !lines.is_empty() => lines,
            _ => tail,
        }
    } else {
        tail
    }
}

/// How the target's CloudWatch Logs gets a function's lines.
fn arrival(ctx: &StepContext<'_>) -> Arrival {
    match ctx.lambda.target {
        LambdaTarget::Aws => Arrival::AWS,
        LambdaTarget::Embedded(_) => Arrival::LOCAL,
        LambdaTarget::Endpoint(_) => Arrival::ENDPOINT,
    }
}

/// The function's name, without a qualifier or ARN around it.
fn function_name(call: &InvokeCall) -> String {
    lambda_rules::FunctionRef::parse(&call.function_name)
        .map(|f| f.name)
        .unwrap_or_else(|_| call.function_name.clone())
}

/// The 4 KB tail's lines: Lambda gives no print times with them.
fn tail_lines(tail: Vec<String>) -> Vec<PrintedLine> {
    tail.into_iter()
        .map(|message| PrintedLine { time_ms: None, message })
        .collect()
}

/// Lambda gave no answer to record: the run fails, saying whether it may have run.
fn failed(ctx: &StepContext<'_>, failure: InvokeFailure, elapsed: u128) -> Ending {
    match failure {
        InvokeFailure::OutcomeUnknown(why) => {
            ctx.log.error(format!(
                "outcome unknown after {elapsed} ms: {why}; it is not sent again"
            ));
            Ending::failed(RunErrorCode::OutcomeUnknown, why)
        }
        InvokeFailure::Refused { kind, message } => {
            ctx.log.error(format!("Lambda refused the Invoke: {kind}: {message}"));
            Ending::failed(RunErrorCode::LambdaError, format!("{kind}: {message}"))
        }
        InvokeFailure::GaveUp(why) => {
            ctx.log.error(why.clone());
            Ending::failed(RunErrorCode::Throttled, why)
        }
    }
}

/// Lambda's tail was cut: the whole log from CloudWatch Logs where the credentials allow
/// it, else the tail, with a line saying why.
async fn whole_log(
    ctx: &StepContext<'_>,
    call: &InvokeCall,
    request_id: Option<&str>,
    sent_at_ms: i64,
    tail: Vec<PrintedLine>,
) -> Vec<PrintedLine> {
    let function = function_name(call);
    let arrival = arrival(ctx);
    let fetched = match request_id {
        None => Err(FullLogError::NoRequestId),
        Some(id) => {
            let invocation = Invocation {
                function: &function,
                request_id: id,
                sent_ms: sent_at_ms,
                answered_ms: chrono::Utc::now().timestamp_millis(),
            };
            full_log::fetch(&ctx.lambda.clients.logs, invocation, None, arrival).await
        }
    };
    match fetched {
        Ok(lines) if !lines.is_empty() => {
            ctx.log
                .info("[Lambda's 4 KB log tail was cut; the whole log, from CloudWatch Logs:]");
            lines
        }
        Ok(_) => {
            ctx.log.warn("[the start of the function's log was cut: Lambda returns only its last 4 KB; CloudWatch Logs had no more]");
            tail
        }
        Err(why) => {
            ctx.log.warn(format!(
                "[the start of the function's log was cut: Lambda returns only its last 4 KB; the whole log could not be read from CloudWatch Logs: {why}]"
            ));
            tail
        }
    }
}

/// The ending of a step stopped from outside: by cancel, or by losing its lease.
pub fn stopped(ctx: &StepContext<'_>, when: &str) -> Ending {
    match ctx.stop.reason() {
        Some(StopReason::LeaseLost) => {
            ctx.log
                .warn("this worker lost the run's lease; another worker settles it");
            Ending::LeaseLost
        }
        _ => {
            ctx.log.warn(when.to_string());
            Ending::cancelled(when.to_string())
        }
    }
}
