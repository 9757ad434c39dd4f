//! Log events: GetLogEvents (one stream, forward or backward, with CloudWatch's
//! `f/` and `b/` tokens) and FilterLogEvents (a group's streams interleaved by time,
//! filter patterns, `nextToken` pagination).

use serde::Deserialize;
use serde_json::json;

use super::error::{LogsError, LogsResult};
use super::{group_name, limit};
use crate::Engine;
use crate::logs::pattern::FilterPattern;
use crate::logs::read::{self, EventId, GroupQuery, MAX_EVENTS, Position, StreamQuery};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    next_token: Option<String>,
    limit: Option<i64>,
    start_from_head: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

pub fn get(engine: &Engine, input: GetInput) -> LogsResult {
    let group = group_name(input.log_group_name, input.log_group_identifier)?;
    let position = input.next_token.as_deref().map(parse_position).transpose()?;
    let page = read::stream_page(
        &engine.logs,
        &StreamQuery {
            group: &group,
            stream: &input.log_stream_name,
            start_time: input.start_time,
            end_time: input.end_time,
            limit: limit(input.limit, MAX_EVENTS, MAX_EVENTS)?,
            start_from_head: input.start_from_head.unwrap_or(false),
            position,
        },
    )?;
    let events: Vec<serde_json::Value> = page
        .events
        .iter()
        .map(|e| json!({"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}))
        .collect();
    Ok(json!({
        "events": events,
        "nextForwardToken": position_token(page.next_forward),
        "nextBackwardToken": position_token(page.next_backward),
    }))
}

pub fn filter(engine: &Engine, input: FilterInput) -> LogsResult {
    let group = group_name(input.log_group_name, input.log_group_identifier)?;
    if input.log_stream_names.is_some() && input.log_stream_name_prefix.is_some() {
        return Err(LogsError::invalid_parameter(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        ));
    }
    let pattern = FilterPattern::parse(input.filter_pattern.as_deref().unwrap_or(""))
        .map_err(|e| LogsError::invalid_parameter(e.to_string()))?;
    let after = input
        .next_token
        .as_deref()
        .map(|t| {
            t.strip_prefix("e/")
                .and_then(EventId::parse)
                .ok_or_else(|| LogsError::invalid_parameter("The specified nextToken is invalid."))
        })
        .transpose()?;
    let page = read::group_page(
        &engine.logs,
        &GroupQuery {
            group: &group,
            stream_names: input.log_stream_names.as_deref(),
            stream_prefix: input.log_stream_name_prefix.as_deref(),
            start_time: input.start_time,
            end_time: input.end_time,
            pattern: &pattern,
            limit: limit(input.limit, MAX_EVENTS, MAX_EVENTS)?,
            after,
        },
    )?;
    let events: Vec<serde_json::Value> = page
        .events
        .iter()
        .map(|f| {
            json!({
                "logStreamName": f.stream,
                "timestamp": f.event.timestamp,
                "message": f.event.message,
                "ingestionTime": f.event.ingestion_time,
                "eventId": f.id.to_string(),
            })
        })
        .collect();
    let mut answer = json!({ "events": events, "searchedLogStreams": [] });
    if page.more
        && let Some(last) = page.events.last()
    {
        answer["nextToken"] = format!("e/{}", last.id).into();
    }
    Ok(answer)
}

/// CloudWatch's tokens: `f/` or `b/` and 56 digits.
fn position_token(position: Position) -> String {
    match position {
        Position::Forward(seq) => format!("f/{seq:056}"),
        Position::Backward(seq) => format!("b/{seq:056}"),
    }
}

fn parse_position(token: &str) -> Result<Position, LogsError> {
    let invalid = || LogsError::invalid_parameter("The specified nextToken is invalid.");
    let (direction, digits) = token.split_at_checked(2).ok_or_else(invalid)?;
    let seq: u64 = digits.parse().map_err(|_| invalid())?;
    match direction {
        "f/" => Ok(Position::Forward(seq)),
        "b/" => Ok(Position::Backward(seq)),
        _ => Err(invalid()),
    }
}
