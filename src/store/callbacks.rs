//! Who answered a durable execution's callback through the API (`durable_callback_answers`).

use sqlx::PgExecutor;
use uuid::Uuid;

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
    let row = sqlx::query!(
        "SELECT answered_by, outcome FROM durable_callback_answers WHERE run_id = $1 AND callback_id = $2",
        run_id,
        callback_id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.answered_by, r.outcome)))
}

/// Whether the run's log shows the callback being created (`callback id ID`): a callback
/// is answered only through the run whose execution made it.
pub async fn created_by_run(db: impl PgExecutor<'_>, run_id: Uuid, callback_id: &str) -> sqlx::Result<bool> {
    let created = sqlx::query_scalar!(
        "SELECT message FROM run_logs WHERE run_id = $1 AND source = 'runner'
             AND message LIKE 'durable: callback % started: callback id %'",
        run_id,
    )
    .fetch_all(db)
    .await?;
    Ok(created.iter().any(|line| {
        line.split_once(": callback id ")
            .is_some_and(|(_, rest)| rest.split(',').next() == Some(callback_id))
    }))
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
