//! What a checkpoint does to an execution: each `OperationUpdate` moves one operation
//! (START, SUCCEED, FAIL, RETRY, CANCEL) as Lambda's durable service does, and the timers
//! it starts (a wait's end, a step's next attempt, a callback's timeouts) are kept in the
//! operations themselves, so that a restarted engine finds them. Also the changes from
//! outside: a timer firing, a callback answered, the execution stopped.

use serde_json::{Value, json};

use super::history;
use super::model::{
    CallbackDetails, CallbackTimer, ContextDetails, ExecutionRecord, ExecutionStatus, Operation, OperationAction,
    OperationStatus, OperationType, OperationUpdate, StepDetails, WaitDetails,
};

/// Why a checkpoint is refused (an `InvalidParameterValueException`).
pub type Refusal = String;

/// Applies a checkpoint's updates in order; answers whether one of them ended the execution.
pub fn apply(
    execution: &mut ExecutionRecord,
    updates: &[OperationUpdate],
    now: i64,
    mut new_callback_id: impl FnMut() -> String,
) -> Result<bool, Refusal> {
    for update in updates {
        check(execution, update)?;
    }
    let mut completed = false;
    for update in updates {
        match update.kind {
            OperationType::Execution => {
                let (status, result, error) = match update.action {
                    OperationAction::Succeed => (ExecutionStatus::Succeeded, update.payload.clone(), None),
                    _ => (ExecutionStatus::Failed, None, update.error.clone()),
                };
                finish(execution, status, result, error, now);
                completed = true;
            }
            OperationType::Step => step(execution, update, now),
            OperationType::Wait => wait(execution, update, now),
            OperationType::Callback => callback(execution, update, now, new_callback_id()),
            OperationType::Context => context(execution, update, now),
            OperationType::ChainedInvoke => unreachable!("refused by check"),
        }
    }
    Ok(completed)
}

fn check(execution: &ExecutionRecord, update: &OperationUpdate) -> Result<(), Refusal> {
    use OperationAction::*;
    let allowed: &[OperationAction] = match update.kind {
        OperationType::Execution => &[Succeed, Fail],
        OperationType::Step => &[Start, Succeed, Fail, Retry],
        OperationType::Wait => &[Start, Cancel],
        OperationType::Callback => &[Start],
        OperationType::Context => &[Start, Succeed, Fail],
        OperationType::ChainedInvoke => {
            return Err("Chained invokes (context.invoke) are not emulated by the embedded Lambda engine.".into());
        }
    };
    if !allowed.contains(&update.action) {
        return Err(format!("Invalid action for {} operation.", kind_name(update.kind)));
    }
    if update.id.is_empty() || update.id.len() > 64 {
        return Err("Operation Id must be 1 to 64 characters.".into());
    }
    if let Some(existing) = execution.operation(&update.id) {
        if existing.kind != update.kind {
            return Err(format!(
                "Operation {} is a {} operation, not a {} operation.",
                update.id,
                kind_name(existing.kind),
                kind_name(update.kind)
            ));
        }
        if existing.status.is_terminal() {
            return Err(format!("Operation {} has already completed.", update.id));
        }
    }
    Ok(())
}

/// A type as the API names it (`STEP`, `WAIT`...).
fn kind_name(kind: OperationType) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The operation `update` names, created (STARTED, now) if it is new; its seq is bumped.
fn touch<'a>(execution: &'a mut ExecutionRecord, update: &OperationUpdate, now: i64) -> &'a mut Operation {
    execution.seq += 1;
    let seq = execution.seq;
    if execution.operation(&update.id).is_none() {
        execution.operations.push(Operation {
            parent_id: update.parent_id.clone(),
            name: update.name.clone(),
            sub_type: update.sub_type.clone(),
            ..Operation::started(update.id.clone(), update.kind, now, seq)
        });
    }
    let op = execution.operation_mut(&update.id).expect("just ensured");
    op.seq = seq;
    op
}

/// Marks an operation changed (for the next checkpoint's answer).
pub fn bump(execution: &mut ExecutionRecord, id: &str) {
    execution.seq += 1;
    let seq = execution.seq;
    if let Some(op) = execution.operation_mut(id) {
        op.seq = seq;
    }
}

fn end(op: &mut Operation, status: OperationStatus, now: i64) {
    op.status = status;
    if status.is_terminal() {
        op.end_timestamp.get_or_insert(now);
    }
}

