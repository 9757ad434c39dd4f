//! The queue's SQL: claim short, run unlocked, finish fenced by attempt, rescue what a
//! dead worker left behind.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::run::RunStatus;

/// A run a worker claimed.
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    pub id: Uuid,
    pub project: String,
    /// The stored step as text: parsed by the worker, so a step that cannot be read
    /// fails its own run, not the claim of the batch it came in.
    pub step: String,
    pub attempt: i32,
    /// The seq the worker's first log line takes.
    pub next_seq: i64,
    /// When it was submitted: the trace's queue wait runs from here to the claim.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The submit's trace context, which the run's spans continue.
    pub traceparent: Option<String>,
    /// The run this one replays, when it is a replay (`run_replays`).
    pub replay_of: Option<Uuid>,
}

/// Claims up to `limit` queued runs, oldest first, skipping rows other workers hold:
/// one short statement, no transaction kept open afterwards. SKIP LOCKED never waits for a
/// lock, so this statement cannot take part in a deadlock whatever order it locks in.
pub async fn claim(
    db: impl PgExecutor<'_>,
    worker: &str,
    limit: i64,
    lease_seconds: f64,
) -> sqlx::Result<Vec<ClaimedRun>> {
    sqlx::query_as!(
        ClaimedRun,
        r#"WITH next AS MATERIALIZED (
             SELECT id FROM runs WHERE status = 'queued'
             ORDER BY created_at, id LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED
         )
         UPDATE runs r SET status = 'running', attempt = r.attempt + 1, worker = $2,
             started_at = coalesce(r.started_at, now()),
             lease_expires_at = now() + make_interval(secs => $3)
         FROM next WHERE r.id = next.id
         RETURNING r.id AS "id!", r.project AS "project!", r.step::text AS "step!", r.attempt AS "attempt!",
             (SELECT coalesce(max(seq), 0) + 1 FROM run_logs WHERE run_id = r.id) AS "next_seq!",
             r.created_at AS "created_at!", r.traceparent,
             (SELECT x.replay_of FROM run_replays x WHERE x.run_id = r.id) AS "replay_of?""#,
        limit,
        worker,
        lease_seconds,
    )
    .fetch_all(db)
    .await
}

/// Extends the leases of the runs a worker still holds; returns each of them with
/// whether its cancel was asked. A held run missing from the answer lost its lease.
pub async fn heartbeat(
    db: impl PgExecutor<'_>,
    worker: &str,
    held: &[(Uuid, i32)],
    lease_seconds: f64,
) -> sqlx::Result<Vec<(Uuid, bool)>> {
    let ids: Vec<Uuid> = held.iter().map(|(id, _)| *id).collect();
    let attempts: Vec<i32> = held.iter().map(|(_, a)| *a).collect();
    let rows = sqlx::query!(
        r#"WITH held AS MATERIALIZED (
             SELECT r.id FROM runs r
             JOIN unnest($2::uuid[], $3::int[]) AS h(id, attempt) ON r.id = h.id AND r.attempt = h.attempt
             WHERE r.status = 'running' AND r.worker = $1
             ORDER BY r.id FOR NO KEY UPDATE OF r
         )
         UPDATE runs r SET lease_expires_at = now() + make_interval(secs => $4)
         FROM held WHERE r.id = held.id
         RETURNING r.id AS "id!", r.cancel_requested AS "cancel_requested!""#,
        worker,
        &ids,
        &attempts,
        lease_seconds,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.cancel_requested)).collect())
}

/// Records that the Invokes of these runs may go out now: from here they are never
/// retried. Answers the runs this attempt still holds (the others lost their lease).
/// Writing it twice is harmless, so a retry after a lost reply answers the same.
pub async fn mark_invokes_sent(db: impl PgExecutor<'_>, runs: &[(Uuid, i32)]) -> sqlx::Result<Vec<Uuid>> {
    let (ids, attempts): (Vec<Uuid>, Vec<i32>) = runs.iter().copied().unzip();
    sqlx::query_scalar!(
        r#"WITH marked AS MATERIALIZED (
             SELECT r.id FROM runs r
             JOIN unnest($1::uuid[], $2::int[]) AS m(id, attempt) ON r.id = m.id AND r.attempt = m.attempt
             WHERE r.status = 'running'
             ORDER BY r.id FOR NO KEY UPDATE OF r
         )
         UPDATE runs r SET invoke_sent = true
         FROM marked WHERE r.id = marked.id
         RETURNING r.id AS "id!""#,
        &ids,
        &attempts,
    )
    .fetch_all(db)
    .await
}

/// Remembers the function a custom-code step created, for cleanup after a crash.
pub async fn set_function_name(db: impl PgExecutor<'_>, id: Uuid, attempt: i32, name: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE runs SET function_name = $3 WHERE id = $1 AND attempt = $2",
        id,
        attempt,
        name
    )
    .execute(db)
    .await?;
    Ok(())
}

/// How one run ends.
#[derive(Debug, Clone)]
pub struct Finish {
    pub id: Uuid,
    pub attempt: i32,
    pub status: RunStatus,
    pub result: Option<serde_json::Value>,
    pub error: Option<serde_json::Value>,
}

