//! A `lambda_invoke` step on a durable function: the execution is started with the run's
//! id as its name, then followed through `GetDurableExecution` and
//! `GetDurableExecutionHistory` (each new event a line of the run's log) until it ends;
//! the run ends as it did. The name makes the Invoke idempotent (Lambda re-attaches to an
//! execution of that name and payload), so unlike a plain Invoke it is not marked as sent:
//! a run given back at shutdown, or rescued from a dead replica, re-attaches to the same
//! execution. Cancelling the run stops the execution. A `lambda_custom_code` step with
//! `durable: true` starts and follows its own function's execution the same way, and, since
//! the run owns that function, reads its printed lines into the run's log as well: whenever
//! the history moved, and once at the end (by FilterLogEvents, from where the run's log has
//! them, so a re-attaching attempt writes none twice).

mod callbacks;
mod events;

use std::time::{Duration, Instant};

use serde_json::Value;

use super::follow::{FollowPace, FunctionLog, GroupReader};
use super::phases::stopped::stopped;
use super::{Ending, StepContext};
use crate::domain::run::{FunctionErrorDetails, RunErrorCode, RunPhase, RunResult, RunStatus};
use crate::lambda::client::LambdaTarget;
use crate::lambda::durable::{DurableApi, DurableError};
use crate::queue::pool::StopReason;
use crate::store::logs;

/// Whether the function is durable (has a `DurableConfig`), remembered for a minute, as
/// is Lambda refusing to say; false when it cannot be told (then the step is a plain
/// Invoke, as before).
pub async fn is_durable(ctx: &StepContext<'_>, function: &str, qualifier: Option<&str>) -> bool {
    let key = (
        ctx.run.project.clone(),
        function.to_string(),
        qualifier.map(str::to_string),
    );
    if let Some((at, durable)) = ctx.worker.durable_functions.lock().get(&key)
        && at.elapsed() < Duration::from_secs(60)
    {
        return *durable;
    }
    let api = DurableApi::new(&ctx.lambda.clients, &ctx.lambda.target);
    let durable = match api.durable_config(function, qualifier).await {
        Ok(config) => config.is_some(),
        // Not found, no permission (a policy that allows only lambda:InvokeFunction), an
        // endpoint without the call...: the plain Invoke says what is wrong as it always
        // did, and the refusal is remembered as well, so such a function does not cost a
        // refused call before every run.
        Err(DurableError::Refused { .. }) => false,
        // Lambda out of reach: the plain Invoke says so, and the next run asks again.
        Err(DurableError::Unreachable(_)) => return false,
    };
    ctx.worker
        .durable_functions
        .lock()
        .insert(key, (Instant::now(), durable));
    durable
}

/// Starts (or re-attaches to) the function's execution named by the run's id, with
/// `payload` as its input, and follows it until it ends. `printed` names the log of a
/// function the run owns (custom code): its printed lines go into the run's log too.
pub async fn run(
    ctx: &StepContext<'_>,
    function: &str,
    qualifier: Option<&str>,
    payload: &Value,
    printed: Option<FunctionLog>,
) -> Ending {
    if ctx.stop.token.is_cancelled() {
        return stopped(ctx, "cancelled before the durable execution was started");
    }
    if ctx.worker.shutdown.is_cancelled() {
        return Ending::Released;
    }
    let api = DurableApi::new(&ctx.lambda.clients, &ctx.lambda.target);
    let name = ctx.run.id.to_string();
    ctx.phases.enter(RunPhase::Invoking);
    ctx.log.info(format!(
        "{} is a durable function: starting (or re-attaching to) its execution named {name}, the run's id",
        function
    ));
    let payload = payload.to_string().into_bytes();
    let arn = match api.start(function, qualifier, &name, &payload).await {
        Ok(arn) => arn,
        Err(e) => {
            ctx.log
                .error(format!("Lambda refused to start the durable execution: {e}"));
            return Ending::failed(RunErrorCode::LambdaError, e.to_string());
        }
    };
    ctx.log.info(format!("following durable execution {arn}"));
    let printed = match printed {
        Some(function) => Some(printed_lines(ctx, &function).await),
        None => None,
    };
    Follow {
        ctx,
        api: &api,
        arn: &arn,
        page: None,
        last_event: 0,
        callbacks: callbacks::Callbacks::default(),
        printed,
        printed_reads_due: 0,
    }
    .run()
    .await
}

