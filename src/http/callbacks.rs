//! Approvals: `GET /v1/runs/{id}/callbacks` lists the callbacks the run's durable
//! execution created and where each stands; `POST /v1/runs/{id}/callbacks/{callback_id}` completes a callback that the
//! run's durable execution waits for (`wait_for_callback`), with a result (approve) or an
//! error (reject), through Lambda's `SendDurableExecutionCallbackSuccess` / `Failure` with
//! the project's settings. Who answered is noted first (once per callback: a second
//! answer through the API is refused before Lambda is asked), so that the replica
//! following the execution names them in the run's log when the completion shows up in
//! its history.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error_responses::{AuthenticatedErrors, Forbidden, JsonBodyErrors, RunNotFound};
use crate::app::AppState;
use crate::domain::access::{Caller, token_hash};
use crate::domain::callback::RunCallback;
use crate::domain::run::RunStatus;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::lambda::durable::{DurableApi, DurableError};
use crate::store::{callbacks, runs};

/// How a callback is completed: exactly one of `result` (it succeeds with that JSON
/// value: an approval) or `error` (it fails: a rejection). The handler reads the body
/// itself (`Answer::read`); this type states its shape in the spec, as a `oneOf` that a
/// body with both fields does not match.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CompleteCallback {
    Approve(Approval),
    Reject(Rejection),
}

/// An approval: the callback succeeds with `result`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The callback's result, any JSON value (`null` too): what `wait_for_callback`
    /// returns. As in a step's payload, NUL characters, numbers that would not read back
    /// exactly once stored and nesting deeper than 64 are refused with a 422.
    #[schema(value_type = Value)]
    pub result: Value,
}

/// A rejection: the callback fails with `error`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// The callback's error: `wait_for_callback` raises it.
    pub error: CallbackError,
}

/// A rejection's error, as Lambda's `ErrorObject` carries it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackError {
    /// The error's type; `Rejected` when absent or empty.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Why: not empty, nor only white space. (The pattern leaves out NEL as well, which
    /// ECMAScript's `\s` does not count and this service does.)
    #[schema(pattern = r"[^\s\u0085]")]
    pub message: String,
}

/// What was done.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompletedCallback {
    pub run_id: uuid::Uuid,
    pub callback_id: String,
    /// `approved` (a result was sent) or `rejected` (an error was).
    pub outcome: String,
    /// Who the run's log names as having completed it.
    pub completed_by: String,
}

/// A run's callbacks.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunCallbacks {
    /// Oldest first; empty for a run whose step made none (or is not a durable function).
    pub items: Vec<RunCallback>,
}

/// The callbacks the run's durable execution created, oldest first: each one's id (to
/// complete it with), name, state as the execution's history last showed it, and who
/// answered it through this API. A callback still `waiting` on a finished run was left
/// unanswered when its execution ended.
#[utoipa::path(get, path = "/v1/runs/{id}/callbacks", tag = "runs", operation_id = "list_callbacks",
    params(("id" = uuid::Uuid, Path, description = "The run")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the run's callbacks", body = RunCallbacks),
        AuthenticatedErrors,
        RunNotFound
    ))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunCallbacks>> {
    let id = super::run_id(&id)?;
    runs::get(&app.db, id)
        .await?
        .filter(|run| caller.may_read(&run.project))
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))?;
    Ok(Json(RunCallbacks {
        items: callbacks::of_run(&app.db, id).await?,
    }))
}

/// Completes a callback of the run's durable execution (an approval or a rejection). Only
/// while the run is running its durable step, and only a callback its log shows the
/// execution creating; the run's log then names the token that completed it.
#[utoipa::path(post, path = "/v1/runs/{id}/callbacks/{callback_id}", tag = "runs", operation_id = "complete_callback",
    params(("id" = uuid::Uuid, Path, description = "The run"),
           ("callback_id" = String, Path, description = "The callback id, as the run's log shows it (`callback id ...`)")),
    security(("bearer" = [])),
    request_body(content = CompleteCallback, description = "`{\"result\": ...}` to approve, `{\"error\": {\"type\": ..., \"message\": ...}}` to reject"),
    responses(
        (status = 200, description = "Lambda took the answer; the execution goes on", body = CompletedCallback),
        AuthenticatedErrors,
        Forbidden,
        (status = 404, description = "no such run (or not one this token may read), or no such callback of its execution; the message names Lambda's error when it was Lambda's answer", body = crate::error::ErrorBody),
        (status = 409, description = "the run is not running a durable step, the callback was already answered through this API (the message says by whom), or Lambda says it was already completed or timed out (the message names Lambda's error)", body = crate::error::ErrorBody),
        (status = 502, description = "Lambda could not be reached or answered with a server error: the callback was not completed, and the same answer can be given again", body = crate::error::ErrorBody),
        JsonBodyErrors
    ))]