fn step(execution: &mut ExecutionRecord, update: &OperationUpdate, now: i64) {
    let op = touch(execution, update, now);
    let details = op.step_details.get_or_insert_with(StepDetails::default);
    let event = match update.action {
        OperationAction::Start => {
            op.status = OperationStatus::Started;
            "StepStarted"
        }
        OperationAction::Retry => {
            let delay = update
                .step_options
                .as_ref()
                .and_then(|o| o.next_attempt_delay_seconds)
                .unwrap_or(0);
            details.attempt += 1;
            details.next_attempt_timestamp = Some(now + (delay as i64) * 1000);
            details.result = update.payload.clone();
            details.error = update.error.clone();
            op.status = OperationStatus::Pending;
            "StepFailed"
        }
        OperationAction::Succeed => {
            details.attempt += 1;
            details.result = update.payload.clone();
            end(op, OperationStatus::Succeeded, now);
            "StepSucceeded"
        }
        _ => {
            details.attempt += 1;
            details.error = update.error.clone();
            end(op, OperationStatus::Failed, now);
            "StepFailed"
        }
    };
    let op = op.clone();
    let details = op.step_details.clone().unwrap_or_default();
    let retry = json!({
        "CurrentAttempt": details.attempt,
        "NextAttemptDelaySeconds": update.step_options.as_ref().and_then(|o| o.next_attempt_delay_seconds).unwrap_or(0),
    });
    let body = match event {
        "StepStarted" => json!({}),
        "StepSucceeded" => json!({"Result": history::payload(details.result.as_deref()), "RetryDetails": retry}),
        _ => json!({"Error": history::error(details.error.as_ref()), "RetryDetails": retry}),
    };
    history::record(execution, event, Some(&op), now, body);
}

fn wait(execution: &mut ExecutionRecord, update: &OperationUpdate, now: i64) {
    let op = touch(execution, update, now);
    let (event, body) = match update.action {
        OperationAction::Start => {
            let seconds = update.wait_options.as_ref().and_then(|o| o.wait_seconds).unwrap_or(1);
            let end_at = now + (seconds as i64) * 1000;
            op.wait_details = Some(WaitDetails {
                scheduled_end_timestamp: Some(end_at),
            });
            op.status = OperationStatus::Started;
            (
                "WaitStarted",
                json!({"Duration": seconds, "ScheduledEndTimestamp": end_at}),
            )
        }
        _ => {
            end(op, OperationStatus::Cancelled, now);
            ("WaitCancelled", json!({"Error": history::error(update.error.as_ref())}))
        }
    };
    let op = op.clone();
    history::record(execution, event, Some(&op), now, body);
}

fn callback(execution: &mut ExecutionRecord, update: &OperationUpdate, now: i64, callback_id: String) {
    let options = update.callback_options.as_ref();
    let timeout = options.and_then(|o| o.timeout_seconds).unwrap_or(0);
    let heartbeat = options.and_then(|o| o.heartbeat_timeout_seconds).unwrap_or(0);
    let op = touch(execution, update, now);
    op.status = OperationStatus::Started;
    op.callback_details = Some(CallbackDetails {
        callback_id: callback_id.clone(),
        result: None,
        error: None,
    });
    let op = op.clone();
    execution.callbacks.insert(
        callback_id.clone(),
        CallbackTimer {
            operation_id: op.id.clone(),
            timeout_at: (timeout > 0).then(|| now + (timeout as i64) * 1000),
            heartbeat_seconds: heartbeat,
            heartbeat_at: (heartbeat > 0).then(|| now + (heartbeat as i64) * 1000),
        },
    );
    history::record(
        execution,
        "CallbackStarted",
        Some(&op),
        now,
        json!({"CallbackId": callback_id, "Timeout": timeout, "HeartbeatTimeout": heartbeat}),
    );
}

fn context(execution: &mut ExecutionRecord, update: &OperationUpdate, now: i64) {
    let op = touch(execution, update, now);
    let replay_children = update.context_options.as_ref().and_then(|o| o.replay_children);
    let (event, body) = match update.action {
        OperationAction::Start => {
            op.status = OperationStatus::Started;
            ("ContextStarted", json!({}))
        }
        OperationAction::Succeed => {
            op.context_details = Some(ContextDetails {
                replay_children,
                result: update.payload.clone(),
                error: None,
            });
            end(op, OperationStatus::Succeeded, now);
            (
                "ContextSucceeded",
                json!({"Result": history::payload(update.payload.as_deref())}),
            )
        }
        _ => {
            op.context_details = Some(ContextDetails {
                replay_children,
                result: None,
                error: update.error.clone(),
            });
            end(op, OperationStatus::Failed, now);
            ("ContextFailed", json!({"Error": history::error(update.error.as_ref())}))
        }
    };
    let op = op.clone();
    history::record(execution, event, Some(&op), now, body);
}

