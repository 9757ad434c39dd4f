//! How a run enters the queue over the API, and the answer that says so. Every route that
//! runs a step (a submit, a saved step, a webhook) queues it through [`submit`], a replay
//! (stored with what it replays) through [`replay_queued`]; all answer [`Queued`]: 202,
//! the run, and the spec's links to follow it. One place decides how a queued run is
//! logged and counted, and what its answer looks like.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa::IntoResponses;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr};

use crate::app::AppState;
use crate::domain::run::Run;
use crate::domain::step::Step;
use crate::error::{ApiError, ApiResult};
use crate::store::runs::{self, SubmitRefused};
use uuid::Uuid;

/// A run just queued: 202 and the run.
pub struct Queued(pub Run);

/// A replay just queued: the same answer, whose spec also links to the replay's diff.
pub struct QueuedReplay(pub Run);

/// What a submit with an `Idempotency-Key` answers: the run it queued (202), or the run the
/// key first queued (200).
pub enum Submitted {
    Queued(Run),
    Again(Run),
}

impl Submitted {
    /// The run, new or first submitted with the key.
    pub fn into_run(self) -> Run {
        match self {
            Self::Queued(run) | Self::Again(run) => run,
        }
    }
}

/// Stores and queues `step` as a run of `project` (with `key`, at most once per key and
/// project), and records that it was submitted.
pub async fn submit(app: &AppState, project: &str, step: &Step, key: Option<&str>) -> ApiResult<Submitted> {
    let stored = serde_json::to_value(step).map_err(|e| ApiError::Internal(e.into()))?;
    match app.submits.submit(project, &stored, key).await {
        Ok((run, true)) => {
            tracing::info!(run.id = %run.id, project = %project, step.type = step.kind(), "run submitted");
            crate::metrics::run_submitted(step.kind());
            Ok(Submitted::Queued(run))
        }
        Ok((run, false)) => Ok(Submitted::Again(run)),
        Err(SubmitRefused::NoSuchProject) => Err(ApiError::NotFound(format!("project {project}"))),
        Err(SubmitRefused::Database(e)) => Err(e.into()),
    }
}

/// Stores and queues `step` as a run of `project`: without an idempotency key, every
/// submit queues a run of its own.
pub async fn queue(app: &AppState, project: &str, step: &Step) -> ApiResult<Queued> {
    Ok(Queued(submit(app, project, step, None).await?.into_run()))
}

/// Wakes the workers for a replay the store just queued (a run of its own, `replay_of`
/// the run it replays), records that it was submitted, and answers it.
pub async fn replay_queued(app: &AppState, replay: Uuid, of: Uuid) -> ApiResult<QueuedReplay> {
    app.wakeups.submitted();
    tracing::info!(run.id = %replay, replay_of = %of, "replay submitted");
    crate::metrics::run_submitted("replay");
    let mut run = runs::get(&app.db, replay)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run {replay}")))?;
    run.replay_of = Some(of);
    Ok(QueuedReplay(run))
}

impl IntoResponse for Queued {
    fn into_response(self) -> Response {
        (StatusCode::ACCEPTED, Json(self.0)).into_response()
    }
}

impl IntoResponse for QueuedReplay {
    fn into_response(self) -> Response {
        Queued(self.0).into_response()
    }
}

impl IntoResponse for Submitted {
    fn into_response(self) -> Response {
        match self {
            Self::Queued(run) => Queued(run).into_response(),
            Self::Again(run) => (StatusCode::OK, Json(run)).into_response(),
        }
    }
}

impl IntoResponses for Queued {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        [("202".to_string(), run_answer("queued", &[]))].into()
    }
}

impl IntoResponses for QueuedReplay {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        let diff = [("GetReplayDiff", "get_replay_diff")];
        [("202".to_string(), run_answer("the replay, queued", &diff))].into()
    }
}

impl IntoResponses for Submitted {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        let again = run_answer("the run first submitted with this Idempotency-Key", &[]);
        let mut responses = Queued::responses();
        responses.insert("200".to_string(), again);
        responses
    }
}

/// The links every answer holding a run offers: what a client does next with it.
const RUN_LINKS: [(&str, &str); 4] = [
    ("GetRun", "get_run"),
    ("GetRunLogs", "get_run_logs"),
    ("CancelRun", "cancel_run"),
    ("StreamRunEvents", "stream_run_events"),
];

/// An answer holding a run, with [`RUN_LINKS`] and `more` links, each taking the run's id.
fn run_answer(description: &str, more: &[(&str, &str)]) -> RefOr<utoipa::openapi::response::Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Run"))).build();
    let mut answer = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    for (name, operation) in RUN_LINKS.iter().chain(more) {
        let link = LinkBuilder::new()
            .operation_id(*operation)
            .parameter("id", "$response.body#/id")
            .build();
        answer = answer.link(*name, link);
    }
    answer.build().into()
}
