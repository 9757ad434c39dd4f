//! A durable execution as the engine keeps it, and the wire shapes of its operations
//! (`Operation`, `OperationUpdate`), named as in Lambda's 2025-12-01 API.
//!
//! Timestamps are kept as Unix milliseconds: the handler's invocation event carries them
//! so (the SDK reads them with `from_json_dict`), while the REST API answers seconds, as
//! every AWS SDK parses a rest-json timestamp ([`wire`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `DurableConfig` of a function version, as CreateFunction takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DurableConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_timeout: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_period_in_days: Option<u32>,
    #[serde(rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
}

/// What Lambda gives an execution whose function names no timeout or retention.
pub const DEFAULT_EXECUTION_TIMEOUT: u32 = 86_400;
pub const DEFAULT_RETENTION_DAYS: u32 = 14;

impl DurableConfig {
    /// Checks the bounds Lambda's model states, and fills the retention's default.
    pub fn validated(mut self) -> Result<Self, String> {
        if let Some(t) = self.execution_timeout
            && !(1..=31_622_400).contains(&t)
        {
            return Err(format!(
                "1 validation error detected: Value '{t}' at 'durableConfig.executionTimeout' failed to satisfy constraint: Member must have value between 1 and 31622400"
            ));
        }
        if let Some(d) = self.retention_period_in_days
            && !(1..=90).contains(&d)
        {
            return Err(format!(
                "1 validation error detected: Value '{d}' at 'durableConfig.retentionPeriodInDays' failed to satisfy constraint: Member must have value between 1 and 90"
            ));
        }
        self.execution_timeout.get_or_insert(DEFAULT_EXECUTION_TIMEOUT);
        self.retention_period_in_days.get_or_insert(DEFAULT_RETENTION_DAYS);
        Ok(self)
    }

