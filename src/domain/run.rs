//! A step run and its status, as stored and as the API shows it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a run is in its life. `queued` and `running` are the only unfinished ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
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
}

/// `errorType`, `errorMessage` and the stack trace of a function's error document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FunctionErrorDetails {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
    pub stack_trace: Vec<String>,
}

/// Why a run failed when it was not the function's own error.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunError {
    /// snake_case: `function_error`, `timed_out`, `outcome_unknown`, `lambda_error`, `cancelled`...
    pub code: String,
    pub message: String,
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
}
