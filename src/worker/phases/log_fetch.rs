//! The `returned` phase's read of the function's log: Lambda's 4 KB tail when it holds the
//! whole log, else the whole log of exactly this request from CloudWatch Logs (a span of
//! its own in the trace: `log fetch`).

use tracing::Instrument as _;

use crate::lambda::at_most_once::InvokeCall;
use crate::lambda::client::LambdaTarget;
use crate::lambda::full_log::{self, Arrival, FullLogError, Invocation, PrintedLine};
use crate::lambda::log_source::LogSource;
use crate::lambda::outcome;
use crate::telemetry::spans;
use crate::worker::StepContext;

/// The function's lines from Lambda's answer: the tail when it holds the whole log (its
/// START line), else the whole log of exactly this request from CloudWatch Logs. A local
/// endpoint (the engine) has the log at once, so there a whole tail is read again for its
/// print times, in the same narrow window; the tail is as good when it cannot be.
pub async fn tail_or_whole(
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
            log_source(ctx),
            invocation,
            Some(&outcome.function_log),
            // The whole tail is here already: only a local endpoint's lines, printed by this
            // host's clock moments ago, are worth looking for.
            Arrival::LOCAL,
        )
        .instrument(spans::log_fetch(&ctx.phases.span(), &function, Some(id)))
        .await
        {
            Ok(lines) if !lines.is_empty() => lines,
            _ => tail,
        }
    } else {
        tail
    }
}

/// The engine of this process is read in process; any other target through its API.
fn log_source<'a>(ctx: &'a StepContext<'_>) -> LogSource<'a> {
    match &ctx.lambda.local_logs {
        Some(local) => LogSource::InProcess(local),
        None => LogSource::Api(&ctx.lambda.clients.logs),
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
pub fn tail_lines(tail: Vec<String>) -> Vec<PrintedLine> {
    tail.into_iter()
        .map(|message| PrintedLine { time_ms: None, message })
        .collect()
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
            full_log::fetch(log_source(ctx), invocation, None, arrival)
                .instrument(spans::log_fetch(&ctx.phases.span(), &function, Some(id)))
                .await
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
