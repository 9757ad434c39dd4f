//! A run's log: polled with `?after=SEQ`, or streamed as Server-Sent Events that resume
//! from `Last-Event-ID`. Any replica serves any run: a stream reads its backlog, then
//! follows the run's feed, which reads each new batch once for all of this replica's
//! readers (queue/log_feed), woken by the writer here, by NOTIFY from other replicas, and
//! by a slow timer, so nothing is missed.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error_responses::{AuthenticatedErrors, RunNotFound, Unprocessable};
use crate::app::AppState;
use crate::domain::access::Caller;
use crate::domain::run::RunStatus;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::QueryParams;
use crate::queue::log_feed::Fed;
use crate::store::logs::{LogEntry, last_seq, read_after};
use crate::store::runs;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Entries with a seq above this (default 0: from the start).
    after: Option<i64>,
    /// 1 to 5000 (default 1000).
    #[param(minimum = 1, maximum = 5000)]
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LogPage {
    pub items: Vec<LogEntry>,
    /// Pass as `after` for the next call.
    pub next_after: i64,
    /// The highest seq the run's log holds so far (0 when none): with seqs numbered from 1
    /// as lines are written, how long the log is now, so a reader can page to its end.
    pub last_seq: i64,
    pub status: RunStatus,
    /// True only once the run is finished and no entry is left to read.
    pub completed: bool,
}

/// Log entries after a seq.
#[utoipa::path(get, path = "/v1/runs/{id}/logs", tag = "logs", operation_id = "get_run_logs", params(("id" = uuid::Uuid, Path, description = "The run's id"), LogQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "entries after `after`, in order", body = LogPage),
        AuthenticatedErrors,
        RunNotFound,
        Unprocessable
    ))]
pub async fn poll(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<LogQuery>,
) -> ApiResult<Json<LogPage>> {
    let id = super::run_id(&id)?;
    readable(&app, &caller, id).await?;
    let after = query.after.unwrap_or(0).max(0);
    let limit = query.limit.unwrap_or(1000);
    if !(1..=5000).contains(&limit) {
        return Err(ApiError::InvalidField {
            field: "limit".into(),
            message: "must be between 1 and 5000".into(),
        });
    }
    // Status first: a run is finished only after all its lines are stored.
    let status = runs::status(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))?;
    let items = read_after(&app.db, id, after, limit).await?;
    let last_seq = last_seq(&app.db, id).await?.max(items.last().map_or(0, |e| e.seq));
    let next_after = items.last().map_or(after, |e| e.seq);
    let completed = status.is_finished() && (items.len() as i64) < limit;
    Ok(Json(LogPage {
        items,
        next_after,
        last_seq,
        status,
        completed,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this seq (the `Last-Event-ID` header wins).
    after: Option<i64>,
}

/// The log as Server-Sent Events: `log` events (`id:` is the seq, data a log entry),
/// `status` when the status changes, and a final `end` once the run is finished and every
/// line was sent. Reconnect with `Last-Event-ID` to resume without a gap or a duplicate.
#[utoipa::path(get, path = "/v1/runs/{id}/events", tag = "logs", operation_id = "stream_run_events",
    params(("id" = uuid::Uuid, Path, description = "The run's id"), EventsQuery, ("Last-Event-ID" = Option<String>, Header, description = "The seq of the last event seen: resume after it (a value that is not a seq is ignored)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the log as Server-Sent Events, until the run is over", body = super::spec::RunEvent, content_type = "text/event-stream"),
        AuthenticatedErrors,
        RunNotFound,
        Unprocessable
    ))]
pub async fn events(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let id = super::run_id(&id)?;
    readable(&app, &caller, id).await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = resume.or(query.after).unwrap_or(0).max(0);
    Ok(Sse::new(stream(app, id, after)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A run the caller may read; 404 otherwise, exactly as for a run that does not exist.
async fn readable(app: &AppState, caller: &Caller, id: uuid::Uuid) -> ApiResult<()> {
    runs::project_of(&app.db, id)
        .await?
        .filter(|project| caller.may_read(project))
        .map(|_| ())
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))
}

/// The SSE events of `run`'s log after seq `after`.
fn stream(app: AppState, id: uuid::Uuid, after: i64) -> impl Stream<Item = Result<Event, Infallible>> {
    app.feeds.read(id, after).map(|fed| {
        Ok(match fed {
            Fed::Line(line) => Event::default().event("log").id(line.seq.to_string()).data(&*line.json),
            Fed::Status(status) => Event::default()
                .event("status")
                .data(serde_json::json!({"status": status}).to_string()),
            Fed::End { status, last_seq } => Event::default()
                .event("end")
                .data(serde_json::json!({"status": status, "last_seq": last_seq}).to_string()),
        })
    })
}
