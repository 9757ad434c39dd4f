//! A step run and its status, as stored and as the API shows it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a run is in its life. `queued` and `running` are the only unfinished ones.
///
/// Stored in the text column `runs.status` under the same names (its CHECK constraint lists
/// them); reading back any other value is an error, never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "timed_out" => Self::TimedOut,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What Lambda said about the invocation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RunResult {
    pub status_code: Option<i32>,
    pub executed_version: Option<String>,
    pub request_id: Option<String>,
    pub function_error: Option<String>,
    /// The function's answer: JSON when it parses, else a string.
    #[schema(value_type = Value)]
    pub payload: Option<serde_json::Value>,
    /// The function's error document, when it failed.
    pub error: Option<FunctionErrorDetails>,
    pub duration_ms: Option<u64>,
    /// Whether Lambda's 4 KB log tail cut the function's log.
    pub log_tail_truncated: bool,
    /// The function an Invoke step reached, as Lambda described the version that answered:
    /// what a replay builds again (never its environment variables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<super::replay::RecordedFunction>,
    /// The durable execution a step on a durable function started (or re-attached to),
    /// named by the run's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durable_execution_arn: Option<String>,
}

/// `errorType`, `errorMessage` and the stack trace of a function's error document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FunctionErrorDetails {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
    pub stack_trace: Vec<String>,
}

/// Why a run did not succeed: its code, and a message for people.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunError {
    pub code: RunErrorCode,
    pub message: String,
}

impl RunError {
    pub fn new(code: RunErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Why a run did not succeed:
/// `function_error` (the function returned an error), `timed_out` (it ran past its
/// timeout), `lambda_error` (Lambda refused the call, e.g. no such function),
/// `throttled` (still throttled after every retry), `outcome_unknown` (the Invoke may
/// have gone out but no answer came; never sent again), `cancelled`, `invalid_step` (the
/// stored step cannot be read), `package_install_failed` (a custom-code step's `packages`
/// could not be installed; no function was created), `configuration` (a setting or key the project names
/// cannot be used), `result_not_stored` (Postgres refused the result; the status is
/// Lambda's), `database_error` (a write the step needed failed), `internal` (the service
/// failed preparing the step), `replay_refused` (a replay could not run the original's code;
/// the message says why), `unrecognized` (a stored code this version does not know).
///
/// Stored inside the `runs.error` JSON document, so the SQL that writes one (cancel, the
/// rescuer) spells it the same way. A stored code this version does not know (written by
/// a newer version, or by hand) reads back as `unrecognized` with its message intact, so
/// one such run never fails a list.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, strum::IntoStaticStr, strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunErrorCode {
    /// The function ran and returned an error (`result.function_error` says which).
    FunctionError,
    /// The function ran past its timeout.
    TimedOut,
    /// Lambda refused the call (no such function, no permission, a bad parameter...).
    LambdaError,
    /// Lambda still throttled the call after every retry.
    Throttled,
    /// The Invoke may have been sent but its answer never came (the connection broke, the
    /// wait ran out, the worker stopped): it is not sent again.
    OutcomeUnknown,
    /// Cancelled before it started, or its worker stopped it on request.
    Cancelled,
    /// Its stored step cannot be read.
    InvalidStep,
    /// The step's `packages` could not be installed (the installer's message names the
    /// package), or with them the code is over Lambda's size limits; no function was created.
    PackageInstallFailed,
    /// A setting or key the project names cannot be used; the message names it.
    Configuration,
    /// Postgres refused the result for good; the status is Lambda's, the result is dropped.
    ResultNotStored,
    /// A database write the step needed failed (e.g. recording the created function's name).
    DatabaseError,
    /// The service itself failed preparing the step (e.g. zipping the code).
    Internal,
    /// A replay could not run the original's code: it changed and the recorded version is
    /// gone, the function is a container image, or the original has nothing to replay.
    ReplayRefused,
    /// A stored code this version does not know; read back, never written.
    #[serde(other)]
    Unrecognized,
}

impl RunErrorCode {
    /// The stored and serialized name (`outcome_unknown`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for RunErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The level of a run's log line; stored in `run_logs.level` under the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Who wrote a run's log line: the service (`runner`) or the function (`function`, what it
/// printed); stored in `run_logs.source` under the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LogSource {
    Runner,
    Function,
}

impl LogSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Runner => "runner",
            Self::Function => "function",
        }
    }
}

