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

/// What deleting a project did.
#[derive(Debug, PartialEq, Eq)]
pub enum Deleted {
    /// It was deleted with this many finished runs, their logs, its tokens, settings,
    /// saved steps and webhooks.
    Yes {
        runs: i64,
    },
    NoSuchProject,
    /// Runs of it are queued or running: deleting them would lose what they are doing.
    RunsInFlight(i64),
}

/// Deletes a project and everything that belongs to it, in one transaction, unless runs
/// of it are in flight. The project row is locked first, so a submit racing the delete
/// waits for it and then finds no project (the foreign key), never an orphan run.
pub async fn delete(db: &sqlx::PgPool, name: &str) -> sqlx::Result<Deleted> {
    let mut tx = db.begin().await?;
    let found = sqlx::query_scalar!("SELECT name FROM projects WHERE name = $1 FOR UPDATE", name)
        .fetch_optional(&mut *tx)
        .await?;
    if found.is_none() {
        return Ok(Deleted::NoSuchProject);
    }
    let in_flight = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM runs WHERE project = $1 AND status IN ('queued', 'running')"#,
        name
    )
    .fetch_one(&mut *tx)
    .await?;
    if in_flight > 0 {
        return Ok(Deleted::RunsInFlight(in_flight));
    }
    // run_logs, project_settings, saved_steps and webhooks go with their rows (ON DELETE CASCADE).
    let runs = sqlx::query!("DELETE FROM runs WHERE project = $1", name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query!("DELETE FROM api_tokens WHERE project = $1", name)
        .execute(&mut *tx)
        .await?;
    sqlx::query!("DELETE FROM projects WHERE name = $1", name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Deleted::Yes { runs: runs as i64 })
}
