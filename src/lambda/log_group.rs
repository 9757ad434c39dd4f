//! CloudWatch log groups of custom-code functions. Lambda creates `/aws/lambda/{function}`
//! on first use and keeps its events forever; one group per run would pile up without end.
//! So the group is created beforehand with a short retention, and the sweeper deletes it
//! once its run is over and the retention has had its time (by then the run's own log
//! holds every line, and CloudWatch would have dropped them anyway).

use std::time::Duration;

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;

/// The ARN of a function's log group, from the function's ARN
/// (`arn:{partition}:lambda:{region}:{account}:function:{name}[:qualifier]`): StartLiveTail
/// takes a group only by ARN on AWS.
pub fn arn_of(function_arn: &str) -> Option<String> {
    let parts: Vec<&str> = function_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "lambda", region, account, "function", name, ..] => Some(format!(
            "arn:{partition}:logs:{region}:{account}:log-group:{}",
            lambda_rules::log_group_name(name)
        )),
        _ => None,
    }
}

/// Creates the function's log group (or finds it) and sets its retention.
pub async fn prepare(logs: &Client, function: &str, retention_days: i32) -> Result<(), LogsCallError> {
    let group = lambda_rules::log_group_name(function);
    match logs.create_log_group().log_group_name(&group).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) => {}
        Err(e) => return Err(describe("CreateLogGroup", &e)),
    }
    logs.put_retention_policy()
        .log_group_name(&group)
        .retention_in_days(retention_days)
        .send()
        .await
        .map_err(|e| describe("PutRetentionPolicy", &e))?;
    Ok(())
}

/// Deletes the groups under `/aws/lambda/{prefix}` that `abandoned` says belong to no live
/// function and that are older than `age`; returns the names deleted.
pub async fn sweep(
    logs: &Client,
    prefix: &str,
    age: Duration,
    abandoned: &(dyn Fn(&str) -> bool + Send + Sync),
) -> Result<Vec<String>, LogsCallError> {
    let cutoff = chrono::Utc::now().timestamp_millis() - age.as_millis() as i64;
    let mut deleted = Vec::new();
    let mut pages = logs
        .describe_log_groups()
        .log_group_name_prefix(lambda_rules::log_group_name(prefix))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe("DescribeLogGroups", &e))?;
        for group in page.log_groups() {
            let Some(name) = group.log_group_name() else { continue };
            let function = name.trim_start_matches(lambda_rules::LOG_GROUP_PREFIX);
            if group.creation_time().unwrap_or(i64::MAX) > cutoff || !abandoned(function) {
                continue;
            }
            match logs.delete_log_group().log_group_name(name).send().await {
                Ok(_) => deleted.push(name.to_string()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) => {}
                Err(e) => return Err(describe("DeleteLogGroup", &e)),
            }
        }
    }
    Ok(deleted)
}

/// A CloudWatch Logs call that failed; shown as one line: the call, the error code and
/// its message (or the SDK's description when the service did not answer).
#[derive(Debug, thiserror::Error)]
#[error("{call}: {detail}")]
pub struct LogsCallError {
    pub call: &'static str,
    pub detail: String,
}

pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    call: &'static str,
    error: &aws_sdk_cloudwatchlogs::error::SdkError<E, R>,
) -> LogsCallError {
    LogsCallError {
        call,
        detail: super::aws_error::one_line(error),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatchlogs::Client as Logs;
    use aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupError;
    use aws_sdk_cloudwatchlogs::operation::delete_log_group::DeleteLogGroupOutput;
    use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
    use aws_sdk_cloudwatchlogs::operation::put_retention_policy::PutRetentionPolicyOutput;
    use aws_sdk_cloudwatchlogs::types::LogGroup;
    use aws_sdk_cloudwatchlogs::types::error::ResourceAlreadyExistsException;
    use aws_smithy_mocks::mock;

    use super::*;

    use crate::lambda::mock::clients;

    #[test]
    fn a_functions_log_group_arn_is_read_off_its_arn() {
        assert_eq!(
            arn_of("arn:aws:lambda:eu-west-1:123456789012:function:lambda-steps-abc").as_deref(),
            Some("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/lambda-steps-abc")
        );
        assert_eq!(
            arn_of("arn:aws-cn:lambda:cn-north-1:123456789012:function:f:$LATEST").as_deref(),
            Some("arn:aws-cn:logs:cn-north-1:123456789012:log-group:/aws/lambda/f")
        );
        assert_eq!(arn_of("lambda-steps-abc"), None);
    }

    #[tokio::test]
    async fn an_existing_group_still_gets_its_retention() {
        let create = mock!(Logs::create_log_group).then_error(|| {
            CreateLogGroupError::ResourceAlreadyExistsException(ResourceAlreadyExistsException::builder().build())
        });
        let retention = mock!(Logs::put_retention_policy)
            .match_requests(|r| {
                r.log_group_name() == Some("/aws/lambda/lambda-steps-1") && r.retention_in_days() == Some(3)
            })
            .then_output(|| PutRetentionPolicyOutput::builder().build());
        let clients = clients(&[&create, &retention]).await;
        prepare(&clients.logs, "lambda-steps-1", 3).await.unwrap();
        assert_eq!((create.num_calls(), retention.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn the_sweep_deletes_only_old_groups_of_functions_that_are_gone() {
        let day_ms = 86_400_000;
        let now = chrono::Utc::now().timestamp_millis();
        let groups = mock!(Logs::describe_log_groups)
            .match_requests(|r| r.log_group_name_prefix() == Some("/aws/lambda/lambda-steps-"))
            .then_output(move || {
                let group = |name: &str, created: i64| {
                    LogGroup::builder()
                        .log_group_name(format!("/aws/lambda/{name}"))
                        .creation_time(created)
                        .build()
                };
                DescribeLogGroupsOutput::builder()
                    .log_groups(group("lambda-steps-old-gone", now - 3 * day_ms))
                    .log_groups(group("lambda-steps-new-gone", now - 1000))
                    .log_groups(group("lambda-steps-old-kept", now - 3 * day_ms))
                    .build()
            });
        let delete = mock!(Logs::delete_log_group)
            .match_requests(|r| r.log_group_name() == Some("/aws/lambda/lambda-steps-old-gone"))
            .then_output(|| DeleteLogGroupOutput::builder().build());
        let clients = clients(&[&groups, &delete]).await;
        let abandoned = |function: &str| function != "lambda-steps-old-kept";
        let deleted = sweep(&clients.logs, "lambda-steps-", Duration::from_secs(86_400), &abandoned)
            .await
            .unwrap();
        assert_eq!(deleted, ["/aws/lambda/lambda-steps-old-gone"]);
        assert_eq!(delete.num_calls(), 1);
    }
}
