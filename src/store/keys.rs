//! Key storage: secrets sealed under the master key; metadata is all that ever leaves.

use sqlx::PgExecutor;

use crate::key_storage::Sealed;

/// What the API shows of a stored secret.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
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
    let row: (
        String,
        i32,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        bool,
    ) = sqlx::query_as(
        "INSERT INTO secrets (path, nonce, ciphertext, size) VALUES ($1, $2, $3, $4)
         ON CONFLICT (path) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext,
             size = excluded.size, updated_at = now()
         RETURNING path, size, created_at, updated_at, (xmax = 0) AS inserted",
    )
    .bind(path)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .bind(size as i32)
    .fetch_one(db)
    .await?;
    Ok((
        KeyMetadata {
            path: row.0,
            size: row.1,
            created_at: row.2,
            updated_at: row.3,
        },
        row.4,
    ))
}

pub async fn metadata(db: impl PgExecutor<'_>, path: &str) -> sqlx::Result<Option<KeyMetadata>> {
    sqlx::query_as("SELECT path, size, created_at, updated_at FROM secrets WHERE path = $1")
        .bind(path)
        .fetch_optional(db)
        .await
}

/// Secrets whose path starts with `prefix`, by path.
pub async fn list(db: impl PgExecutor<'_>, prefix: &str) -> sqlx::Result<Vec<KeyMetadata>> {
    sqlx::query_as(
        "SELECT path, size, created_at, updated_at FROM secrets WHERE starts_with(path, $1) ORDER BY path LIMIT 1000",
    )
    .bind(prefix)
    .fetch_all(db)
    .await
}

pub async fn delete(db: impl PgExecutor<'_>, path: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM secrets WHERE path = $1")
        .bind(path)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The sealed secret, for the worker to open in memory.
pub async fn sealed(db: impl PgExecutor<'_>, path: &str) -> sqlx::Result<Option<Sealed>> {
    let row: Option<(Vec<u8>, Vec<u8>)> = sqlx::query_as("SELECT nonce, ciphertext FROM secrets WHERE path = $1")
        .bind(path)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|(nonce, ciphertext)| Sealed { nonce, ciphertext }))
}