/// Ends the execution (its EXECUTION operation too); the running invocation's token is spent.
pub fn finish(
    execution: &mut ExecutionRecord,
    status: ExecutionStatus,
    result: Option<String>,
    error: Option<Value>,
    now: i64,
) {
    if !execution.is_running() {
        return;
    }
    execution.status = status;
    execution.end_ms = Some(now);
    execution.result = result.clone();
    execution.error = error.clone();
    execution.checkpoint_token = None;
    execution.callbacks.clear();
    let id = execution.id.clone();
    bump(execution, &id);
    let op_status = match status {
        ExecutionStatus::Succeeded => OperationStatus::Succeeded,
        ExecutionStatus::Failed => OperationStatus::Failed,
        ExecutionStatus::TimedOut => OperationStatus::TimedOut,
        _ => OperationStatus::Stopped,
    };
    if let Some(op) = execution.operation_mut(&id) {
        end(op, op_status, now);
    }
    let (event, body) = match status {
        ExecutionStatus::Succeeded => (
            "ExecutionSucceeded",
            json!({"Result": history::payload(result.as_deref())}),
        ),
        ExecutionStatus::Failed => ("ExecutionFailed", json!({"Error": history::error(error.as_ref())})),
        ExecutionStatus::TimedOut => ("ExecutionTimedOut", json!({"Error": history::error(error.as_ref())})),
        _ => ("ExecutionStopped", json!({"Error": history::error(error.as_ref())})),
    };
    history::record(execution, event, None, now, body);
}

/// Completes what is due at `now`: waits whose time came, steps whose next attempt may
/// start, callbacks past their timeout or heartbeat, the execution past its own timeout.
/// Answers whether the handler has something new to see.
pub fn fire_due(execution: &mut ExecutionRecord, now: i64) -> bool {
    if !execution.is_running() {
        return false;
    }
    if now >= execution.timeout_at() {
        let seconds = execution.config.execution_timeout();
        let error = json!({"ErrorType": "Execution.Timeout", "ErrorMessage": format!("Execution timed out after {seconds} seconds.")});
        finish(execution, ExecutionStatus::TimedOut, None, Some(error), now);
        return false;
    }
    let mut changed = Vec::new();
    for op in &mut execution.operations {
        match (op.kind, op.status) {
            (OperationType::Wait, OperationStatus::Started)
                if op
                    .wait_details
                    .as_ref()
                    .and_then(|w| w.scheduled_end_timestamp)
                    .is_some_and(|at| at <= now) =>
            {
                end(op, OperationStatus::Succeeded, now);
                changed.push((op.id.clone(), "WaitSucceeded"));
            }
            (OperationType::Step, OperationStatus::Pending)
                if op
                    .step_details
                    .as_ref()
                    .and_then(|s| s.next_attempt_timestamp)
                    .is_some_and(|at| at <= now) =>
            {
                op.status = OperationStatus::Ready;
                changed.push((op.id.clone(), ""));
            }
            _ => {}
        }
    }
    let expired: Vec<(String, &str)> = execution
        .callbacks
        .iter()
        .filter_map(|(id, timer)| {
            if timer.timeout_at.is_some_and(|at| at <= now) {
                Some((id.clone(), "Callback.Timeout"))
            } else if timer.heartbeat_at.is_some_and(|at| at <= now) {
                Some((id.clone(), "Callback.Heartbeat"))
            } else {
                None
            }
        })
        .collect();
    let mut woke = !changed.is_empty() || !expired.is_empty();
    for (callback_id, kind) in expired {
        let message = match kind {
            "Callback.Timeout" => "Callback timed out",
            _ => "Callback timed out on heartbeat",
        };
        let error = json!({"ErrorType": kind, "ErrorMessage": message});
        complete_callback(
            execution,
            &callback_id,
            OperationStatus::TimedOut,
            None,
            Some(error),
            now,
        );
    }
    for (id, event) in changed {
        bump(execution, &id);
        if !event.is_empty() {
            let op = execution.operation(&id).cloned();
            let duration = op
                .as_ref()
                .map(|o| (now - o.start_timestamp).max(0) / 1000)
                .unwrap_or(0);
            history::record(execution, event, op.as_ref(), now, json!({"Duration": duration}));
        }
    }
    woke &= execution.is_running();
    woke
}

/// Completes a callback (succeeded, failed or timed out); answers false when it is not
/// waiting (already completed or unknown).
pub fn complete_callback(
    execution: &mut ExecutionRecord,
    callback_id: &str,
    status: OperationStatus,
    result: Option<String>,
    error: Option<Value>,
    now: i64,
) -> bool {
    let Some(timer) = execution.callbacks.remove(callback_id) else {
        return false;
    };
    bump(execution, &timer.operation_id);
    let Some(op) = execution.operation_mut(&timer.operation_id) else {
        return false;
    };
    let details = op.callback_details.get_or_insert_with(CallbackDetails::default);
    details.result = result.clone();
    details.error = error.clone();
    end(op, status, now);
    let op = op.clone();
    let (event, body) = match status {
        OperationStatus::Succeeded => (
            "CallbackSucceeded",
            json!({"Result": history::payload(result.as_deref())}),
        ),
        OperationStatus::Failed => ("CallbackFailed", json!({"Error": history::error(error.as_ref())})),
        _ => ("CallbackTimedOut", json!({"Error": history::error(error.as_ref())})),
    };
    history::record(execution, event, Some(&op), now, body);
    true
}

