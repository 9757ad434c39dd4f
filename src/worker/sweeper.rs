//! The sweeper: deletes functions this service created for runs that are over and were not
//! kept (what a crash or a failed delete left behind), and functions of runs this database
//! does not know once their expiry tag has passed.

use std::time::Duration;

use uuid::Uuid;

use super::custom_code::{EXPIRES_TAG, FUNCTION_PREFIX};
use crate::app::AppState;

pub async fn run(app: AppState, every: Duration) {
    loop {
        tokio::select! {
            _ = app.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match sweep(&app).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "sweeper deleted functions of finished runs"),
            Err(e) => tracing::warn!(error = %e, "sweeping orphaned functions failed"),
        }
    }
}

/// One pass over every project's Lambda (projects can have their own endpoint and
/// account); returns how many functions it deleted.
pub async fn sweep(app: &AppState) -> anyhow::Result<usize> {
    let mut deleted = 0;
    let mut swept = std::collections::HashSet::new();
    for (project, _) in crate::store::projects::list(&app.db).await? {
        let lambda = match app.lambdas.for_project(&app.db, &app.master_key, &project).await {
            Ok(lambda) => lambda,
            Err(why) => {
                tracing::debug!(project = %project, why = %why, "not sweeping a project whose Lambda cannot be reached");
                continue;
            }
        };
        // Projects sharing one set of clients share one sweep.
        if swept.insert(std::sync::Arc::as_ptr(&lambda.clients.execution_role) as usize) {
            deleted += sweep_one(app, &lambda.clients.control).await?;
        }
    }
    Ok(deleted)
}

async fn sweep_one(app: &AppState, lambda: &aws_sdk_lambda::Client) -> anyhow::Result<usize> {
    let mut deleted = 0;
    let mut pages = lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        for function in page?.functions() {
            let Some(name) = function.function_name() else { continue };
            let Some(run_id) = name
                .strip_prefix(FUNCTION_PREFIX)
                .and_then(|id| Uuid::parse_str(id).ok())
            else {
                continue;
            };
            let run: Option<(String, Option<bool>)> =
                sqlx::query_as("SELECT status, (step->>'keep_function')::boolean FROM runs WHERE id = $1")
                    .bind(run_id)
                    .fetch_optional(&app.db)
                    .await?;
            let orphaned = match run {
                // Not a run of this database: maybe another deployment's in the same
                // account. Only its expiry tag says when it is surely abandoned.
                None => expired(lambda, function.function_arn()).await,
                Some((status, keep)) => !matches!(status.as_str(), "queued" | "running") && keep != Some(true),
            };
            if orphaned {
                lambda.delete_function().function_name(name).send().await?;
                tracing::info!(function = name, run.id = %run_id, "deleted orphaned function");
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}

/// Whether a function's `lambda-steps:expires-at` tag has passed (false when unreadable).
async fn expired(lambda: &aws_sdk_lambda::Client, arn: Option<&str>) -> bool {
    let Some(arn) = arn else { return false };
    let Ok(tags) = lambda.list_tags().resource(arn).send().await else {
        return false;
    };
    tags.tags()
        .and_then(|t| t.get(EXPIRES_TAG))
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .is_some_and(|at| at < chrono::Utc::now())
}
