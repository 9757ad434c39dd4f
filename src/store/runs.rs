//! Runs as the API reads and writes them: submit (idempotent), read, list, cancel.

use sqlx::{PgExecutor, Postgres, Transaction};

use uuid::Uuid;

use crate::domain::run::{Run, RunError, RunResult, RunStatus};

/// A row of `runs` as the API shows it. The JSON columns come as text (`step::text AS step`),
/// parsed row by row (see [`super::json_column`]); every statement below selects the same
/// columns in this order.
struct RunRow {
    id: Uuid,
    project: String,
    status: RunStatus,
    step: String,
    attempt: i32,
    created_at: chrono::DateTime<chrono::Utc>,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    result: Option<String>,
    error: Option<String>,
    function_name: Option<String>,
    traceparent: Option<String>,
}

impl From<RunRow> for Run {
    fn from(row: RunRow) -> Self {
        Run {
            id: row.id,
            project: row.project,
            status: row.status,
            step: super::json_column(&row.step, "step"),
            attempt: row.attempt,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            result: row.result.and_then(|r| serde_json::from_str::<RunResult>(&r).ok()),
            error: row.error.and_then(|e| serde_json::from_str::<RunError>(&e).ok()),
            function_name: row.function_name,
            trace_id: row
                .traceparent
                .as_deref()
                .and_then(crate::telemetry::context::trace_id_of),
            replay_of: None,
            replays: Vec::new(),
        }
    }
}

/// Why a submit stored nothing.
#[derive(Debug)]
pub enum SubmitRefused {
    NoSuchProject,
    Database(sqlx::Error),
}

/// Stores a queued run with its first log line, in one statement (the caller wakes the
/// workers: see queue/wake.rs). With an idempotency key already used in the project,
/// returns the first run instead (`false`: nothing was created).
pub async fn submit(
    db: &sqlx::PgPool,
    project: &str,
    step: &serde_json::Value,
    idempotency_key: Option<&str>,
    traceparent: Option<&str>,
) -> Result<(Run, bool), SubmitRefused> {
    let first_line = format!("queued {} step", step["type"].as_str().unwrap_or("unknown"));
    let inserted = sqlx::query_as!(
        RunRow,
        r#"WITH inserted AS (
             INSERT INTO runs (id, project, status, step, idempotency_key, traceparent)
             VALUES ($1, $2, 'queued', $3, $4, $6)
             ON CONFLICT (project, idempotency_key) DO NOTHING
             RETURNING id, project, status, step::text AS step, attempt, created_at, started_at, finished_at,
                 result::text AS result, error::text AS error, function_name, traceparent
         ), first_line AS (
             INSERT INTO run_logs (run_id, seq, time, level, message, phase)
             SELECT id, 1, created_at, 'info', $5, 'queued' FROM inserted
         )
         SELECT id AS "id!", project AS "project!", status AS "status!: RunStatus", step AS "step!",
             attempt AS "attempt!", created_at AS "created_at!", started_at, finished_at, result, error,
             function_name, traceparent
         FROM inserted"#,
        Uuid::new_v4(),
        project,
        step,
        idempotency_key,
        first_line,
        traceparent,
    )
    .fetch_optional(db)
    .await;
    match inserted {
        Ok(Some(row)) => Ok((row.into(), true)),
        Ok(None) => {
            let existing = sqlx::query_as!(
                RunRow,
                r#"SELECT id, project, status AS "status: RunStatus", step::text AS "step!", attempt, created_at,
                     started_at, finished_at, result::text AS result, error::text AS error, function_name, traceparent
                 FROM runs WHERE project = $1 AND idempotency_key = $2"#,
                project,
                idempotency_key,
            )
            .fetch_one(db)
            .await
            .map_err(SubmitRefused::Database)?;
            Ok((existing.into(), false))
        }
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Err(SubmitRefused::NoSuchProject),
        Err(e) => Err(SubmitRefused::Database(e)),
    }
}

/// A run to store, without an idempotency key. Its id is chosen before the write, so a
/// write tried again after its reply was lost finds the run instead of making another.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: Uuid,
    pub project: String,
    pub step: serde_json::Value,
    /// The submit's trace context, when traces are exported (see `telemetry`).
    pub traceparent: Option<String>,
}

/// Which runs of a batch of submits this replica's idle workers take at once
/// (queue/handoff.rs): the first `runs` of the batch, stored already claimed by `worker`.
#[derive(Debug, Clone, Copy)]
pub struct ClaimedBySubmit<'a> {
    pub worker: &'a str,
    pub lease_seconds: f64,
    pub runs: usize,
}

