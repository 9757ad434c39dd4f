//! Where a function's log is read from: CloudWatch Logs through its API (AWS, another
//! endpoint, an engine elsewhere), or the embedded engine of this process, read in process
//! (the same FilterLogEvents query on the same store, without a signed HTTP round trip and
//! JSON both ways after every Invoke).

use lambda_engine::{LocalFilter, LocalLogs};

use super::log_group::{LogsCallError, describe};

/// A CloudWatch Logs to read.
#[derive(Clone, Copy)]
pub enum LogSource<'a> {
    Api(&'a aws_sdk_cloudwatchlogs::Client),
    InProcess(&'a LocalLogs),
}

/// One event FilterLogEvents found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEvent {
    pub stream: String,
    pub timestamp: Option<i64>,
    pub message: String,
}

/// A FilterLogEvents question: a group, optionally one stream, a filter pattern (none:
/// every event), a time window (end exclusive).
pub struct Filter<'a> {
    pub group: &'a str,
    pub stream: Option<&'a str>,
    pub pattern: Option<&'a str>,
    pub start_time: i64,
    pub end_time: i64,
}

impl LogSource<'_> {
    /// The one stream a request's lines are in, when this source can tell (the engine of
    /// this process remembers its recent invocations' streams; CloudWatch Logs' API cannot
    /// say before a search).
    pub fn stream_of(&self, group: &str, request_id: &str) -> Option<String> {
        match self {
            Self::InProcess(logs) => logs.stream_of(group, request_id),
            Self::Api(_) => None,
        }
    }

    /// Every event matching, in time order, over all of FilterLogEvents's pages.
    pub async fn filter(&self, q: &Filter<'_>) -> Result<Vec<FoundEvent>, LogsCallError> {
        match self {
            Self::InProcess(logs) => {
                crate::metrics::function_log_read("in_process");
                logs.filter(&LocalFilter {
                    group: q.group,
                    stream: q.stream,
                    pattern: q.pattern.unwrap_or_default(),
                    start_time: q.start_time,
                    end_time: q.end_time,
                })
                .map(|events| {
                    events
                        .into_iter()
                        .map(|e| FoundEvent {
                            stream: e.stream,
                            timestamp: Some(e.timestamp),
                            message: e.message,
                        })
                        .collect()
                })
                .map_err(|e| LogsCallError {
                    call: "FilterLogEvents",
                    detail: e.to_string(),
                })
            }
            Self::Api(logs) => {
                crate::metrics::function_log_read("api");
                let mut pages = logs
                    .filter_log_events()
                    .log_group_name(q.group)
                    .set_log_stream_names(q.stream.map(|s| vec![s.to_string()]))
                    .set_filter_pattern(q.pattern.map(str::to_string))
                    .start_time(q.start_time)
                    .end_time(q.end_time)
                    .into_paginator()
                    .send();
                let mut found = Vec::new();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| describe("FilterLogEvents", &e))?;
                    found.extend(page.events().iter().map(|e| FoundEvent {
                        stream: e.log_stream_name().unwrap_or_default().to_string(),
                        timestamp: e.timestamp(),
                        message: e.message().unwrap_or_default().to_string(),
                    }));
                }
                Ok(found)
            }
        }
    }
}