pub async fn complete(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, callback_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<CompletedCallback>> {
    let id = super::run_id(&id)?;
    let run = runs::get(&app.db, id)
        .await?
        .filter(|run| caller.may_read(&run.project))
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))?;
    super::auth::require_run(&caller, &run.project)?;
    let answer = Answer::read(body)?;
    if run.status != RunStatus::Running || run.step["type"].as_str() != Some("lambda_invoke") {
        return Err(ApiError::Conflict(format!(
            "run {id} is {}: a callback is completed only while the run runs its durable step",
            run.status.as_str()
        )));
    }
    if !callbacks::created_by_run(&app.db, id, &callback_id).await? {
        return Err(ApiError::NotFound(format!(
            "callback {callback_id} of run {id} (its execution created no callback of that id)"
        )));
    }
    let who = who(&app, &headers).await?;
    let lambda = app
        .lambdas
        .for_project(&app.db, &app.master_key, &run.project)
        .await
        .map_err(|e| ApiError::Conflict(format!("the project's Lambda cannot be used: {e}")))?;
    if !callbacks::note(&app.db, id, &callback_id, &who, answer.outcome()).await? {
        let (by, outcome) = callbacks::answered_by(&app.db, id, &callback_id)
            .await?
            .unwrap_or_else(|| ("someone".into(), "answered".into()));
        return Err(ApiError::Conflict(format!(
            "callback {callback_id} of run {id} was already {outcome} by {by}"
        )));
    }
    let api = DurableApi::new(&lambda.clients, &lambda.target);
    let sent = match &answer {
        Answer::Approve(result) => api.callback_succeed(&callback_id, result.to_string().as_bytes()).await,
        Answer::Reject { kind, message } => api.callback_fail(&callback_id, kind, message).await,
    };
    if let Err(e) = sent {
        callbacks::forget(&app.db, id, &callback_id).await?;
        return Err(refused(&callback_id, e));
    }
    Ok(Json(CompletedCallback {
        run_id: id,
        callback_id,
        outcome: answer.outcome().to_string(),
        completed_by: who,
    }))
}

/// The body, read by hand: `{"result": null}` approves with `null`, which a derive reads
/// as no result.
enum Answer {
    Approve(Value),
    Reject { kind: String, message: String },
}

impl Answer {
    fn read(body: Value) -> ApiResult<Self> {
        let Value::Object(mut fields) = body else {
            return Err(invalid("", "must be an object with `result` or `error`"));
        };
        if let Some(other) = fields.keys().find(|k| *k != "result" && *k != "error") {
            return Err(invalid(other, "is not a field: give `result` or `error`"));
        }
        match (fields.remove("result"), fields.remove("error")) {
            (Some(_), Some(_)) => Err(invalid(
                "error",
                "give `result` (approve) or `error` (reject), not both",
            )),
            (None, None) => Err(invalid("result", "give `result` (approve) or `error` (reject)")),
            (Some(result), None) => Ok(Self::Approve(result)),
            (None, Some(error)) => {
                let error: CallbackError = serde_json::from_value(error)
                    .map_err(|e| invalid("error", &format!("must be {{\"type\": ..., \"message\": ...}}: {e}")))?;
                if error.message.trim().is_empty() {
                    return Err(invalid("error.message", "must say why"));
                }
                Ok(Self::Reject {
                    kind: error
                        .kind
                        .filter(|k| !k.is_empty())
                        .unwrap_or_else(|| "Rejected".into()),
                    message: error.message,
                })
            }
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            Self::Approve(_) => "approved",
            Self::Reject { .. } => "rejected",
        }
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::InvalidField {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// The token as the run's log names it.
async fn who(app: &AppState, headers: &HeaderMap) -> ApiResult<String> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .unwrap_or_default();
    Ok(callbacks::token_label(&app.db, &token_hash(token))
        .await?
        .unwrap_or_else(|| "the bootstrap admin token".into()))
}

/// Lambda's refusal as the API's answer, naming Lambda's error.
fn refused(callback_id: &str, e: DurableError) -> ApiError {
    match &e {
        DurableError::Refused { kind, .. } if kind == "ResourceNotFoundException" => {
            ApiError::NotFound(format!("callback {callback_id} (Lambda: {e})"))
        }
        DurableError::Refused { status, .. } if *status < 500 => {
            ApiError::Conflict(format!("Lambda refused to complete callback {callback_id}: {e}"))
        }
        // Lambda away or failing: nothing was completed (the note of who answered is
        // dropped), and the same answer can be given again.
        _ => ApiError::BadGateway(format!("callback {callback_id} was not completed, try again: {e}")),
    }
}
