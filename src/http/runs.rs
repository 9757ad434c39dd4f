//! Runs: submit (validated before anything is stored, idempotent by key), read, list
//! newest first with a cursor, cancel.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::error_responses::{
    AuthenticatedErrors, BadRequest, Forbidden, JsonBodyErrors, ProjectNotReadable, ProjectNotUsable, RunNotFound,
    Unauthorized, Unprocessable,
};
use crate::app::AppState;
use crate::domain::access::Caller;
use crate::domain::run::{Run, RunStatus};
use crate::domain::step::Step;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, QueryParams};
use crate::http::paging::{Cursor, Listed, Page, PageRequest};
use crate::store::{projects, runs};

/// The body of a submit.
// The example is also where schemathesis's coverage phase starts: without one, it built its
// header cases on a body the schema refuses and called them schema-valid.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"step": {"type": "lambda_invoke", "function_name": "my-function", "payload": {"hello": "world"}}}))]
pub struct SubmitRun {
    /// A `lambda_invoke` or `lambda_custom_code` step.
    #[schema(value_type = Step)]
    pub step: serde_json::Value,
}

/// Submits a step run. It is stored and queued before the answer (202); the same
/// `Idempotency-Key` in the same project answers the first run again (200).
#[utoipa::path(post, path = "/v1/projects/{project}/runs", tag = "runs", operation_id = "submit_run",
    params(("project" = String, Path, description = "The project's name"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]([\t -~]*[!-~])?$",
            description = "1 to 255 visible ASCII characters: the same key in the same project answers the first run again")),
    security(("bearer" = [])),
    request_body = SubmitRun,
    responses(
        super::queued::Submitted,
        BadRequest,
        Unauthorized,
        Forbidden,
        ProjectNotUsable,
        JsonBodyErrors,
        (status = 503, description = "the database did not answer within `--db-acquire-timeout-ms`; nothing was created; try again after `Retry-After` seconds", body = crate::error::ErrorBody, headers(("Retry-After" = u32, description = "seconds")))
    ))]
pub async fn submit(
    State(app): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<super::queued::Submitted> {
    super::auth::require_run(&caller, &project)?;
    let raw_step = body.get("step").ok_or_else(|| ApiError::InvalidField {
        field: "step".into(),
        message: "is missing: the body is {\"step\": {...}}".into(),
    })?;
    let step = Step::parse(raw_step, app.payload_limits())?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value.to_str().unwrap_or_default();
            if key.is_empty() || key.len() > 255 {
                return Err(ApiError::InvalidField {
                    field: "Idempotency-Key".into(),
                    message: "must be 1 to 255 visible ASCII characters".into(),
                });
            }
            Some(key.to_string())
        }
    };
    super::queued::submit(&app, &project, &step, key.as_deref()).await
}

/// One run.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs", operation_id = "get_run", params(("id" = uuid::Uuid, Path, description = "The run's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the run", body = Run),
        AuthenticatedErrors,
        RunNotFound
    ))]
pub async fn get(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Run>> {
    let id = super::run_id(&id)?;
    let run = runs::get(&app.db, id)
        .await?
        .filter(|run| caller.may_read(&run.project))
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))?;
    Ok(Json(super::replay::with_links(&app, run).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only runs with this status.
    #[param(value_type = Option<RunStatus>)]
    status: Option<String>,
}

/// A page of runs.
pub type RunPage = Page<Run>;

impl Listed for Run {
    const PAGE: &'static str = "RunPage";
}

/// Where a page of runs, newest first, starts: after the run created at `at` with `id`.
pub struct RunCursor {
    at: chrono::DateTime<chrono::Utc>,
    id: uuid::Uuid,
}

/// A project's runs, newest first.
#[utoipa::path(get, path = "/v1/projects/{project}/runs", tag = "runs", operation_id = "list_runs",
    params(("project" = String, Path, description = "The project's name"), ListQuery, PageRequest<RunCursor>),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "a page of runs, newest first", body = RunPage),
        AuthenticatedErrors,
        ProjectNotReadable,
        Unprocessable
    ))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    QueryParams(query): QueryParams<ListQuery>,
    page: PageRequest<RunCursor>,
) -> ApiResult<Json<RunPage>> {
    super::auth::require_read(&caller, &project)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(raw) => Some(RunStatus::parse(raw).ok_or_else(|| ApiError::InvalidField {
            field: "status".into(),
            message: "must be queued, running, succeeded, failed, timed_out or cancelled".into(),
        })?),
    };
    if !projects::exists(&app.db, &project).await? {
        return Err(ApiError::NotFound(format!("project {project}")));
    }
    let before = page.cursor().map(|c| (c.at, c.id));
    let rows = runs::list(&app.db, &project, status, before, page.rows()).await?;
    Ok(Json(page.page(rows, |run| RunCursor {
        at: run.created_at,
        id: run.id,
    })))
}

/// Cancels a run: a queued one never starts (200); a running one stops being waited for,
/// and its function is cleaned up (202, the run ends `cancelled` shortly).
#[utoipa::path(post, path = "/v1/runs/{id}/cancel", tag = "runs", operation_id = "cancel_run", params(("id" = uuid::Uuid, Path, description = "The run's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "it was queued: cancelled", body = Run),
        (status = 202, description = "it is running: its worker was told to stop", body = Run),
        AuthenticatedErrors,
        Forbidden,
        RunNotFound,
        (status = 409, description = "it had already finished", body = crate::error::ErrorBody)
    ))]
pub async fn cancel(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Run>)> {
    let id = super::run_id(&id)?;
    let project = runs::project_of(&app.db, id)
        .await?
        .filter(|p| caller.may_read(p))
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))?;
    super::auth::require_run(&caller, &project)?;
    let mut tx = app.db.begin().await?;
    let done = runs::cancel(&mut tx, id).await?;
    tx.commit().await?;
    let run = runs::get(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))?;
    match done {
        runs::Cancelled::Queued => Ok((StatusCode::OK, Json(run))),
        runs::Cancelled::Running => Ok((StatusCode::ACCEPTED, Json(run))),
        runs::Cancelled::Nothing if run.status == RunStatus::Running => Ok((StatusCode::ACCEPTED, Json(run))),
        runs::Cancelled::Nothing => Err(ApiError::Conflict(format!(
            "run {id} already finished ({})",
            run.status.as_str()
        ))),
    }
}

impl Cursor for RunCursor {
    const PATTERN: &'static str = "^[A-Za-z0-9_-]+$";

    fn read(text: &str) -> Option<Self> {
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(text).ok()?;
        let (at, id) = text.split_once('|')?;
        Some(Self {
            at: chrono::DateTime::parse_from_rfc3339(at)
                .ok()?
                .with_timezone(&chrono::Utc),
            id: uuid::Uuid::parse_str(id).ok()?,
        })
    }

    fn write(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}|{}", self.at.to_rfc3339(), self.id))
    }
}
