//! Run logs: ordered rows `(run_id, seq, time, level, source, phase, message)`, written in batches.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::run::{LogLevel, LogSource, RunPhase};

/// One line of a run's log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LogEntry {
    pub seq: i64,
    /// When it happened: for a function's line, when the function printed it (its
    /// CloudWatch event time) where that is known, else when the service read it.
    pub time: chrono::DateTime<chrono::Utc>,
    pub level: LogLevel,
    pub source: LogSource,
    /// The phase the run was in when the service wrote this line; absent on the function's
    /// own lines (and on lines stored before phases were).
    pub phase: Option<RunPhase>,
    pub message: String,
}

/// A line waiting to be written, with its run.
#[derive(Debug, Clone)]
pub struct NewLogLine {
    pub run_id: Uuid,
    pub seq: i64,
    pub time: chrono::DateTime<chrono::Utc>,
    pub level: LogLevel,
    pub source: LogSource,
    pub phase: Option<RunPhase>,
    pub message: String,
    /// Stored only while this attempt holds the run (`running`); None: always stored.
    pub held_by: Option<i32>,
}

/// Writes many lines of many runs in one statement; a line held by an attempt that no
/// longer holds its run is left out.
pub async fn insert_batch(db: impl PgExecutor<'_>, lines: &[NewLogLine]) -> sqlx::Result<()> {
    let run_ids: Vec<Uuid> = lines.iter().map(|l| l.run_id).collect();
    let seqs: Vec<i64> = lines.iter().map(|l| l.seq).collect();
    let times: Vec<chrono::DateTime<chrono::Utc>> = lines.iter().map(|l| l.time).collect();
    let levels: Vec<&str> = lines.iter().map(|l| l.level.as_str()).collect();
    let sources: Vec<&str> = lines.iter().map(|l| l.source.as_str()).collect();
    let phases: Vec<Option<&str>> = lines.iter().map(|l| l.phase.map(RunPhase::as_str)).collect();
    // Postgres text cannot hold NUL bytes, which function output may contain.
    let messages: Vec<String> = lines.iter().map(|l| l.message.replace('\0', "\u{FFFD}")).collect();
    let held_by: Vec<Option<i32>> = lines.iter().map(|l| l.held_by).collect();
    sqlx::query!(
        "INSERT INTO run_logs (run_id, seq, time, level, source, phase, message)
         SELECT l.run_id, l.seq, l.time, l.level, l.source, l.phase, l.message
         FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::int[],
                     $8::text[])
              AS l(run_id, seq, time, level, source, message, held_by, phase)
         WHERE l.held_by IS NULL
            OR EXISTS (SELECT 1 FROM runs r WHERE r.id = l.run_id AND r.attempt = l.held_by AND r.status = 'running')
         ON CONFLICT DO NOTHING",
        &run_ids,
        &seqs,
        &times,
        &levels as _,
        &sources as _,
        &messages,
        &held_by as _,
        &phases as _,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The highest seq stored for a run so far (0 when it has no line yet): how long its log is.
pub async fn last_seq(db: impl PgExecutor<'_>, run_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT coalesce(max(seq), 0) AS "last!" FROM run_logs WHERE run_id = $1"#,
        run_id
    )
    .fetch_one(db)
    .await
}

/// Lines of a run after `after`, in order, at most `limit`.
pub async fn read_after(db: impl PgExecutor<'_>, run_id: Uuid, after: i64, limit: i64) -> sqlx::Result<Vec<LogEntry>> {
    sqlx::query_as!(
        LogEntry,
        r#"SELECT seq, time, level AS "level: LogLevel", source AS "source: LogSource",
             phase AS "phase: RunPhase", message FROM run_logs
         WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"#,
        run_id,
        after,
        limit
    )
    .fetch_all(db)
    .await
}

/// When the function printed the newest of its lines stored in a run's log, if any: where a
/// later attempt of the run goes on reading the function's log.
pub async fn newest_function_line(
    db: impl PgExecutor<'_>,
    run_id: Uuid,
) -> sqlx::Result<Option<chrono::DateTime<chrono::Utc>>> {
    sqlx::query_scalar!(
        "SELECT max(time) FROM run_logs WHERE run_id = $1 AND source = 'function'",
        run_id
    )
    .fetch_one(db)
    .await
}