/// The reader of the run's own function's log, from where the run's log has it: the
/// newest printed line an earlier attempt wrote, else the run's creation (the function is
/// the run's, so everything in its group since then is the run's).
async fn printed_lines(ctx: &StepContext<'_>, function: &FunctionLog) -> GroupReader {
    let since = match logs::newest_function_line(&ctx.worker.db, ctx.run.id).await {
        Ok(Some(newest)) => newest.timestamp_millis() + 1,
        Ok(None) => ctx.run.created_at.timestamp_millis(),
        // Nothing to go on: from a little before this attempt, as a plain Invoke follows.
        Err(_) => chrono::Utc::now().timestamp_millis() - 1_000,
    };
    let late = match ctx.lambda.target {
        LambdaTarget::Aws => FollowPace::AWS.late,
        LambdaTarget::Embedded(_) | LambdaTarget::Endpoint(_) => FollowPace::LOCAL.late,
    };
    GroupReader::new(ctx.lambda.clients.logs.clone(), ctx.log.clone(), function, since, late)
}

struct Follow<'a, 'c> {
    ctx: &'a StepContext<'c>,
    api: &'a DurableApi<'a>,
    arn: &'a str,
    /// The marker of the history page read last (None: the first page).
    page: Option<String>,
    /// The newest event written into the run's log (events are numbered from 1).
    last_event: u64,
    callbacks: callbacks::Callbacks,
    /// The function's printed lines, when the run owns the function.
    printed: Option<GroupReader>,
    /// Polls left that read the printed lines: set when the history moves (CloudWatch on
    /// AWS takes a line in a second or so after its print, so one read may be early).
    printed_reads_due: u8,
}

