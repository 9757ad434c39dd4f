//! FilterLogEvents in process, for the service that embeds the engine: after every Invoke
//! it reads that request's lines back for their print times. Through the API that is a
//! signed HTTP round trip, JSON both ways and the API's paging, for lines the engine holds
//! in the same process; here it is the same query on the same store (`read::group_page`),
//! so both ways answer alike.

use std::sync::Arc;

use super::pattern::FilterPattern;
use super::read::{self, EventId, GroupQuery, MAX_EVENTS};
use super::store::{LogStore, LogsFailure};

/// A handle on the engine's logs for in-process readers; cheap to clone.
#[derive(Clone)]
pub struct LocalLogs(pub(crate) Arc<LogStore>);

/// One event, as FilterLogEvents gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEvent {
    pub stream: String,
    pub timestamp: i64,
    pub message: String,
}

/// Why a read was refused, in FilterLogEvents's words.
#[derive(Debug, thiserror::Error)]
pub enum LocalLogsError {
    #[error("ResourceNotFoundException: {0}")]
    Failure(#[from] LogsFailure),
    #[error("InvalidParameterException: {0}")]
    Pattern(String),
}

/// FilterLogEvents's question: a group, optionally one stream, a filter pattern (`""` for
/// every event) and a time window (end exclusive).
pub struct LocalFilter<'a> {
    pub group: &'a str,
    pub stream: Option<&'a str>,
    pub pattern: &'a str,
    pub start_time: i64,
    pub end_time: i64,
}

impl LocalLogs {
    /// The stream the invocation `request_id` of `group` wrote to, when the engine still
    /// remembers it (its recent invocations).
    pub fn stream_of(&self, group: &str, request_id: &str) -> Option<String> {
        self.0.requests.stream_of(group, request_id)
    }

    /// Every matching event in time order: all of FilterLogEvents's pages at once.
    pub fn filter(&self, q: &LocalFilter<'_>) -> Result<Vec<LocalEvent>, LocalLogsError> {
        let pattern = FilterPattern::parse(q.pattern).map_err(|e| LocalLogsError::Pattern(e.to_string()))?;
        let streams = q.stream.map(|s| vec![s.to_string()]);
        let mut after: Option<EventId> = None;
        let mut events = Vec::new();
        loop {
            let page = read::group_page(
                &self.0,
                &GroupQuery {
                    group: q.group,
                    stream_names: streams.as_deref(),
                    stream_prefix: None,
                    start_time: Some(q.start_time),
                    end_time: Some(q.end_time),
                    pattern: &pattern,
                    limit: MAX_EVENTS,
                    after,
                },
            )?;
            after = page.events.last().map(|f| f.id);
            events.extend(page.events.into_iter().map(|f| LocalEvent {
                stream: f.stream,
                timestamp: f.event.timestamp,
                message: f.event.message,
            }));
            if !page.more || after.is_none() {
                return Ok(events);
            }
        }
    }
}
