//! The sweeper: deletes functions this service created for runs that are over and were not
//! kept (what a crash or a failed delete left behind), and functions of runs this database
//! does not know once their expiry tag has passed; and, hourly per Lambda, the log groups
//! of custom-code functions that are gone (see lambda/log_group.rs).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::WorkerContext;
use super::custom_code::{EXPIRES_TAG, FUNCTION_PREFIX};
use crate::lambda::directory::ClientKey;
use crate::lambda::log_group;

/// How often log groups are listed: they live for days, and an account can hold many
/// (DescribeLogGroups pages 50 at a time), so once a minute would be wasted calls.
const LOG_GROUPS_EVERY: Duration = Duration::from_secs(3600);

pub async fn run(worker: WorkerContext, every: Duration) {
    let mut log_groups_swept = HashMap::new();
    loop {
        tokio::select! {
            _ = worker.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match sweep(&worker, &mut log_groups_swept).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "sweeper deleted functions of finished runs"),
            Err(e) => tracing::warn!(error = %e, "sweeping orphaned functions failed"),
        }
    }
}

/// One pass over every project's Lambda (projects can have their own endpoint and
/// account), and over the log groups of each Lambda not swept within `LOG_GROUPS_EVERY`
/// (`log_groups_swept` remembers when each was); returns how many functions it deleted.
pub async fn sweep(
    worker: &WorkerContext,
    log_groups_swept: &mut HashMap<ClientKey, Instant>,
) -> anyhow::Result<usize> {
    let mut deleted = 0;
    let mut swept = HashSet::new();
    // Replays create functions on the engine of this process whatever their project's
    // Lambda is: it is swept first, so no other Lambda's failure keeps it from its pass
    // (a project on the engine sweeps it again, with its log groups, finding nothing more).
    if let Some((_, clients)) = worker.lambdas.embedded_clients().await {
        deleted += sweep_one(worker, &clients.control).await?.deleted;
    }
    for (project, _) in crate::store::projects::list(&worker.db).await? {
        let lambda = match worker
            .lambdas
            .for_project(&worker.db, &worker.master_key, &project)
            .await
        {
            Ok(lambda) => lambda,
            Err(why) => {
                tracing::debug!(project = %project, why = %why, "not sweeping a project whose Lambda cannot be reached");
                continue;
            }
        };
        // Projects sharing one set of clients share one sweep.
        if swept.insert(lambda.client_key.clone()) {
            let functions = sweep_one(worker, &lambda.clients.control).await?;
            deleted += functions.deleted;
            let due = log_groups_swept
                .get(&lambda.client_key)
                .is_none_or(|at| at.elapsed() >= LOG_GROUPS_EVERY);
            if due {
                log_groups_swept.insert(lambda.client_key.clone(), Instant::now());
                sweep_log_groups(worker, &lambda.clients.logs, &functions.kept).await;
            }
        }
    }
    Ok(deleted)
}

/// What one pass over a Lambda's functions did and left.
struct Swept {
    deleted: usize,
    /// Functions of ours still there: their log groups stay.
    kept: HashSet<String>,
}

async fn sweep_one(worker: &WorkerContext, lambda: &aws_sdk_lambda::Client) -> anyhow::Result<Swept> {
    let mut deleted = 0;
    let mut kept = HashSet::new();
    let mut pages = lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        for function in page?.functions() {
            let Some(name) = function.function_name() else { continue };
            let Some(run_id) = run_of(name) else { continue };
            let run = crate::store::runs::function_owner(&worker.db, run_id).await?;
            let orphaned = match run {
                // Not a run of this database: maybe another deployment's in the same
                // account. Only its expiry tag says when it is surely abandoned.
                None => expired(lambda, function.function_arn()).await,
                Some(owner) => owner.status.is_finished() && owner.keep_function != Some(true),
            };
            if orphaned {
                lambda.delete_function().function_name(name).send().await?;
                tracing::info!(function = name, run.id = %run_id, "deleted orphaned function");
                deleted += 1;
            } else {
                kept.insert(name.to_string());
            }
        }
    }
    Ok(Swept { deleted, kept })
}

/// Deletes the log groups of custom-code functions that are gone, once the retention has
/// had its time; a failure is only logged (the credentials may not allow it).
async fn sweep_log_groups(worker: &WorkerContext, logs: &aws_sdk_cloudwatchlogs::Client, live: &HashSet<String>) {
    let age = Duration::from_secs(u64::try_from(worker.settings.custom_code_log_days).unwrap_or(1) * 86_400);
    // Only groups of functions this service names: a user's `lambda-steps-demo` is not ours.
    let abandoned = |function: &str| run_of(function).is_some() && !live.contains(function);
    match log_group::sweep(logs, FUNCTION_PREFIX, age, &abandoned).await {
        Ok(deleted) if deleted.is_empty() => {}
        Ok(deleted) => tracing::info!(?deleted, "sweeper deleted log groups of finished custom-code runs"),
        Err(why) => tracing::debug!(why = %why, "not sweeping custom-code log groups"),
    }
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

/// The run a function was created for, when the service named it (`lambda-steps-{run id}`).
fn run_of(function: &str) -> Option<Uuid> {
    function
        .strip_prefix(FUNCTION_PREFIX)
        .and_then(|id| Uuid::parse_str(id).ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_functions_the_service_named_are_ours() {
        let run = uuid::Uuid::new_v4();
        assert_eq!(super::run_of(&format!("lambda-steps-{}", run.simple())), Some(run));
        assert_eq!(super::run_of("lambda-steps-demo"), None);
        assert_eq!(super::run_of("my-function"), None);
    }
}
