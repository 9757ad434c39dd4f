//! Log streams: DescribeLogStreams, by name or by last event time, either way round.

use serde::Deserialize;
use serde_json::json;

use super::error::{LogsError, LogsResult};
use super::{group_name, limit, offset_token};
use crate::Engine;
use crate::logs::store::LogsFailure;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    limit: Option<i64>,
    next_token: Option<String>,
}

pub fn describe(engine: &Engine, input: DescribeInput) -> LogsResult {
    let name = group_name(input.log_group_name, input.log_group_identifier)?;
    let by_time = match input.order_by.as_deref() {
        None | Some("LogStreamName") => false,
        Some("LastEventTime") => true,
        Some(other) => {
            return Err(LogsError::invalid_parameter(format!(
                "1 validation error detected: Value '{other}' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
            )));
        }
    };
    if by_time && input.log_stream_name_prefix.is_some() {
        return Err(LogsError::invalid_parameter(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let limit = limit(input.limit, 50, 50)?;
    let skip = offset_token(input.next_token.as_deref())?;
    let group = engine.logs.group(&name).ok_or(LogsFailure::GroupNotFound)?;
    let group = group.lock();
    let mut streams: Vec<_> = group
        .streams
        .values()
        .filter(|s| {
            input
                .log_stream_name_prefix
                .as_deref()
                .is_none_or(|p| s.name.starts_with(p))
        })
        .collect();
    if by_time {
        streams.sort_by_key(|s| (s.last_timestamp(), s.name.clone()));
    }
    if input.descending == Some(true) {
        streams.reverse();
    }
    let arn = format!(
        "arn:aws:logs:{}:{}:log-group:{name}:log-stream:",
        engine.location.region, engine.location.account_id
    );
    let page: Vec<serde_json::Value> = streams
        .iter()
        .skip(skip)
        .take(limit)
        .map(|s| {
            let mut entry = json!({
                "logStreamName": s.name,
                "creationTime": s.creation_time,
                "arn": format!("{arn}{}", s.name),
                "storedBytes": 0,
            });
            if let (Some(first), Some(last)) = (s.first_timestamp(), s.last_timestamp()) {
                entry["firstEventTimestamp"] = first.into();
                entry["lastEventTimestamp"] = last.into();
            }
            if let Some(ingested) = s.last_ingestion_time {
                entry["lastIngestionTime"] = ingested.into();
            }
            entry
        })
        .collect();
    let mut answer = json!({ "logStreams": page });
    if skip + limit < streams.len() {
        answer["nextToken"] = format!("o/{}", skip + limit).into();
    }
    Ok(answer)
}