/// Where a run is in its life, as its runner's log lines say it: each line the service
/// writes carries the phase it was written in, so the console's timeline, the CLI and the
/// Rundeck mode read the phase rather than the line's words. In the order a run passes them:
/// `queued` (submitted, or given back to the queue), `claimed` (a worker took it and reads
/// its project's Lambda), `installing_packages` (a custom-code step's `packages`),
/// `creating` (its function: role, create, wait for Active), `invoking` (the Invoke is
/// recorded and sent), `returned` (Lambda answered or gave up; the function's whole log is
/// read), `cleaned_up` (its function deleted or kept), `finished` (the outcome). An Invoke
/// step has no `installing_packages`, `creating` or `cleaned_up`.
///
/// Stored in `run_logs.phase` under the same names (its CHECK constraint lists them); the
/// function's own lines have none.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    sqlx::Type,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunPhase {
    Queued,
    Claimed,
    InstallingPackages,
    Creating,
    Invoking,
    Returned,
    CleanedUp,
    Finished,
}

impl RunPhase {
    /// The stored and serialized name (`installing_packages`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The phase stored as `index` by [`RunPhase::index`].
    pub fn from_index(index: u8) -> Option<Self> {
        use strum::IntoEnumIterator;
        Self::iter().nth(usize::from(index))
    }

    /// Its place in the order above.
    pub fn index(self) -> u8 {
        self as u8
    }
}

/// A step run as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Run {
    pub id: uuid::Uuid,
    pub project: String,
    pub status: RunStatus,
    #[schema(value_type = crate::domain::step::Step)]
    pub step: serde_json::Value,
    pub attempt: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub result: Option<RunResult>,
    pub error: Option<RunError>,
    /// The function a custom-code run created (`lambda-steps-` and its id), once it is named.
    pub function_name: Option<String>,
    /// The W3C trace id (32 hex digits) of the run's OpenTelemetry trace, when the service
    /// that took the submit exports traces (see the operations guide's tracing page).
    pub trace_id: Option<String>,
    /// The run this one replays (`POST /v1/runs/{id}/replay`); shown by `GET /v1/runs/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<uuid::Uuid>,
    /// Replays of this run, newest first; shown by `GET /v1/runs/{id}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replays: Vec<uuid::Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_read_back_and_an_unknown_one_does_not_fail() {
        let known: RunError = serde_json::from_str(r#"{"code": "outcome_unknown", "message": "m"}"#).unwrap();
        assert_eq!(known.code, RunErrorCode::OutcomeUnknown);
        assert_eq!(serde_json::to_value(known.code).unwrap(), "outcome_unknown");
        let unknown: RunError = serde_json::from_str(r#"{"code": "from_the_future", "message": "m"}"#).unwrap();
        assert_eq!(unknown.code, RunErrorCode::Unrecognized);
        assert_eq!(unknown.message, "m");
    }

    #[test]
    fn phase_names_match_serde_and_indexes_read_back() {
        use strum::IntoEnumIterator;
        for phase in RunPhase::iter() {
            assert_eq!(serde_json::to_value(phase).unwrap(), phase.as_str());
            assert_eq!(RunPhase::from_index(phase.index()), Some(phase));
        }
    }

    #[test]
    fn error_code_names_match_serde() {
        use strum::IntoEnumIterator;
        for code in RunErrorCode::iter() {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