/// A run a submit stored.
pub struct Submitted {
    /// As the API answers it: as it was queued (a worker may have it already).
    pub run: Run,
    /// The stored step as text, when the run was stored claimed by this replica.
    pub claimed_step: Option<String>,
}

/// Stores runs, each with its first log line, in one statement (the caller wakes the
/// workers): queued, or the first `claimed.runs` already claimed (`running`, attempt 1,
/// leased to `claimed.worker`), as a claim of a queued run would leave them. Answers the
/// runs stored; a run whose id is stored already is left as it is and not answered. A
/// project that does not exist fails the whole statement.
pub async fn submit_many(
    db: impl PgExecutor<'_>,
    runs: &[NewRun],
    claimed: Option<ClaimedBySubmit<'_>>,
) -> sqlx::Result<Vec<Submitted>> {
    let ids: Vec<Uuid> = runs.iter().map(|r| r.id).collect();
    let projects: Vec<&str> = runs.iter().map(|r| r.project.as_str()).collect();
    let steps: Vec<&serde_json::Value> = runs.iter().map(|r| &r.step).collect();
    let traceparents: Vec<Option<&str>> = runs.iter().map(|r| r.traceparent.as_deref()).collect();
    let first_lines: Vec<String> = runs
        .iter()
        .map(|r| format!("queued {} step", r.step["type"].as_str().unwrap_or("unknown")))
        .collect();
    let taken = claimed.map_or(0, |c| c.runs);
    let claims: Vec<bool> = (0..runs.len()).map(|i| i < taken).collect();
    // `as _`: text and jsonb arrays of borrowed values, which the macro's type check cannot name.
    let rows = sqlx::query_as!(
        RunRow,
        r#"WITH new AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::text[], $5::bool[], $8::text[])
                 AS n(id, project, step, first_line, claimed, traceparent)
         ), inserted AS (
             INSERT INTO runs (id, project, status, step, attempt, worker, started_at, lease_expires_at, traceparent)
             SELECT id, project, CASE WHEN claimed THEN 'running' ELSE 'queued' END, step,
                 CASE WHEN claimed THEN 1 ELSE 0 END, CASE WHEN claimed THEN $6 END,
                 CASE WHEN claimed THEN now() END,
                 CASE WHEN claimed THEN now() + make_interval(secs => $7) END,
                 traceparent
             FROM new
             ON CONFLICT DO NOTHING
             RETURNING id, project, status, step::text AS step, attempt, created_at, started_at, finished_at,
                 result::text AS result, error::text AS error, function_name, traceparent
         ), first_line AS (
             INSERT INTO run_logs (run_id, seq, time, level, message, phase)
             SELECT i.id, 1, i.created_at, 'info', n.first_line, 'queued' FROM inserted i JOIN new n ON n.id = i.id
         )
         SELECT id AS "id!", project AS "project!", status AS "status!: RunStatus", step AS "step!",
             attempt AS "attempt!", created_at AS "created_at!", started_at, finished_at, result, error,
             function_name, traceparent
         FROM inserted"#,
        &ids,
        &projects as _,
        &steps as _,
        &first_lines,
        &claims,
        claimed.map(|c| c.worker),
        claimed.map_or(0.0, |c| c.lease_seconds),
        &traceparents as _,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let claimed_step = (row.status == RunStatus::Running).then(|| row.step.clone());
            let mut run = Run::from(row);
            run.status = RunStatus::Queued;
            run.attempt = 0;
            run.started_at = None;
            Submitted { run, claimed_step }
        })
        .collect())
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Run>> {
    let row = sqlx::query_as!(
        RunRow,
        r#"SELECT id, project, status AS "status: RunStatus", step::text AS "step!", attempt, created_at,
             started_at, finished_at, result::text AS result, error::text AS error, function_name, traceparent
         FROM runs WHERE id = $1"#,
        id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(Run::from))
}

/// The project a run belongs to (for access checks).
pub async fn project_of(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT project FROM runs WHERE id = $1", id)
        .fetch_optional(db)
        .await
}