    pub fn execution_timeout(&self) -> u32 {
        self.execution_timeout.unwrap_or(DEFAULT_EXECUTION_TIMEOUT)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationType {
    Execution,
    Context,
    Step,
    Wait,
    Callback,
    ChainedInvoke,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationStatus {
    Started,
    Pending,
    Ready,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    Stopped,
}

impl OperationStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Cancelled | Self::TimedOut | Self::Stopped
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationAction {
    Start,
    Succeed,
    Fail,
    Retry,
    Cancel,
}

/// The status of a whole execution (`ExecutionStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Stopped,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
            Self::Stopped => "STOPPED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepDetails {
    pub attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_end_timestamp: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallbackDetails {
    pub callback_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContextDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_children: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_payload: Option<String>,
}

/// One operation of an execution (`Operation`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Operation {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "Type")]
    pub kind: OperationType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    pub start_timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<i64>,
    pub status: OperationStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_details: Option<ExecutionDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_details: Option<ContextDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_details: Option<StepDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_details: Option<WaitDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_details: Option<CallbackDetails>,
    /// When it last changed, on the execution's own counter: what a checkpoint answers is
    /// what changed since the handler last saw the state. Never on the wire.
    #[serde(default, rename = "_Seq")]
    pub seq: u64,
}

impl Operation {
    /// A new operation, STARTED at `now`, with no parent, name or details yet.
    pub fn started(id: String, kind: OperationType, now: i64, seq: u64) -> Self {
        Self {
            id,
            parent_id: None,
            name: None,
            kind,
            sub_type: None,
            start_timestamp: now,
            end_timestamp: None,
            status: OperationStatus::Started,
            execution_details: None,
            context_details: None,
            step_details: None,
            wait_details: None,
            callback_details: None,
            seq,
        }
    }
}

/// One change a handler checkpoints (`OperationUpdate`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationUpdate {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "Type")]
    pub kind: OperationType,
    pub sub_type: Option<String>,
    pub action: OperationAction,
    pub payload: Option<String>,
    pub error: Option<Value>,
    pub context_options: Option<ContextOptions>,
    pub step_options: Option<StepOptions>,
    pub wait_options: Option<WaitOptions>,
    pub callback_options: Option<CallbackOptions>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContextOptions {
    pub replay_children: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepOptions {
    pub next_attempt_delay_seconds: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitOptions {
    pub wait_seconds: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallbackOptions {
    pub timeout_seconds: Option<u64>,
    pub heartbeat_timeout_seconds: Option<u64>,
}

/// The timers of a callback still waiting for its answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallbackTimer {
    pub operation_id: String,
    /// When it times out, in Unix ms (none: never).
    pub timeout_at: Option<i64>,
    /// Seconds a heartbeat keeps it alive (0: no heartbeat needed).
    pub heartbeat_seconds: u64,
    pub heartbeat_at: Option<i64>,
}

/// One entry of `GetDurableExecutionHistory`, kept as its wire JSON (timestamps in ms).
pub type HistoryEvent = Value;

/// Everything kept about one execution; persisted as one JSON document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub arn: String,
    pub name: String,
    /// The last part of the ARN: also the id of its EXECUTION operation.
    pub id: String,
    pub function_name: String,
    /// The version that runs it (`$LATEST` or a number).
    pub version: String,
    pub input_payload: String,
    pub status: ExecutionStatus,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub result: Option<String>,
    pub error: Option<Value>,
    pub config: DurableConfig,
    pub trace_header: Option<String>,
    pub operations: Vec<Operation>,
    pub callbacks: BTreeMap<String, CallbackTimer>,
    pub history: Vec<HistoryEvent>,
    /// The counter operations' `seq` are taken from.
    pub seq: u64,
    /// The token of the invocation running now, if one is.
    pub checkpoint_token: Option<String>,
    /// What the running invocation has seen (on `seq`).
    pub seen_seq: u64,
}

impl ExecutionRecord {
    /// A new execution, running since `now`: its ARN ends in `id`, which is also the id of
    /// its EXECUTION operation (holding the input), and its history is still empty.
    pub fn new(start: &super::Start<'_>, id: &str, now: i64) -> Self {
        Self {
            arn: format!(
                "{}:{}/durable-execution/{}/{id}",
                start.function_arn, start.version, start.name
            ),
            name: start.name.to_string(),
            id: id.to_string(),
            function_name: start.function_name.to_string(),
            version: start.version.to_string(),
            input_payload: start.payload.to_string(),
            status: ExecutionStatus::Running,
            start_ms: now,
            end_ms: None,
            result: None,
            error: None,
            config: start.config.clone(),
            trace_header: start.trace_header.map(str::to_string),
            operations: vec![Operation {
                execution_details: Some(ExecutionDetails {
                    input_payload: Some(start.payload.to_string()),
                }),
                ..Operation::started(id.to_string(), OperationType::Execution, now, 1)
            }],
            callbacks: Default::default(),
            history: Vec::new(),
            seq: 1,
            checkpoint_token: None,
            seen_seq: 0,
        }
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }

    pub fn operation_mut(&mut self, id: &str) -> Option<&mut Operation> {
        self.operations.iter_mut().find(|o| o.id == id)
    }

    pub fn timeout_at(&self) -> i64 {
        self.start_ms + i64::from(self.config.execution_timeout()) * 1000
    }

    pub fn is_running(&self) -> bool {
        self.status == ExecutionStatus::Running
    }
}

/// How timestamps are written: milliseconds in the handler's event, seconds on the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Millis,
    Seconds,
}

/// An operation as a response carries it.
pub fn wire(op: &Operation, clock: Clock) -> Value {
    let mut value = serde_json::to_value(op).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.remove("_Seq");
    }
    if clock == Clock::Seconds {
        for path in [
            &["StartTimestamp"][..],
            &["EndTimestamp"],
            &["StepDetails", "NextAttemptTimestamp"],
            &["WaitDetails", "ScheduledEndTimestamp"],
        ] {
            convert_to_seconds(&mut value, path);
        }
    }
    value
}

fn convert_to_seconds(value: &mut Value, path: &[&str]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = value;
    for p in parents {
        match at.get_mut(*p) {
            Some(next) => at = next,
            None => return,
        }
    }
    if let Some(slot) = at.get_mut(*last)
        && let Some(ms) = slot.as_i64()
    {
        *slot = seconds(ms);
    }
}

/// Unix milliseconds as the seconds (with fractions) rest-json timestamps are.
pub fn seconds(ms: i64) -> Value {
    serde_json::json!(ms as f64 / 1000.0)
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
