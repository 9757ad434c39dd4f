//! Key storage: secrets sealed under the master key; metadata is all that ever leaves.

use sqlx::PgExecutor;

use crate::key_storage::Sealed;

/// What the API shows of a stored secret.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct KeyMetadata {
    pub path: String,
    /// Bytes of the secret.
    pub size: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Stores or replaces a secret; true when it was new.
pub async fn put(
    db: impl PgExecutor<'_>,
    path: &str,
    sealed: &Sealed,
    size: usize,
) -> sqlx::Result<(KeyMetadata, bool)> {
    let row = sqlx::query!(
        r#"INSERT INTO secrets (path, nonce, ciphertext, size) VALUES ($1, $2, $3, $4)
         ON CONFLICT (path) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext,
             size = excluded.size, updated_at = now()
         RETURNING path, size, created_at, updated_at, (xmax = 0) AS "inserted!""#,
        path,
        &sealed.nonce,
        &sealed.ciphertext,
        size as i32,
    )
    .fetch_one(db)
    .await?;
    Ok((
        KeyMetadata {
            path: row.path,
            size: row.size,
            created_at: row.created_at,
            updated_at: row.updated_at,
        },
        row.inserted,
    ))
}

pub async fn metadata(db: impl PgExecutor<'_>, path: &str) -> sqlx::Result<Option<KeyMetadata>> {
    sqlx::query_as!(
        KeyMetadata,
        "SELECT path, size, created_at, updated_at FROM secrets WHERE path = $1",
        path
    )
    .fetch_optional(db)
    .await
}

/// Secrets whose path starts with `prefix`, by path.
pub async fn list(db: impl PgExecutor<'_>, prefix: &str) -> sqlx::Result<Vec<KeyMetadata>> {
    sqlx::query_as!(
        KeyMetadata,
        "SELECT path, size, created_at, updated_at FROM secrets WHERE starts_with(path, $1) ORDER BY path LIMIT 1000",
        prefix
    )
    .fetch_all(db)
    .await
}

pub async fn delete(db: impl PgExecutor<'_>, path: &str) -> sqlx::Result<bool> {
    let done = sqlx::query!("DELETE FROM secrets WHERE path = $1", path)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The sealed secret, for the worker to open in memory.
pub async fn sealed(db: impl PgExecutor<'_>, path: &str) -> sqlx::Result<Option<Sealed>> {
    sqlx::query_as!(Sealed, "SELECT nonce, ciphertext FROM secrets WHERE path = $1", path)
        .fetch_optional(db)
        .await
}
