//! Projects: the namespace every run belongs to.

use sqlx::PgExecutor;

/// Whether a project exists.
pub async fn exists(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM projects WHERE name = $1)")
        .bind(name)
        .fetch_one(db)
        .await
}

/// Creates a project if it is not there; true when it was created.
pub async fn create(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<bool> {
    let created = sqlx::query("INSERT INTO projects (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(name)
        .execute(db)
        .await?;
    Ok(created.rows_affected() == 1)
}

/// Every project, by name.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
    sqlx::query_as("SELECT name, created_at FROM projects ORDER BY name")
        .fetch_all(db)
        .await
}