/// Finishes runs, each only if its attempt still holds it (the caller wakes their log
/// readers: see queue/wake.rs). Answers the runs finished (the others were taken over by another worker). A finish
/// that had already landed for this attempt and worker, as when the reply to an earlier
/// try was lost with its connection, is answered as finished again, not as taken over.
pub async fn finish_many(db: impl PgExecutor<'_>, worker: &str, finishes: &[Finish]) -> sqlx::Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = finishes.iter().map(|f| f.id).collect();
    let attempts: Vec<i32> = finishes.iter().map(|f| f.attempt).collect();
    let statuses: Vec<&str> = finishes.iter().map(|f| f.status.as_str()).collect();
    let results: Vec<Option<serde_json::Value>> = finishes.iter().map(|f| f.result.clone()).collect();
    let errors: Vec<Option<serde_json::Value>> = finishes.iter().map(|f| f.error.clone()).collect();
    // `as _`: Postgres arrays of nullable jsonb, which the macro's type check cannot name.
    sqlx::query_scalar!(
        r#"WITH f AS (
             SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::jsonb[], $5::jsonb[])
                 AS f(id, attempt, status, result, error)
         ), held AS MATERIALIZED (
             SELECT r.id FROM runs r JOIN f ON r.id = f.id AND r.attempt = f.attempt
             WHERE r.status = 'running'
             ORDER BY r.id FOR NO KEY UPDATE OF r
         ), done AS (
             UPDATE runs r SET status = f.status, result = f.result, error = f.error,
                 finished_at = now(), lease_expires_at = NULL
             FROM held JOIN f ON f.id = held.id
             WHERE r.id = held.id
             RETURNING r.id
         ), landed_before AS (
             SELECT r.id FROM runs r JOIN f ON r.id = f.id AND r.attempt = f.attempt
             WHERE r.worker = $6 AND r.status = f.status AND r.finished_at IS NOT NULL
         )
         SELECT id AS "id!" FROM done
         UNION ALL SELECT id FROM landed_before"#,
        &ids,
        &attempts,
        &statuses as _,
        &results as _,
        &errors as _,
        worker,
    )
    .fetch_all(db)
    .await
}

/// Gives a run back to the queue (shutdown before its Invoke went out).
pub async fn release(db: impl PgExecutor<'_>, id: Uuid, attempt: i32) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE runs SET status = 'queued', worker = NULL, lease_expires_at = NULL
         WHERE id = $1 AND attempt = $2 AND status = 'running' AND NOT invoke_sent",
        id,
        attempt,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What the rescuer did with one run whose lease had expired.
#[derive(Debug)]
pub struct Rescued {
    pub id: Uuid,
    /// `queued`, `cancelled` or `failed`.
    pub status: RunStatus,
}

/// Runs whose worker stopped heart-beating: cancelled if cancel was asked, failed as
/// `outcome_unknown` if an Invoke may have gone out (never sent twice), else queued again.
/// Each gets a log line saying what happened. The error documents written here carry
/// the codes `RunErrorCode::Cancelled` and `RunErrorCode::OutcomeUnknown` as serde spells them.
///
/// Two kinds of expired lease are left alone, because their worker may be alive and
/// holding Lambda's answer: the runs `in_hand` of the replica asking (it is alive, and
/// settles them itself), and every lease while the database has been up for less than
/// `lease_seconds` (a lease that ran out while the database was down says nothing about
/// its worker: no worker could renew it; each live one renews it within a lease of the
/// restart). So a database restart of any length never fails a run a live replica holds.
pub async fn rescue_expired(
    db: impl PgExecutor<'_>,
    in_hand: &[Uuid],
    lease_seconds: f64,
) -> sqlx::Result<Vec<Rescued>> {
    sqlx::query_as!(
        Rescued,
        r#"WITH expired AS MATERIALIZED (
             SELECT id FROM runs
             WHERE status = 'running' AND lease_expires_at < now()
               AND id <> ALL($1::uuid[])
               AND pg_postmaster_start_time() < now() - make_interval(secs => $2)
             ORDER BY id LIMIT 500 FOR NO KEY UPDATE SKIP LOCKED
         ), moved AS (
             UPDATE runs r SET
                 status = CASE WHEN r.cancel_requested THEN 'cancelled'
                               WHEN r.invoke_sent THEN 'failed' ELSE 'queued' END,
                 error = CASE WHEN r.cancel_requested THEN '{"code": "cancelled", "message": "cancelled; its worker stopped"}'::jsonb
                              WHEN r.invoke_sent THEN '{"code": "outcome_unknown", "message": "the worker running this step stopped after the Invoke may have been sent; it is not sent again"}'::jsonb END,
                 finished_at = CASE WHEN r.cancel_requested OR r.invoke_sent THEN now() END,
                 lease_expires_at = NULL, worker = NULL
             FROM expired WHERE r.id = expired.id
             RETURNING r.id, r.status
         ), logged AS (
             INSERT INTO run_logs (run_id, seq, time, level, message, phase)
             SELECT m.id, coalesce((SELECT max(seq) FROM run_logs l WHERE l.run_id = m.id), 0) + 1, now(), 'warn',
                    CASE m.status WHEN 'queued' THEN 'its worker stopped before invoking; queued again'
                                  WHEN 'cancelled' THEN 'cancelled; its worker stopped'
                                  ELSE 'its worker stopped after the Invoke may have been sent: outcome unknown, not sent again' END,
                    CASE m.status WHEN 'queued' THEN 'queued' ELSE 'finished' END
             FROM moved m
         )
         SELECT id AS "id!", status AS "status!: RunStatus" FROM moved"#,
        in_hand,
        lease_seconds,
    )
    .fetch_all(db)
    .await
}
