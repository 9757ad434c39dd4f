//! A run's durable callbacks: those its execution created (`durable_callbacks`, written by
//! the replica following the execution) and who answered them through the API
//! (`durable_callback_answers`).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::callback::{CallbackState, RunCallback};

/// Notes who answers the run's callback and how, before Lambda is told; false when it is
/// noted already (answered through the API before, or being answered now).
pub async fn note(
    db: impl PgExecutor<'_>,
    run_id: Uuid,
    callback_id: &str,
    answered_by: &str,
    outcome: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "INSERT INTO durable_callback_answers (run_id, callback_id, answered_by, outcome)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (run_id, callback_id) DO NOTHING",
        run_id,
        callback_id,
        answered_by,
        outcome,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets a note whose answer Lambda refused (or could not be sent), so it can be
/// given again.
pub async fn forget(db: impl PgExecutor<'_>, run_id: Uuid, callback_id: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM durable_callback_answers WHERE run_id = $1 AND callback_id = $2",
        run_id,
        callback_id,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Who answered the callback and how (`approved` / `rejected`), if it was through the API.
pub async fn answered_by(
    db: impl PgExecutor<'_>,
    run_id: Uuid,
    callback_id: &str,
) -> sqlx::Result<Option<(String, String)>> {
    Ok(answer_note(db, run_id, callback_id)
        .await?
        .map(|note| (note.answered_by, note.outcome)))
}

/// A note of an answer given through the API, with when it was noted (before Lambda was
/// told).
pub struct AnswerNote {
    pub answered_by: String,
    pub outcome: String,
    pub answered_at: DateTime<Utc>,
}

pub async fn answer_note(db: impl PgExecutor<'_>, run_id: Uuid, callback_id: &str) -> sqlx::Result<Option<AnswerNote>> {
    sqlx::query_as!(
        AnswerNote,
        "SELECT answered_by, outcome, answered_at FROM durable_callback_answers WHERE run_id = $1 AND callback_id = $2",
        run_id,
        callback_id,
    )
    .fetch_optional(db)
    .await
}

/// Whether the run's execution created the callback (the follower saw its
/// `CallbackStarted`): a callback is answered only through the run whose execution made it.
pub async fn created_by_run(db: impl PgExecutor<'_>, run_id: Uuid, callback_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        "SELECT EXISTS (SELECT 1 FROM durable_callbacks WHERE run_id = $1 AND callback_id = $2) AS \"created!\"",
        run_id,
        callback_id,
    )
    .fetch_one(db)
    .await
}

/// Notes a callback the run's execution created, as its history showed it; a callback
/// noted already (the history read again by a re-attached run) is left as it is.
pub async fn started(
    db: impl PgExecutor<'_>,
    run_id: Uuid,
    callback_id: &str,
    name: Option<&str>,
    created_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO durable_callbacks (run_id, callback_id, name, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (run_id, callback_id) DO NOTHING",
        run_id,
        callback_id,
        name,
        created_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Notes how the callback ended in the history: `succeeded`, `failed` or `timed_out`.
pub async fn ended(
    db: impl PgExecutor<'_>,
    run_id: Uuid,
    callback_id: &str,
    state: &str,
    ended_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE durable_callbacks SET state = $3, ended_at = $4 WHERE run_id = $1 AND callback_id = $2",
        run_id,
        callback_id,
        state,
        ended_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The callbacks the run's execution created, oldest first, with who answered each
/// through the API.
pub async fn of_run(db: impl PgExecutor<'_>, run_id: Uuid) -> sqlx::Result<Vec<RunCallback>> {
    let rows = sqlx::query!(
        r#"SELECT c.callback_id, c.name, c.state, c.created_at, c.ended_at,
                  a.answered_by AS "answered_by?", a.outcome AS "answer?", a.answered_at AS "answered_at?"
             FROM durable_callbacks c
             LEFT JOIN durable_callback_answers a USING (run_id, callback_id)
            WHERE c.run_id = $1
            ORDER BY c.created_at, c.callback_id"#,
        run_id,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RunCallback {
            state: CallbackState::of(&r.state, r.answer.as_deref()),
            callback_id: r.callback_id,
            name: r.name,
            created_at: r.created_at,
            ended_at: r.ended_at,
            answered_by: r.answered_by,
            answer: r.answer,
            answered_at: r.answered_at,
        })
        .collect())
}

/// The name an API token is known by in a run's log: `token NAME (ROLE, id ID)`, None
/// when the token is not a stored one (the bootstrap admin token).
pub async fn token_label(db: impl PgExecutor<'_>, token_hash: &[u8]) -> sqlx::Result<Option<String>> {
    let row = sqlx::query!(
        "SELECT id, name, role FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| format!("token \"{}\" ({}, id {})", r.name, r.role, r.id)))
}