impl Follow<'_, '_> {
    async fn run(mut self) -> Ending {
        let every = match self.ctx.lambda.target {
            LambdaTarget::Aws => Duration::from_secs(2),
            LambdaTarget::Embedded(_) | LambdaTarget::Endpoint(_) => Duration::from_millis(200),
        };
        let mut faults = 0u32;
        loop {
            match self.poll().await {
                Ok(Some(execution)) => {
                    // The events written last come with the ending, and the lines printed
                    // last before it.
                    let _ = self.write_new_events().await;
                    self.read_printed(true).await;
                    return self.ended(&execution);
                }
                Ok(None) => {
                    faults = 0;
                    self.read_printed(false).await;
                }
                Err(e) if e.is_not_found() => {
                    self.ctx.log.error(format!("the durable execution is gone: {e}"));
                    return Ending::failed(RunErrorCode::LambdaError, e.to_string());
                }
                Err(e) => {
                    faults += 1;
                    if faults == 1 || faults.is_multiple_of(30) {
                        self.ctx
                            .log
                            .warn(format!("following the durable execution failed ({e}); trying again"));
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = self.ctx.stop.token.cancelled() => return self.stop().await,
                _ = self.ctx.worker.shutdown.cancelled() => {
                    return Ending::GivenBack(
                        "the service is shutting down while the durable execution runs: queued again; the next attempt re-attaches to the execution".into(),
                    );
                }
            }
        }
    }

    /// Writes the new events; answers the execution once it ended.
    async fn poll(&mut self) -> Result<Option<Value>, DurableError> {
        self.write_new_events().await?;
        let execution = self.api.get(self.arn).await?;
        Ok((execution["Status"].as_str() != Some("RUNNING")).then_some(execution))
    }

    /// Reads the function's printed lines when its history moved lately, or at the end
    /// (`last`); a log that cannot be read is said once and left.
    async fn read_printed(&mut self, last: bool) {
        let Some(reader) = self.printed.as_mut() else { return };
        if !last && self.printed_reads_due == 0 {
            return;
        }
        if last && matches!(self.ctx.lambda.target, LambdaTarget::Aws) {
            // The last invocation's lines reach CloudWatch a moment after it ends.
            tokio::time::sleep(FollowPace::AWS.interval * 2).await;
        }
        self.printed_reads_due = self.printed_reads_due.saturating_sub(1);
        if let Err(why) = reader.read().await {
            self.ctx
                .log
                .warn(format!("the function's printed lines cannot be read: {why}"));
            self.printed = None;
        }
    }

    /// Every event after the last one written, page by page.
    async fn write_new_events(&mut self) -> Result<(), DurableError> {
        loop {
            let page = self.api.history(self.arn, self.page.as_deref()).await?;
            for event in page["Events"].as_array().into_iter().flatten() {
                let id = event["EventId"].as_u64().unwrap_or(0);
                if id <= self.last_event {
                    continue;
                }
                self.last_event = id;
                self.printed_reads_due = 3;
                self.callbacks.before_line(self.ctx, event).await;
                let (level, line) = events::line(event);
                self.ctx.log.line(level, line);
                self.callbacks.after_line(self.ctx, event).await;
            }
            match page["NextMarker"].as_str() {
                Some(next) => self.page = Some(next.to_string()),
                None => return Ok(()),
            }
        }
    }

    /// The run was cancelled (the execution is stopped) or taken over (it is left running).
    async fn stop(&self) -> Ending {
        if self.ctx.stop.reason() == Some(StopReason::LeaseLost) {
            return stopped(self.ctx, "");
        }
        match self.api.stop(self.arn, "the run was cancelled").await {
            Ok(()) => self.ctx.log.info(format!("stopped durable execution {}", self.arn)),
            Err(e) => self
                .ctx
                .log
                .warn(format!("the durable execution could not be stopped: {e}")),
        }
        stopped(self.ctx, "cancelled; the durable execution was stopped")
    }

    /// The run's ending from the ended execution.
    fn ended(&self, execution: &Value) -> Ending {
        self.ctx.phases.enter(RunPhase::Returned);
        let status = execution["Status"].as_str().unwrap_or("UNKNOWN");
        let payload = execution["Result"]
            .as_str()
            .map(|text| serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())));
        let error = execution["Error"].as_object().map(|e| FunctionErrorDetails {
            kind: e.get("ErrorType").and_then(Value::as_str).map(str::to_string),
            message: e.get("ErrorMessage").and_then(Value::as_str).map(str::to_string),
            stack_trace: e
                .get("StackTrace")
                .and_then(Value::as_array)
                .map(|lines| lines.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
        });
        let result = RunResult {
            executed_version: execution["Version"].as_str().map(str::to_string),
            function_error: error.as_ref().and_then(|e| e.kind.clone()),
            payload,
            error: error.clone(),
            durable_execution_arn: Some(self.arn.to_string()),
            ..RunResult::default()
        };
        self.ctx.log.info(format!("the durable execution ended {status}"));
        let said = error
            .as_ref()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.kind.as_deref().unwrap_or("Error"),
                    e.message.as_deref().unwrap_or_default()
                )
            })
            .unwrap_or_else(|| format!("the durable execution ended {status}"));
        let (status, code) = match status {
            "SUCCEEDED" => (RunStatus::Succeeded, None),
            "TIMED_OUT" => (RunStatus::Failed, Some(RunErrorCode::TimedOut)),
            _ => (RunStatus::Failed, Some(RunErrorCode::FunctionError)),
        };
        Ending::Finished {
            status,
            result: Some(Box::new(result)),
            error: code.map(|code| crate::domain::run::RunError::new(code, said)),
        }
    }
}
