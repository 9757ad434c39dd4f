//! What the follower has written into the run's log, so that no line goes in twice when
//! it is read again: by polling's overlapping reads (skipped by event id) or after a Live
//! Tail session, whose events carry no id (skipped by stream, time and text, counted, so
//! two identical lines printed in the same millisecond are both kept).

use std::collections::HashMap;

use crate::queue::logs::RunLog;

/// One event as CloudWatch gives it.
pub struct Event<'a> {
    /// FilterLogEvents' event id; Live Tail gives none.
    pub id: Option<&'a str>,
    pub stream: &'a str,
    pub time_ms: Option<i64>,
    pub message: &'a str,
}

type LineKey = (String, i64, String);

/// Which lines are written already, for the reads that may meet them again.
#[derive(Default)]
pub struct Seen {
    /// The ids read by polling, at or after the cursor, with their times.
    ids: HashMap<String, i64>,
    /// The lines Live Tail wrote, at or after the cursor, each with how many times.
    lines: HashMap<LineKey, u32>,
}

impl Seen {
    /// A line Live Tail delivered (Live Tail delivers each once).
    pub fn live(&mut self, event: &Event<'_>) {
        if let Some(at) = event.time_ms {
            *self
                .lines
                .entry((event.stream.to_string(), at, trimmed(event.message).to_string()))
                .or_default() += 1;
        }
    }

    /// Whether a line polling read is new: not read by an earlier poll (same id), nor
    /// written from Live Tail (same stream, time and text, as many times as it was).
    pub fn polled_is_new(&mut self, event: &Event<'_>) -> bool {
        if let Some(id) = event.id.filter(|id| !id.is_empty())
            && self
                .ids
                .insert(id.to_string(), event.time_ms.unwrap_or(i64::MAX))
                .is_some()
        {
            return false;
        }
        let Some(at) = event.time_ms else { return true };
        let key = (event.stream.to_string(), at, trimmed(event.message).to_string());
        match self.lines.get_mut(&key) {
            Some(count) => {
                *count -= 1;
                if *count == 0 {
                    self.lines.remove(&key);
                }
                false
            }
            None => true,
        }
    }

    /// Forgets what no read from `cursor_ms` on can meet again.
    pub fn forget_before(&mut self, cursor_ms: i64) {
        self.ids.retain(|_, at| *at >= cursor_ms);
        self.lines.retain(|(_, at, _), _| *at >= cursor_ms);
    }
}

/// The run's log as the follower writes it.
pub struct Written {
    pub log: RunLog,
    pub seen: Seen,
    /// The newest event time written.
    pub newest_ms: Option<i64>,
    /// The last line written.
    pub last: Option<String>,
    /// The REPORT lines written so far.
    reports: Vec<String>,
}

impl Written {
    pub fn new(log: RunLog) -> Self {
        Self {
            log,
            seen: Seen::default(),
            newest_ms: None,
            last: None,
            reports: Vec::new(),
        }
    }

    /// Whether this request's REPORT line is in the run's log.
    pub fn has_report(&self, request_id: &str) -> bool {
        let report = format!("REPORT RequestId: {request_id}");
        self.reports.iter().any(|m| m.starts_with(&report))
    }

    /// Writes a line Live Tail delivered.
    pub fn live(&mut self, event: Event<'_>) {
        self.seen.live(&event);
        self.write(event.time_ms, event.message);
    }

    /// Writes a line polling read, unless it is in the log already.
    pub fn polled(&mut self, event: Event<'_>) {
        if self.seen.polled_is_new(&event) {
            self.write(event.time_ms, event.message);
        }
    }

    fn write(&mut self, time_ms: Option<i64>, message: &str) {
        let message = trimmed(message);
        if let Some(at) = time_ms {
            self.newest_ms = Some(self.newest_ms.map_or(at, |n| n.max(at)));
        }
        self.log
            .function_line(time_ms.and_then(chrono::DateTime::from_timestamp_millis), message);
        if message.starts_with("REPORT RequestId: ") {
            self.reports.push(message.to_string());
        }
        self.last = Some(message.to_string());
    }
}

fn trimmed(message: &str) -> &str {
    message.trim_end_matches(['\n', '\r'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(id: Option<&'a str>, at: i64, message: &'a str) -> Event<'a> {
        Event {
            id,
            stream: "2026/12/03/[$LATEST]abc",
            time_ms: Some(at),
            message,
        }
    }

    #[test]
    fn a_poll_skips_what_an_earlier_poll_read() {
        let mut seen = Seen::default();
        assert!(seen.polled_is_new(&event(Some("1"), 10, "a\n")));
        assert!(!seen.polled_is_new(&event(Some("1"), 10, "a\n")));
        // Another event with the same text and time is another line.
        assert!(seen.polled_is_new(&event(Some("2"), 10, "a\n")));
    }

    #[test]
    fn a_poll_after_live_tail_skips_each_live_line_as_often_as_it_was_written() {
        let mut seen = Seen::default();
        seen.live(&event(None, 10, "same\n"));
        seen.live(&event(None, 10, "same\n"));
        seen.live(&event(None, 11, "other"));
        assert!(!seen.polled_is_new(&event(Some("1"), 10, "same")));
        assert!(!seen.polled_is_new(&event(Some("2"), 10, "same")));
        // A third identical line was never written live: it is new.
        assert!(seen.polled_is_new(&event(Some("3"), 10, "same")));
        assert!(!seen.polled_is_new(&event(Some("4"), 11, "other")));
        // Read again by the next poll's overlap: known by id.
        assert!(!seen.polled_is_new(&event(Some("3"), 10, "same")));
        assert!(seen.polled_is_new(&event(Some("5"), 12, "later")));
    }

    #[test]
    fn what_is_forgotten_is_only_what_lies_before_the_cursor() {
        let mut seen = Seen::default();
        seen.live(&event(None, 10, "old"));
        seen.live(&event(None, 20, "kept"));
        seen.forget_before(15);
        assert!(seen.polled_is_new(&event(Some("1"), 10, "old")));
        assert!(!seen.polled_is_new(&event(Some("2"), 20, "kept")));
    }
}
