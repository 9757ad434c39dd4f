//! What the SDK inside a durable function calls: `CheckpointDurableExecution` and
//! `GetDurableExecutionState`. They are served on the environment's own listener (the one
//! of its Runtime API, which the function reaches as `AWS_ENDPOINT_URL_LAMBDA`), never on
//! the engine's API, and answer only for the execution of the invocation the environment
//! runs now, with that invocation's checkpoint token: user code holds no engine key and
//! can touch no other execution.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{Clock, OperationUpdate, now_ms, wire};
use super::{Durable, checkpoint, random_token};
use crate::error::{EngineError, EngineResult, ErrorKind};

/// The execution an invocation belongs to, handed to its environment with the invocation.
#[derive(Clone)]
pub struct Binding {
    pub arn: String,
    pub durable: Arc<Durable>,
}

impl std::fmt::Debug for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binding").field("arn", &self.arn).finish()
    }
}

/// Operations per page of `GetDurableExecutionState` when the caller names no `MaxItems`.
const DEFAULT_PAGE: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CheckpointRequest {
    checkpoint_token: Option<String>,
    #[serde(default)]
    updates: Vec<OperationUpdate>,
}

/// The binding, when it is for `arn`; anything else is refused as AWS refuses a caller
/// without the right to it.
fn bound<'a>(binding: Option<&'a Binding>, arn: &str) -> EngineResult<&'a Binding> {
    binding.filter(|b| b.arn == arn).ok_or_else(|| {
        EngineError::new(
            ErrorKind::AccessDenied,
            format!("This execution environment may only act on the durable execution it runs, not {arn}"),
        )
    })
}

fn invalid_token() -> EngineError {
    EngineError::invalid_parameter("Invalid checkpoint token")
}

/// `CheckpointDurableExecution`: applies the updates and answers the new token and every
/// operation that changed since the handler last saw the state.
pub fn checkpoint_execution(binding: Option<&Binding>, arn: &str, body: &[u8]) -> EngineResult<Value> {
    let binding = bound(binding, arn)?;
    let request: CheckpointRequest = serde_json::from_slice(if body.is_empty() { b"{}" } else { body })
        .map_err(|e| EngineError::invalid_parameter(format!("Invalid checkpoint request: {e}")))?;
    let execution = binding.durable.find(arn)?;
    let mut created = Vec::new();
    let (token, operations, completed) = {
        let mut record = execution.record.lock();
        if request.checkpoint_token.is_none() || record.checkpoint_token != request.checkpoint_token {
            return Err(invalid_token());
        }
        let completed = checkpoint::apply(&mut record, &request.updates, now_ms(), || {
            let id = random_token();
            created.push(id.clone());
            id
        })
        .map_err(EngineError::invalid_parameter)?;
        let seen = record.seen_seq;
        let operations: Vec<Value> = record
            .operations
            .iter()
            .filter(|op| op.seq > seen)
            .map(|op| wire(op, Clock::Seconds))
            .collect();
        record.seen_seq = record.seq;
        let token = (!completed && record.is_running()).then(random_token);
        record.checkpoint_token = token.clone();
        execution.save(&record);
        (token, operations, completed || !record.is_running())
    };
    binding.durable.note_callbacks(arn, created);
    if completed {
        execution.wake.notify_one();
    }
    let mut answer = json!({"NewExecutionState": {"Operations": operations}});
    if let Some(token) = token {
        answer["CheckpointToken"] = token.into();
    }
    Ok(answer)
}

/// `GetDurableExecutionState`: the execution's operations, a page at a time.
pub fn execution_state(
    binding: Option<&Binding>,
    arn: &str,
    token: Option<&str>,
    marker: Option<&str>,
    max_items: Option<usize>,
) -> EngineResult<Value> {
    let binding = bound(binding, arn)?;
    let execution = binding.durable.find(arn)?;
    let record = execution.record.lock();
    if token.is_none() || record.checkpoint_token.as_deref() != token {
        return Err(invalid_token());
    }
    let start = match marker.filter(|m| !m.is_empty()) {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| EngineError::invalid_parameter("Invalid marker"))?,
    };
    let size = max_items.filter(|n| *n > 0).unwrap_or(DEFAULT_PAGE);
    let page: Vec<Value> = record
        .operations
        .iter()
        .skip(start)
        .take(size)
        .map(|op| wire(op, Clock::Seconds))
        .collect();
    let mut answer = json!({"Operations": page});
    if start + size < record.operations.len() {
        answer["NextMarker"] = (start + size).to_string().into();
    }
    Ok(answer)
}
