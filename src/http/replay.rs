//! Replays: `POST /v1/runs/{id}/replay` runs a finished step again on the embedded engine,
//! as a run of its own; `GET /v1/runs/{id}/replay-diff` says what differs.

use axum::Json;
use axum::extract::{Path, State};

use super::error_responses::{AuthenticatedErrors, Forbidden, JsonBodyErrors, RunNotFound};
use super::queued::QueuedReplay;
use crate::app::AppState;
use crate::domain::access::Caller;
use crate::domain::replay::{self, ReplayDiff, ReplayRequest, ReplaySide};
use crate::domain::run::Run;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::OptionalJsonBody;
use crate::store::{replays, runs};

/// Most printed lines of each run the difference reads.
const LINES_COMPARED: i64 = 5000;

/// Replays a finished run on the embedded engine: for an Invoke step, the function's code
/// and configuration for the version that answered (fetched with the project's
/// credentials, its `CodeSha256` checked), the same payload and client context; for custom
/// code, the step itself. The replay is a run of its own (`replay_of`), queued before the
/// answer; its function gets no AWS credentials unless `credentials` is `role`.
#[utoipa::path(post, path = "/v1/runs/{id}/replay", tag = "runs", operation_id = "replay_run",
    params(("id" = uuid::Uuid, Path, description = "The run to replay")),
    security(("bearer" = [])),
    request_body(content = ReplayRequest, description = "Optional: without a body (or with `{}`), the replayed function gets no credentials"),
    responses(
        QueuedReplay,
        AuthenticatedErrors,
        Forbidden,
        RunNotFound,
        (status = 409, description = "the run cannot be replayed (not finished, itself a replay, an Event or DryRun invocation, a container image, nothing recorded); the message says why", body = crate::error::ErrorBody),
        JsonBodyErrors
    ))]
pub async fn replay(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<ReplayRequest>,
) -> ApiResult<QueuedReplay> {
    let id = super::run_id(&id)?;
    let original = runs::get(&app.db, id)
        .await?
        .filter(|run| caller.may_read(&run.project))
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))?;
    super::auth::require_run(&caller, &original.project)?;
    let request = body.unwrap_or_default();
    request.validate()?;
    if !app.lambdas.runs_embedded_engine() {
        return Err(ApiError::Conflict(
            "replays run on the embedded engine, and this service does not run it (its framework aws.endpoint_url is not embedded)".into(),
        ));
    }
    if !original.status.is_finished() {
        return Err(ApiError::Conflict(format!(
            "run {id} is {}: only a finished run can be replayed",
            original.status
        )));
    }
    if let (Some(of), _) = replays::links(&app.db, id).await? {
        return Err(ApiError::Conflict(format!(
            "run {id} is itself a replay: replay the original run {of} instead"
        )));
    }
    let recorded = replayable(&original, &request)?;
    let replay_id = replays::create(&app.db, &original, &request, recorded.as_ref()).await?;
    super::queued::replay_queued(&app, replay_id, id).await
}

/// What a replay of this run builds from (the recorded function of an Invoke), or why it
/// cannot be replayed.
fn replayable(original: &Run, request: &ReplayRequest) -> ApiResult<Option<replay::RecordedFunction>> {
    let id = original.id;
    match original.step["type"].as_str() {
        Some("lambda_custom_code") => Ok(None),
        Some("lambda_invoke") => {
            let invocation = original.step["invocation_type"].as_str().unwrap_or("RequestResponse");
            if invocation != "RequestResponse" {
                return Err(ApiError::Conflict(format!(
                    "run {id} was an {invocation} invocation: Lambda ran (or checked) it without an answer to compare, so only RequestResponse runs are replayed"
                )));
            }
            let recorded = original.result.as_ref().and_then(|r| r.function.clone());
            match &recorded {
                Some(function) if function.package_type.as_deref() == Some("Image") => {
                    Err(ApiError::Conflict(format!(
                        "function {} is a container image: the embedded engine runs .zip packages only (Python, Node.js, Ruby), so it cannot be replayed",
                        function.name
                    )))
                }
                Some(function) => Ok(Some(function.clone())),
                None if request.accept_current_code => Ok(None),
                None => Err(ApiError::Conflict(format!(
                    "run {id} has no recorded function (Lambda answered nothing, or the run is older than replays): pass accept_current_code to replay the function's current code"
                ))),
            }
        }
        _ => Err(ApiError::Conflict(format!(
            "run {id} has a step this version cannot replay"
        ))),
    }
}

/// What differs between a replay and the run it replays: status, error type and message,
/// the result payload (a JSON diff), duration and memory, and the printed lines side by
/// side. `id` is the replay, or a replayed run (then its newest replay).
#[utoipa::path(get, path = "/v1/runs/{id}/replay-diff", tag = "runs", operation_id = "get_replay_diff",
    params(("id" = uuid::Uuid, Path, description = "A replay, or a run that was replayed (its newest replay)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the difference; provisional while `finished` is false", body = ReplayDiff),
        AuthenticatedErrors,
        (status = 404, description = "no such run, not one this token may read, or neither a replay nor replayed", body = crate::error::ErrorBody)
    ))]
pub async fn diff(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<ReplayDiff>> {
    let id = super::run_id(&id)?;
    let run = runs::get(&app.db, id)
        .await?
        .filter(|run| caller.may_read(&run.project))
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))?;
    let (original_id, replay_id) = match replays::links(&app.db, id).await? {
        (Some(of), _) => (of, id),
        (None, replays) => match replays.first() {
            Some(newest) => (id, *newest),
            None => {
                return Err(ApiError::NotFound(format!(
                    "run {id} is not a replay and was never replayed"
                )));
            }
        },
    };
    let other = if original_id == id { replay_id } else { original_id };
    let other = runs::get(&app.db, other)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run {other}")))?;
    let (original, replayed) = if original_id == id { (run, other) } else { (other, run) };
    let original_lines = replays::function_lines(&app.db, original.id, LINES_COMPARED).await?;
    let replay_lines = replays::function_lines(&app.db, replayed.id, LINES_COMPARED).await?;
    Ok(Json(replay::diff(
        ReplaySide {
            run: &original,
            function_lines: &original_lines,
        },
        ReplaySide {
            run: &replayed,
            function_lines: &replay_lines,
        },
    )))
}

/// The replay's body is optional, as the derive cannot say.
pub struct OptionalReplayBody;

impl utoipa::Modify for OptionalReplayBody {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let body = openapi
            .paths
            .paths
            .get_mut("/v1/runs/{id}/replay")
            .and_then(|p| p.post.as_mut())
            .and_then(|o| o.request_body.as_mut());
        if let Some(body) = body {
            body.required = Some(utoipa::openapi::Required::False);
        }
    }
}

/// Fills a run's replay links (`replay_of`, `replays`), as `GET /v1/runs/{id}` shows them.
pub async fn with_links(app: &AppState, mut run: Run) -> ApiResult<Run> {
    let (of, replays) = replays::links(&app.db, run.id).await?;
    run.replay_of = of;
    run.replays = replays;
    Ok(run)
}
