//! Projects: the namespace every run belongs to.

use sqlx::PgExecutor;

/// Whether a project exists.
pub async fn exists(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM projects WHERE name = $1) AS "exists!""#,
        name
    )
    .fetch_one(db)
    .await
}

/// Creates a project if it is not there; answers its creation time and whether this call
/// created it, in one statement.
pub async fn create(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<(chrono::DateTime<chrono::Utc>, bool)> {
    let row = sqlx::query!(
        r#"WITH inserted AS (INSERT INTO projects (name) VALUES ($1) ON CONFLICT DO NOTHING RETURNING created_at)
         SELECT created_at AS "created_at!", true AS "created!" FROM inserted
         UNION ALL SELECT created_at, false FROM projects WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM inserted)"#,
        name
    )
    .fetch_one(db)
    .await?;
    Ok((row.created_at, row.created))
}

/// Every project, by name.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
    let rows = sqlx::query!("SELECT name, created_at FROM projects ORDER BY name")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.created_at)).collect())
}
