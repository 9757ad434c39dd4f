//! Queries over stored events, as GetLogEvents and FilterLogEvents answer them: one stream
//! forward or backward from a position, and a group's streams merged by time. Each query
//! takes the few spans it needs under the group's lock and reads the files without it, so
//! a caller polling the end of a group reads only the newest events. Readers judge each
//! stored line by its time and the pattern's terms before parsing it (`LineFilter`), and stop
//! at the query's end time, so one invocation's lines cost the same however many events the
//! group holds outside its window.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::pattern::FilterPattern;
use super::store::{LogGroup, LogStore, LogsFailure, now_ms};
use super::stream::{Event, LineFilter, SpanReader, terms};

/// The most events one answer holds, and its size: an event counts its message + 26 bytes.
pub const MAX_EVENTS: usize = 10_000;
const MAX_RESPONSE_BYTES: usize = 1_048_576;

/// A position in one stream: the sequence number of an event, read towards the end
/// (`Forward`) or towards the start (`Backward`, exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Forward(u64),
    Backward(u64),
}

/// GetLogEvents's question.
pub struct StreamQuery<'a> {
    pub group: &'a str,
    pub stream: &'a str,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub limit: usize,
    pub start_from_head: bool,
    pub position: Option<Position>,
}

/// GetLogEvents's answer: the events in time order, and where the next pages start.
pub struct StreamPage {
    pub events: Vec<Event>,
    pub next_forward: Position,
    pub next_backward: Position,
}

/// Reads one page of one stream.
pub fn stream_page(store: &LogStore, q: &StreamQuery) -> Result<StreamPage, LogsFailure> {
    let group = store.group(q.group).ok_or(LogsFailure::GroupNotFound)?;
    let (spans, first, next, start_time) = {
        let group = group.lock();
        let stream = group.streams.get(q.stream).ok_or(LogsFailure::StreamNotFound)?;
        let start_time = max_opt(q.start_time, group.retention_cutoff(now_ms()));
        let (first, next) = stream.seq_range();
        let from = match q.position {
            Some(Position::Forward(seq)) => seq.max(first),
            Some(Position::Backward(seq)) => seq.saturating_sub(q.limit as u64 * 4).max(first),
            None if q.start_from_head => first,
            None => next.saturating_sub(q.limit as u64 * 4).max(first),
        };
        let spans = match (q.position, start_time) {
            (None, Some(t)) if q.start_from_head => stream.spans_from_time(t),
            _ => stream.spans_from_seq(from),
        };
        (spans, first, next, start_time)
    };
    let in_range = |seq: u64, e: &Event| {
        seq >= first && start_time.is_none_or(|t| e.timestamp >= t) && q.end_time.is_none_or(|t| e.timestamp < t)
    };
    let bounds = LineFilter {
        start_time,
        end_time: q.end_time,
        ..LineFilter::default()
    };
    let mut events: Vec<(u64, Event)> = Vec::new();
    match q.position {
        Some(Position::Forward(seq)) => take_forward(
            SpanReader::filtered(spans, bounds).filter(|(s, _)| *s >= seq),
            &in_range,
            q.limit,
            &mut events,
        ),
        None if q.start_from_head => take_forward(SpanReader::filtered(spans, bounds), &in_range, q.limit, &mut events),
        backward => {
            let before = match backward {
                Some(Position::Backward(seq)) => seq,
                _ => next,
            };
            // The last `limit` events before `before`, kept in a bounded window.
            let mut window = std::collections::VecDeque::new();
            let mut bytes = 0;
            for (seq, event) in SpanReader::filtered(spans, bounds) {
                if seq >= before {
                    break;
                }
                if in_range(seq, &event) {
                    bytes += event.message.len() + 26;
                    window.push_back((seq, event));
                    while window.len() > q.limit || bytes > MAX_RESPONSE_BYTES {
                        let (_, old) = window.pop_front().expect("window");
                        bytes -= old.message.len() + 26;
                    }
                }
            }
            events.extend(window);
        }
    }
    let (next_forward, next_backward) = match (events.first(), events.last()) {
        (Some((first_seq, _)), Some((last_seq, _))) => {
            (Position::Forward(last_seq + 1), Position::Backward(*first_seq))
        }
        _ => match q.position {
            // Nothing more that way: the same token back, as CloudWatch answers.
            Some(Position::Forward(seq)) => (Position::Forward(seq), Position::Backward(seq)),
            Some(Position::Backward(seq)) => (Position::Forward(seq), Position::Backward(seq)),
            None if q.start_from_head => (Position::Forward(first), Position::Backward(first)),
            None => (Position::Forward(next), Position::Backward(next)),
        },
    };
    Ok(StreamPage {
        events: events.into_iter().map(|(_, e)| e).collect(),
        next_forward,
        next_backward,
    })
}

