//! A callback of a run's durable execution, as the API lists it: what the execution's
//! history says of it (waiting, completed, timed out) and, when it was answered through
//! the API, who answered and how.

use serde::Serialize;
use utoipa::ToSchema;

/// Where a callback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackState {
    /// The execution waits for an answer (one given through the API may be on its way:
    /// `answered_by` is then set).
    Waiting,
    /// Completed with a result given through the API.
    Approved,
    /// Completed with an error given through the API.
    Rejected,
    /// Completed with a result sent straight to Lambda, not through this API.
    Succeeded,
    /// Completed with an error sent straight to Lambda.
    Failed,
    /// No answer came in the callback's time.
    TimedOut,
}

impl CallbackState {
    /// The state from the history's (`waiting`, `succeeded`, `failed`, `timed_out`, as
    /// stored) and the outcome of an answer given through the API (`approved`,
    /// `rejected`), if one was.
    pub fn of(history: &str, answered: Option<&str>) -> Self {
        match (history, answered) {
            ("succeeded", Some("approved")) => Self::Approved,
            ("succeeded", _) => Self::Succeeded,
            ("failed", Some("rejected")) => Self::Rejected,
            ("failed", _) => Self::Failed,
            ("timed_out", _) => Self::TimedOut,
            _ => Self::Waiting,
        }
    }
}

/// One callback of a run's durable execution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunCallback {
    /// The id to complete it with (`POST /v1/runs/{id}/callbacks/{callback_id}`).
    pub callback_id: String,
    /// Its name in the function: the name given to `wait_for_callback` or `create_callback`.
    pub name: Option<String>,
    pub state: CallbackState,
    /// When the execution created it.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When the execution saw it completed or timed out.
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Who answered it through the API, as the run's log names them (`token "NAME" (ROLE, id ID)`).
    pub answered_by: Option<String>,
    /// How they answered: `approved` or `rejected`.
    pub answer: Option<String>,
    pub answered_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_through_the_api_names_the_state_once_the_history_shows_it() {
        assert_eq!(CallbackState::of("waiting", Some("approved")), CallbackState::Waiting);
        assert_eq!(
            CallbackState::of("succeeded", Some("approved")),
            CallbackState::Approved
        );
        assert_eq!(CallbackState::of("succeeded", None), CallbackState::Succeeded);
        assert_eq!(CallbackState::of("failed", Some("rejected")), CallbackState::Rejected);
        assert_eq!(CallbackState::of("failed", None), CallbackState::Failed);
        assert_eq!(
            CallbackState::of("timed_out", Some("approved")),
            CallbackState::TimedOut
        );
    }
}
