//! Saved step definitions, and the webhooks bound to them.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::key_storage::Sealed;

/// Stores or replaces a saved step; true when it was new.
pub async fn put(db: impl PgExecutor<'_>, project: &str, name: &str, step: &serde_json::Value) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"INSERT INTO saved_steps (project, name, step) VALUES ($1, $2, $3)
         ON CONFLICT (project, name) DO UPDATE SET step = excluded.step, updated_at = now()
         RETURNING (xmax = 0) AS "inserted!""#,
        project,
        name,
        step
    )
    .fetch_one(db)
    .await
}

pub async fn get(db: impl PgExecutor<'_>, project: &str, name: &str) -> sqlx::Result<Option<serde_json::Value>> {
    let step = sqlx::query_scalar!(
        r#"SELECT step::text AS "step!" FROM saved_steps WHERE project = $1 AND name = $2"#,
        project,
        name
    )
    .fetch_optional(db)
    .await?;
    Ok(step.map(|text| super::json_column(&text, "step")))
}

pub async fn create_hook(
    db: impl PgExecutor<'_>,
    project: &str,
    step: &str,
    secret: Option<&Sealed>,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO webhooks (id, project, step_name, secret_nonce, secret_ciphertext) VALUES ($1, $2, $3, $4, $5)",
        id,
        project,
        step,
        secret.map(|s| s.nonce.as_slice()),
        secret.map(|s| s.ciphertext.as_slice()),
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// A hook's project, saved step and sealed secret.
pub struct Hook {
    pub project: String,
    pub step: serde_json::Value,
    pub secret: Option<Sealed>,
}

pub async fn hook(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Hook>> {
    let row = sqlx::query!(
        r#"SELECT h.project, s.step::text AS "step!", h.secret_nonce, h.secret_ciphertext
         FROM webhooks h JOIN saved_steps s ON s.project = h.project AND s.name = h.step_name WHERE h.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| Hook {
        project: row.project,
        step: super::json_column(&row.step, "step"),
        secret: row
            .secret_nonce
            .zip(row.secret_ciphertext)
            .map(|(nonce, ciphertext)| Sealed { nonce, ciphertext }),
    }))
}

/// A project's saved steps by name, after the name `after` when given, at most `limit`.
pub async fn list(
    db: impl PgExecutor<'_>,
    project: &str,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<(String, serde_json::Value)>> {
    let rows = sqlx::query!(
        r#"SELECT name, step::text AS "step!" FROM saved_steps
         WHERE project = $1 AND ($2::text IS NULL OR name > $2)
         ORDER BY name LIMIT $3"#,
        project,
        after,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.name, super::json_column(&row.step, "step")))
        .collect())
}