/// The earliest moment something of the execution falls due (its own timeout at the latest).
pub fn next_due(execution: &ExecutionRecord) -> Option<i64> {
    if !execution.is_running() {
        return None;
    }
    let waits = execution.operations.iter().filter_map(|op| match (op.kind, op.status) {
        (OperationType::Wait, OperationStatus::Started) => op.wait_details.as_ref()?.scheduled_end_timestamp,
        (OperationType::Step, OperationStatus::Pending) => op.step_details.as_ref()?.next_attempt_timestamp,
        _ => None,
    });
    let callbacks = execution
        .callbacks
        .values()
        .flat_map(|t| [t.timeout_at, t.heartbeat_at])
        .flatten();
    waits
        .chain(callbacks)
        .chain(std::iter::once(execution.timeout_at()))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::model::DurableConfig;

    fn execution() -> ExecutionRecord {
        let config = DurableConfig {
            execution_timeout: Some(100),
            retention_period_in_days: Some(1),
            kms_key_arn: None,
        };
        let start = crate::durable::Start {
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f",
            function_name: "f",
            version: "$LATEST",
            name: "n",
            payload: "{}",
            config: &config,
            trace_header: None,
        };
        ExecutionRecord::new(&start, "x", 0)
    }

    fn update(json: serde_json::Value) -> OperationUpdate {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_wait_ends_when_its_time_comes_and_not_before() {
        let mut e = execution();
        let wait = update(json!({"Id": "w", "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": 2}}));
        assert!(!apply(&mut e, &[wait], 1_000, || "cb".into()).unwrap());
        assert_eq!(next_due(&e), Some(3_000));
        assert!(!fire_due(&mut e, 2_999));
        assert_eq!(e.operation("w").unwrap().status, OperationStatus::Started);
        assert!(fire_due(&mut e, 3_000));
        assert_eq!(e.operation("w").unwrap().status, OperationStatus::Succeeded);
    }

    #[test]
    fn a_retried_step_is_pending_until_its_next_attempt_then_ready() {
        let mut e = execution();
        let retry = update(
            json!({"Id": "s", "Type": "STEP", "Action": "RETRY", "StepOptions": {"NextAttemptDelaySeconds": 5}}),
        );
        apply(&mut e, &[retry], 0, || "cb".into()).unwrap();
        let step = e.operation("s").unwrap();
        assert_eq!(step.status, OperationStatus::Pending);
        assert_eq!(step.step_details.as_ref().unwrap().attempt, 1);
        assert!(fire_due(&mut e, 5_000));
        assert_eq!(e.operation("s").unwrap().status, OperationStatus::Ready);
    }

    #[test]
    fn a_callback_times_out_and_cannot_then_be_answered() {
        let mut e = execution();
        let callback =
            update(json!({"Id": "c", "Type": "CALLBACK", "Action": "START", "CallbackOptions": {"TimeoutSeconds": 1}}));
        apply(&mut e, &[callback], 0, || "cb-1".into()).unwrap();
        assert!(fire_due(&mut e, 1_000));
        assert_eq!(e.operation("c").unwrap().status, OperationStatus::TimedOut);
        assert!(!complete_callback(
            &mut e,
            "cb-1",
            OperationStatus::Succeeded,
            None,
            None,
            2_000
        ));
    }

    #[test]
    fn a_completed_operation_is_not_updated_again_and_chained_invokes_are_refused() {
        let mut e = execution();
        let done = update(json!({"Id": "s", "Type": "STEP", "Action": "SUCCEED", "Payload": "1"}));
        apply(&mut e, std::slice::from_ref(&done), 0, || "cb".into()).unwrap();
        assert!(apply(&mut e, &[done], 0, || "cb".into()).is_err());
        let invoke = update(json!({"Id": "i", "Type": "CHAINED_INVOKE", "Action": "START"}));
        assert!(apply(&mut e, &[invoke], 0, || "cb".into()).is_err());
    }

    #[test]
    fn the_execution_times_out_at_its_execution_timeout() {
        let mut e = execution();
        fire_due(&mut e, 100_000);
        assert_eq!(e.status, ExecutionStatus::TimedOut);
        assert!(e.checkpoint_token.is_none());
    }
}