fn take_forward(
    events: impl Iterator<Item = (u64, Event)>,
    in_range: &impl Fn(u64, &Event) -> bool,
    limit: usize,
    out: &mut Vec<(u64, Event)>,
) {
    let mut bytes = 0;
    for (seq, event) in events {
        if !in_range(seq, &event) {
            continue;
        }
        bytes += event.message.len() + 26;
        if out.len() >= limit || bytes > MAX_RESPONSE_BYTES {
            break;
        }
        out.push((seq, event));
    }
}

/// FilterLogEvents's question.
pub struct GroupQuery<'a> {
    pub group: &'a str,
    pub stream_names: Option<&'a [String]>,
    pub stream_prefix: Option<&'a str>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub pattern: &'a FilterPattern,
    pub limit: usize,
    /// The id of the last event of the previous page.
    pub after: Option<EventId>,
}

/// An event's place in a group: time, then stream, then sequence number. Its decimal form
/// (56 digits, as CloudWatch's event ids) sorts as the tuple does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventId {
    pub timestamp: i64,
    pub stream: u64,
    pub seq: u64,
}

impl EventId {
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 56 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            timestamp: text[..20].parse().ok()?,
            stream: text[20..40].parse().ok()?,
            seq: text[40..].parse().ok()?,
        })
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:020}{:020}{:016}", self.timestamp.max(0), self.stream, self.seq)
    }
}

/// One event found by a group query.
pub struct FoundEvent {
    pub id: EventId,
    pub stream: String,
    pub event: Event,
}

/// A group query's answer; `more` when events past this page match.
pub struct GroupPage {
    pub events: Vec<FoundEvent>,
    pub more: bool,
}

/// Reads the group's matching events in time order (streams interleaved), after `after`.
pub fn group_page(store: &LogStore, q: &GroupQuery) -> Result<GroupPage, LogsFailure> {
    let group = store.group(q.group).ok_or(LogsFailure::GroupNotFound)?;
    let start_time = max_opt(q.start_time, q.after.map(|a| a.timestamp));
    let (readers, start_time) = {
        let group = group.lock();
        let start_time = max_opt(start_time, group.retention_cutoff(now_ms()));
        (candidate_streams(&group, q, start_time), start_time)
    };
    let mut heads = BinaryHeap::new();
    let mut readers: Vec<(String, u64, SpanReader)> = readers;
    let advance = |reader: &mut SpanReader, stream: u64| -> Option<(EventId, Event)> {
        for (seq, event) in reader.by_ref() {
            let id = EventId {
                timestamp: event.timestamp,
                stream,
                seq,
            };
            if start_time.is_some_and(|t| event.timestamp < t) || q.after.is_some_and(|a| id <= a) {
                continue;
            }
            return Some((id, event));
        }
        None
    };
    for (i, (_, stream, reader)) in readers.iter_mut().enumerate() {
        if let Some((id, event)) = advance(reader, *stream) {
            heads.push(Reverse((
                id,
                i,
                event.message.clone(),
                event.timestamp,
                event.ingestion_time,
            )));
        }
    }
    let mut events = Vec::new();
    let mut bytes = 0;
    let mut more = false;
    while let Some(Reverse((id, i, message, timestamp, ingestion_time))) = heads.pop() {
        // Heads come in time order: every later one is past the end too.
        if q.end_time.is_some_and(|t| timestamp >= t) {
            break;
        }
        let (name, stream, reader) = &mut readers[i];
        let name = name.clone();
        if let Some((next_id, next)) = advance(reader, *stream) {
            heads.push(Reverse((next_id, i, next.message, next.timestamp, next.ingestion_time)));
        }
        if !q.pattern.matches(&message) {
            continue;
        }
        bytes += message.len() + 26;
        if events.len() >= q.limit || bytes > MAX_RESPONSE_BYTES {
            more = true;
            break;
        }
        events.push(FoundEvent {
            id,
            stream: name,
            event: Event {
                timestamp,
                ingestion_time,
                message,
            },
        });
    }
    Ok(GroupPage { events, more })
}

/// The streams a group query reads, each from the first event it may return.
fn candidate_streams(group: &LogGroup, q: &GroupQuery, start_time: Option<i64>) -> Vec<(String, u64, SpanReader)> {
    let (all, any) = q.pattern.line_terms();
    let filter = LineFilter {
        start_time,
        end_time: q.end_time,
        all: terms(all),
        any: terms(any),
    };
    group
        .streams
        .values()
        .filter(|s| q.stream_names.is_none_or(|names| names.contains(&s.name)))
        .filter(|s| q.stream_prefix.is_none_or(|p| s.name.starts_with(p)))
        .filter(|s| {
            s.last_timestamp()
                .is_some_and(|last| start_time.is_none_or(|t| last >= t))
        })
        .filter(|s| {
            s.first_timestamp()
                .is_some_and(|first| q.end_time.is_none_or(|t| first < t))
        })
        .map(|s| {
            let spans = match (q.after, start_time) {
                (Some(after), _) if after.stream == s.id => s.spans_from_seq(after.seq),
                (_, Some(t)) => s.spans_from_time(t),
                (_, None) => s.spans_from_seq(0),
            };
            (s.name.clone(), s.id, SpanReader::filtered(spans, filter.clone()))
        })
        .collect()
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
