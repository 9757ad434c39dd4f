//! Where one execution environment's output goes: its function's log group and its own
//! stream. Writing never fails an invocation; a storage error is logged and the lines are
//! still in the invocation's `LogResult` tail.

use std::sync::Arc;

use super::store::LogStore;

/// A stream of one group, ready for lines.
#[derive(Clone)]
pub struct LogSink {
    store: Arc<LogStore>,
    pub group: String,
    pub stream: String,
}

impl LogSink {
    pub fn new(store: Arc<LogStore>, group: String, stream: String) -> Self {
        Self { store, group, stream }
    }

    /// Appends lines with the times (ms) they were printed.
    pub fn write(&self, lines: &[(i64, &str)]) {
        if let Err(e) = self.store.append(&self.group, &self.stream, lines) {
            tracing::warn!(group = %self.group, stream = %self.stream, error = %e, "could not store function output");
        }
    }

    /// Notes that the invocation `request_id` writes to this stream, so that a reader of
    /// its lines finds them without searching every stream of the group.
    pub fn note_request(&self, request_id: &str) {
        self.store.requests.note(&self.group, request_id, &self.stream);
    }

    /// Appends lines printed now.
    pub fn write_now(&self, lines: &[String]) {
        let now = super::now_ms();
        let stamped: Vec<(i64, &str)> = lines.iter().map(|l| (now, l.as_str())).collect();
        self.write(&stamped);
    }
}
