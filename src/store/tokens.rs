//! API tokens: stored as hashes, looked up on every request, revoked at once.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::access::{Caller, Role, token_hash};

/// Stores a token's hash; answers its id.
pub async fn create(
    db: impl PgExecutor<'_>,
    name: &str,
    role: Role,
    project: Option<&str>,
    token: &str,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO api_tokens (id, name, role, project, token_hash) VALUES ($1, $2, $3, $4, $5)",
        id,
        name,
        role.as_str(),
        project,
        token_hash(token),
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// The caller a token belongs to, if it exists and is not revoked.
pub async fn caller(db: impl PgExecutor<'_>, token: &str) -> sqlx::Result<Option<Caller>> {
    let row = sqlx::query!(
        "SELECT role, project FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash(token)
    )
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|row| match (Role::parse(&row.role)?, row.project) {
        (Role::Admin, _) => Some(Caller::Admin),
        (role, Some(project)) => Some(Caller::Project { project, role }),
        (_, None) => None,
    }))
}

/// Revokes a token; false when there was no such live token.
pub async fn revoke(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
