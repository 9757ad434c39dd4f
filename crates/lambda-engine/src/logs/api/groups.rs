//! Log groups: CreateLogGroup, DeleteLogGroup, DescribeLogGroups, PutRetentionPolicy,
//! DeleteRetentionPolicy.

use serde::Deserialize;
use serde_json::json;

use super::error::{LogsError, LogsResult};
use super::{limit, offset_token};
use crate::Engine;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInput {
    log_group_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    log_group_name_prefix: Option<String>,
    log_group_name_pattern: Option<String>,
    limit: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionInput {
    log_group_name: String,
    retention_in_days: i32,
}

pub fn create(engine: &Engine, input: GroupInput) -> LogsResult {
    validate_name(&input.log_group_name)?;
    engine.logs.create_group(&input.log_group_name)?;
    Ok(json!({}))
}

pub fn delete(engine: &Engine, input: GroupInput) -> LogsResult {
    engine.logs.delete_group(&input.log_group_name)?;
    Ok(json!({}))
}

pub fn describe(engine: &Engine, input: DescribeInput) -> LogsResult {
    if input.log_group_name_prefix.is_some() && input.log_group_name_pattern.is_some() {
        return Err(LogsError::invalid_parameter(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    let limit = limit(input.limit, 50, 50)?;
    let skip = offset_token(input.next_token.as_deref())?;
    let names: Vec<String> = engine
        .logs
        .group_names()
        .into_iter()
        .filter(|n| input.log_group_name_prefix.as_deref().is_none_or(|p| n.starts_with(p)))
        .filter(|n| input.log_group_name_pattern.as_deref().is_none_or(|p| n.contains(p)))
        .collect();
    let page: Vec<serde_json::Value> = names
        .iter()
        .skip(skip)
        .take(limit)
        .filter_map(|name| {
            let group = engine.logs.group(name)?;
            let group = group.lock();
            let arn = format!(
                "arn:aws:logs:{}:{}:log-group:{name}",
                engine.location.region, engine.location.account_id
            );
            let mut entry = json!({
                "logGroupName": name,
                "creationTime": group.creation_time,
                "metricFilterCount": 0,
                "arn": format!("{arn}:*"),
                "logGroupArn": arn,
                "storedBytes": group.stored_bytes(),
                "logGroupClass": "STANDARD",
            });
            if let Some(days) = group.retention_days {
                entry["retentionInDays"] = days.into();
            }
            Some(entry)
        })
        .collect();
    let mut answer = json!({ "logGroups": page });
    if skip + limit < names.len() {
        answer["nextToken"] = format!("o/{}", skip + limit).into();
    }
    Ok(answer)
}

pub fn put_retention(engine: &Engine, input: RetentionInput) -> LogsResult {
    let allowed = lambda_rules::RETENTION_DAYS;
    if !allowed.contains(&input.retention_in_days) {
        return Err(LogsError::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: {allowed:?}",
            input.retention_in_days
        )));
    }
    engine
        .logs
        .set_retention(&input.log_group_name, Some(input.retention_in_days))?;
    Ok(json!({}))
}

pub fn delete_retention(engine: &Engine, input: GroupInput) -> LogsResult {
    engine.logs.set_retention(&input.log_group_name, None)?;
    Ok(json!({}))
}

/// CloudWatch's rule for group names: 1 to 512 of `[\.\-_/#A-Za-z0-9]`.
fn validate_name(name: &str) -> Result<(), LogsError> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'));
    match ok {
        true => Ok(()),
        false => Err(LogsError::invalid_parameter(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        ))),
    }
}
