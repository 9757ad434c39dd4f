//! Projects: the namespace every run belongs to.

use sqlx::PgExecutor;

/// Whether a project exists.
pub async fn exists(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM projects WHERE name = $1)")
        .bind(name)
        .fetch_one(db)
        .await
}

/// Creates a project if it is not there; answers its creation time and whether this call
/// created it, in one statement.
pub async fn create(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<(chrono::DateTime<chrono::Utc>, bool)> {
    sqlx::query_as(
        "WITH inserted AS (INSERT INTO projects (name) VALUES ($1) ON CONFLICT DO NOTHING RETURNING created_at)
         SELECT created_at, true FROM inserted
         UNION ALL SELECT created_at, false FROM projects WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM inserted)",
    )
    .bind(name)
    .fetch_one(db)
    .await
}

/// Every project, by name.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
    sqlx::query_as("SELECT name, created_at FROM projects ORDER BY name")
        .fetch_all(db)
        .await
}
