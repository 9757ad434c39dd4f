//! StartLiveTail: a session that pushes a group's new events to the caller as they are
//! stored, as an AWS event stream (`application/vnd.amazon.eventstream`): an
//! `initial-response`, a `sessionStart`, then a `sessionUpdate` whenever events arrive (and
//! an empty one every second, as CloudWatch sends, so a quiet session stays open) until the
//! caller hangs up or the session reaches CloudWatch's three-hour limit.
//!
//! SDKs put `streaming-` before the endpoint's host for this operation: against a local
//! endpoint the caller turns that off (boto3: `Config(inject_host_prefix=False)`) or, with
//! the Rust SDK, which cannot, resolves `streaming-<host>` as the host (the service's
//! transport does, `lambda/transport.rs`; `tests/it/engine/live_tail.rs`).

use std::time::{Duration, Instant};

use aws_smithy_types::event_stream::{Header, HeaderValue as EventHeader, Message};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::error::LogsError;
use super::group_name;
use crate::Engine;
use crate::logs::now_ms;
use crate::logs::pattern::FilterPattern;
use crate::logs::read::{self, EventId, GroupQuery};
use crate::logs::store::LogsFailure;

/// How often the session looks for new events. CloudWatch pushes about once a second; the
/// engine, local and cheap to read, pushes within this, because the runner's live output
/// rides on it: 50 ms instead of 100 halved the print -> SSE lag (`scripts/bench live`,
/// 100 runs at once: p50 174 -> 60 ms, p99 453 -> 345 ms).
const POLL_EVERY: Duration = Duration::from_millis(50);
/// An empty update at least this often, as CloudWatch sends one a second.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// CloudWatch ends a session after three hours.
const SESSION_LIMIT: Duration = Duration::from_secs(3 * 3600);
/// CloudWatch sends at most 500 events an update and marks the update sampled past that.
const MAX_EVENTS_PER_UPDATE: usize = 500;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInput {
    log_group_identifiers: Vec<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefixes: Option<Vec<String>>,
    log_event_filter_pattern: Option<String>,
}

/// Validates the session and starts streaming it.
pub fn start(engine: Engine, input: StartInput) -> Result<Response, LogsError> {
    if input.log_group_identifiers.is_empty() || input.log_group_identifiers.len() > 10 {
        return Err(LogsError::invalid_parameter(
            "logGroupIdentifiers must hold between 1 and 10 log groups.",
        ));
    }
    if (input.log_stream_names.is_some() || input.log_stream_name_prefixes.is_some())
        && input.log_group_identifiers.len() != 1
    {
        return Err(LogsError::invalid_parameter(
            "logStreamNames and logStreamNamePrefixes can only be used with a single log group.",
        ));
    }
    let pattern = FilterPattern::parse(input.log_event_filter_pattern.as_deref().unwrap_or(""))
        .map_err(|e| LogsError::invalid_parameter(e.to_string()))?;
    let groups: Vec<(String, String)> = input
        .log_group_identifiers
        .iter()
        .map(|id| Ok((id.clone(), group_name(None, Some(id.clone()))?)))
        .collect::<Result<_, LogsError>>()?;
    for (_, name) in &groups {
        engine.logs.group(name).ok_or(LogsFailure::GroupNotFound)?;
    }
    let session_id = uuid::Uuid::new_v4().to_string();
    let start = json!({
        "requestId": uuid::Uuid::new_v4().to_string(),
        "sessionId": session_id,
        "logGroupIdentifiers": input.log_group_identifiers,
        "logStreamNames": input.log_stream_names,
        "logStreamNamePrefixes": input.log_stream_name_prefixes,
        "logEventFilterPattern": input.log_event_filter_pattern,
    });
    let frames = async_stream::stream! {
        yield frame("initial-response", json!({}));
        yield frame("sessionStart", start);
        let mut since = now_ms();
        let mut after: Vec<Option<EventId>> = vec![None; groups.len()];
        let began = Instant::now();
        let mut last_sent = Instant::now();
        loop {
            tokio::time::sleep(POLL_EVERY).await;
            if began.elapsed() >= SESSION_LIMIT {
                yield exception("SessionTimeoutException", "Session timed out after 3 hours.");
                break;
            }
            let mut results = Vec::new();
            let mut sampled = false;
            for (i, (identifier, name)) in groups.iter().enumerate() {
                let query = GroupQuery {
                    group: name,
                    stream_names: input.log_stream_names.as_deref(),
                    stream_prefix: None,
                    start_time: Some(since),
                    end_time: None,
                    pattern: &pattern,
                    limit: MAX_EVENTS_PER_UPDATE,
                    after: after[i],
                };
                let Ok(page) = read::group_page(&engine.logs, &query) else { continue };
                sampled |= page.more;
                if let Some(last) = page.events.last() {
                    after[i] = Some(last.id);
                }
                let prefixes = input.log_stream_name_prefixes.as_deref();
                for found in page.events {
                    if prefixes.is_some_and(|p| !p.iter().any(|p| found.stream.starts_with(p.as_str()))) {
                        continue;
                    }
                    results.push(json!({
                        "logStreamName": found.stream,
                        "logGroupIdentifier": identifier,
                        "message": found.event.message,
                        "timestamp": found.event.timestamp,
                        "ingestionTime": found.event.ingestion_time,
                    }));
                }
            }
            if let Some(min) = after.iter().flatten().map(|a| a.timestamp).min() {
                since = since.max(min);
            }
            if results.is_empty() && last_sent.elapsed() < HEARTBEAT_EVERY {
                continue;
            }
            results.sort_by_key(|r| r["timestamp"].as_i64());
            last_sent = Instant::now();
            yield frame("sessionUpdate", json!({
                "sessionMetadata": {"sampled": sampled},
                "sessionResults": results,
            }));
        }
    };
    let mut response = Response::new(Body::from_stream(frames));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    Ok(response.into_response())
}

/// One event message of the stream.
fn frame(event_type: &'static str, payload: serde_json::Value) -> Result<Bytes, std::io::Error> {
    encode(
        Message::new(payload.to_string().into_bytes())
            .add_header(Header::new(":message-type", EventHeader::String("event".into())))
            .add_header(Header::new(":event-type", EventHeader::String(event_type.into())))
            .add_header(Header::new(
                ":content-type",
                EventHeader::String("application/json".into()),
            )),
    )
}

/// An exception message, which ends the session.
fn exception(kind: &'static str, message: &str) -> Result<Bytes, std::io::Error> {
    encode(
        Message::new(json!({"message": message}).to_string().into_bytes())
            .add_header(Header::new(":message-type", EventHeader::String("exception".into())))
            .add_header(Header::new(":exception-type", EventHeader::String(kind.into())))
            .add_header(Header::new(
                ":content-type",
                EventHeader::String("application/json".into()),
            )),
    )
}

fn encode(message: Message) -> Result<Bytes, std::io::Error> {
    let mut buf = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&message, &mut buf).map_err(std::io::Error::other)?;
    Ok(Bytes::from(buf))
}