/// Just the status of a run (log readers poll it).
pub async fn status(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<RunStatus>> {
    sqlx::query_scalar!(r#"SELECT status AS "status: RunStatus" FROM runs WHERE id = $1"#, id)
        .fetch_optional(db)
        .await
}

/// A page of a project's runs, newest first, after the cursor `(created_at, id)`.
pub async fn list(
    db: impl PgExecutor<'_>,
    project: &str,
    status: Option<RunStatus>,
    before: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Run>> {
    let rows = sqlx::query_as!(
        RunRow,
        r#"SELECT id, project, status AS "status: RunStatus", step::text AS "step!", attempt, created_at,
             started_at, finished_at, result::text AS result, error::text AS error, function_name, traceparent
         FROM runs
         WHERE project = $1 AND ($2::text IS NULL OR status = $2)
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
         ORDER BY created_at DESC, id DESC LIMIT $5"#,
        project,
        status.map(RunStatus::as_str),
        before.map(|(t, _)| t),
        before.map(|(_, id)| id),
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Run::from).collect())
}

/// How many runs wait in the queue (the queue-depth gauge).
pub async fn queued_count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM runs WHERE status = 'queued'"#)
        .fetch_one(db)
        .await
}

/// What the sweeper needs to know of the run that created a function.
pub struct FunctionOwner {
    pub status: RunStatus,
    /// The step's `keep_function`, when it has one.
    pub keep_function: Option<bool>,
}

/// The run a custom-code function belongs to, if this database has it.
pub async fn function_owner(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<FunctionOwner>> {
    sqlx::query_as!(
        FunctionOwner,
        r#"SELECT status AS "status: RunStatus", (step->>'keep_function')::boolean AS keep_function
         FROM runs WHERE id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// What a cancel request did.
pub enum Cancelled {
    /// It was queued: it is cancelled and will never start.
    Queued,
    /// It is running: its worker was told to stop.
    Running,
    /// It had already finished (or was already being cancelled).
    Nothing,
}

/// Cancels a queued run at once, or asks the worker of a running one to stop.
pub async fn cancel(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> sqlx::Result<Cancelled> {
    // The code is `RunErrorCode::Cancelled` as serde spells it.
    let queued = sqlx::query!(
        r#"UPDATE runs SET status = 'cancelled', finished_at = now(),
           error = '{"code": "cancelled", "message": "cancelled before it started"}'
         WHERE id = $1 AND status = 'queued'"#,
        id,
    )
    .execute(&mut **tx)
    .await?;
    if queued.rows_affected() == 1 {
        sqlx::query!(
            "INSERT INTO run_logs (run_id, seq, time, level, message, phase)
             SELECT $1, coalesce(max(seq), 0) + 1, now(), 'warn', 'cancelled before it started', 'finished'
             FROM run_logs WHERE run_id = $1",
            id,
        )
        .execute(&mut **tx)
        .await?;
        notify_logs(&mut **tx, &[id]).await?;
        return Ok(Cancelled::Queued);
    }
    let running = sqlx::query!(
        "UPDATE runs SET cancel_requested = true WHERE id = $1 AND status = 'running' AND NOT cancel_requested",
        id,
    )
    .execute(&mut **tx)
    .await?;
    if running.rows_affected() == 1 {
        sqlx::query!("SELECT pg_notify($1, $2)", super::RUNS_CHANNEL, format!("cancel:{id}"))
            .execute(&mut **tx)
            .await?;
        return Ok(Cancelled::Running);
    }
    Ok(Cancelled::Nothing)
}

/// Wakes log readers of these runs: one statement, one notification per
/// `RUN_IDS_PER_NOTIFICATION` ids, each id whole.
pub async fn notify_logs(db: impl PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_notify($1, string_agg(id::text, ',' ORDER BY n))
         FROM unnest($2::uuid[]) WITH ORDINALITY AS u(id, n)
         GROUP BY (n - 1) / $3",
        super::LOGS_CHANNEL,
        ids,
        super::RUN_IDS_PER_NOTIFICATION,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Tells the other replicas, in one statement, that runs were queued (`submitted`) and that
/// the logs or statuses of `moved` runs moved (one notification per
/// `RUN_IDS_PER_NOTIFICATION` ids, each id whole). Sent alone, outside any writer's
/// transaction (see queue/wake.rs).
pub async fn notify_replicas(db: impl PgExecutor<'_>, submitted: bool, moved: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_notify($1, 'submit') WHERE $2
         UNION ALL
         SELECT pg_notify($3, string_agg(id::text, ',' ORDER BY n))
         FROM unnest($4::uuid[]) WITH ORDINALITY AS u(id, n)
         GROUP BY (n - 1) / $5",
        super::RUNS_CHANNEL,
        submitted,
        super::LOGS_CHANNEL,
        moved,
        super::RUN_IDS_PER_NOTIFICATION,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Wakes the workers of every replica (a run was queued again).
pub async fn notify_submitted(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_notify($1, 'submit')", super::RUNS_CHANNEL)
        .execute(db)
        .await?;
    Ok(())
}
