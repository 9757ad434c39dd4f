//! Replays: a replay is a run of its own (its step is the original's) with a row in
//! `run_replays` naming the original and the caller's choices for side effects.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::replay::{RecordedFunction, ReplayCredentials, ReplayRequest};
use crate::domain::run::Run;

/// Stores a queued replay of `original`, with its first log line and its `run_replays` row,
/// in one statement (the caller wakes the workers). Answers the new run's id.
pub async fn create(
    db: impl PgExecutor<'_>,
    original: &Run,
    request: &ReplayRequest,
    recorded: Option<&RecordedFunction>,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    let kind = original.step["type"].as_str().unwrap_or("unknown");
    let first_line = format!(
        "queued replay of run {} ({kind} step) on the embedded engine",
        original.id
    );
    let recorded = recorded.and_then(|r| serde_json::to_value(r).ok());
    sqlx::query!(
        r#"WITH inserted AS (
             INSERT INTO runs (id, project, status, step) VALUES ($1, $2, 'queued', $3)
             RETURNING id, created_at
         ), first_line AS (
             INSERT INTO run_logs (run_id, seq, time, level, message)
             SELECT id, 1, created_at, 'info', $4 FROM inserted
         )
         INSERT INTO run_replays (run_id, replay_of, credentials, endpoint_url, accept_current_code, recorded)
         SELECT id, $5::uuid, $6::text, $7::text, $8::boolean, $9::jsonb FROM inserted"#,
        id,
        original.project,
        original.step,
        first_line,
        original.id,
        request.credentials.as_str(),
        request.endpoint_url,
        request.accept_current_code,
        recorded,
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// What a replay run was asked to do.
#[derive(Debug, Clone)]
pub struct ReplayOrder {
    pub replay_of: Uuid,
    pub credentials: ReplayCredentials,
    pub endpoint_url: Option<String>,
    pub accept_current_code: bool,
    /// The original's function as recorded when it ran (Invoke steps).
    pub recorded: Option<RecordedFunction>,
}

/// The order of a replay run; None when the run is not a replay.
pub async fn order(db: impl PgExecutor<'_>, run_id: Uuid) -> sqlx::Result<Option<ReplayOrder>> {
    let row = sqlx::query!(
        r#"SELECT replay_of, credentials, endpoint_url, accept_current_code, recorded::text AS recorded
         FROM run_replays WHERE run_id = $1"#,
        run_id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| ReplayOrder {
        replay_of: r.replay_of,
        credentials: ReplayCredentials::parse(&r.credentials).unwrap_or_default(),
        endpoint_url: r.endpoint_url,
        accept_current_code: r.accept_current_code,
        recorded: r
            .recorded
            .and_then(|text: String| serde_json::from_str::<RecordedFunction>(&text).ok()),
    }))
}

/// The run a run replays, and its replays, newest first.
pub async fn links(db: impl PgExecutor<'_> + Copy, id: Uuid) -> sqlx::Result<(Option<Uuid>, Vec<Uuid>)> {
    let of = sqlx::query_scalar!("SELECT replay_of FROM run_replays WHERE run_id = $1", id)
        .fetch_optional(db)
        .await?;
    let replays = sqlx::query_scalar!(
        "SELECT run_id FROM run_replays WHERE replay_of = $1 ORDER BY created_at DESC, run_id LIMIT 100",
        id,
    )
    .fetch_all(db)
    .await?;
    Ok((of, replays))
}

/// What a run's function printed, in order (at most `limit` lines).
pub async fn function_lines(db: impl PgExecutor<'_>, run_id: Uuid, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT message FROM run_logs WHERE run_id = $1 AND source = 'function' ORDER BY seq LIMIT $2",
        run_id,
        limit,
    )
    .fetch_all(db)
    .await
}
