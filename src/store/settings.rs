//! Project settings: `project.aws.*` names and string values.

use std::collections::BTreeMap;

use sqlx::{PgExecutor, Postgres, Transaction};

pub async fn of_project(db: impl PgExecutor<'_>, project: &str) -> sqlx::Result<BTreeMap<String, String>> {
    let rows = sqlx::query!("SELECT key, value FROM project_settings WHERE project = $1", project)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.key, r.value)).collect())
}

/// Replaces a project's settings with `values`.
pub async fn replace(
    tx: &mut Transaction<'_, Postgres>,
    project: &str,
    values: &BTreeMap<String, String>,
) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM project_settings WHERE project = $1", project)
        .execute(&mut **tx)
        .await?;
    for (key, value) in values {
        sqlx::query!(
            "INSERT INTO project_settings (project, key, value) VALUES ($1, $2, $3)",
            project,
            key,
            value
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
