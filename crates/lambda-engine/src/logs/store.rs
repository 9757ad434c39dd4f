//! The engine's CloudWatch Logs storage: log groups of log streams under
//! `{data_dir}/logs/`, one directory per group (`group.json`: name, creation time,
//! retention) holding one directory per stream (see `stream.rs`). Directory names are the
//! hex of the AWS names, which hold `/`, `[` and `$`.
//!
//! Each group keeps at most `group_cap_bytes`: past it the oldest segments of its streams
//! are deleted first. A group's retention is applied when reading (older events are never
//! returned) and by `expire`, which deletes segments wholly past it.

use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use super::stream::LogStream;

/// A group's metadata as persisted.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct GroupFile {
    name: String,
    creation_time: i64,
    retention_days: Option<i32>,
}

/// One log group: its streams by name.
#[derive(Debug)]
pub struct LogGroup {
    pub name: String,
    pub creation_time: i64,
    pub retention_days: Option<i32>,
    pub streams: BTreeMap<String, LogStream>,
    dir: PathBuf,
}

impl LogGroup {
    pub fn stored_bytes(&self) -> u64 {
        self.streams.values().map(LogStream::stored_bytes).sum()
    }

    /// The oldest time an event may have to be returned, by the retention.
    pub fn retention_cutoff(&self, now: i64) -> Option<i64> {
        self.retention_days.map(|days| now - i64::from(days) * 86_400_000)
    }

    fn persist(&self) -> std::io::Result<()> {
        let file = GroupFile {
            name: self.name.clone(),
            creation_time: self.creation_time,
            retention_days: self.retention_days,
        };
        let tmp = self.dir.join("group.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&file)?)?;
        std::fs::rename(tmp, self.dir.join("group.json"))
    }
}

/// Why a storage operation failed; the API turns each into AWS's error.
#[derive(Debug, thiserror::Error)]
pub enum LogsFailure {
    #[error("The specified log group does not exist.")]
    GroupNotFound,
    #[error("The specified log stream does not exist.")]
    StreamNotFound,
    #[error("The specified log group already exists")]
    GroupExists,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Every log group of the engine.
pub struct LogStore {
    root: PathBuf,
    groups: RwLock<HashMap<String, Arc<Mutex<LogGroup>>>>,
    group_cap_bytes: u64,
    /// Which stream each recent invocation wrote to.
    pub requests: super::requests::RecentRequests,
}

/// Milliseconds since the epoch, as CloudWatch counts time.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl LogStore {
    /// Opens (creating if needed) `{data_dir}/logs` and indexes every stream in it.
    pub fn open(data_dir: &std::path::Path, group_cap_bytes: u64) -> anyhow::Result<Self> {
        let root = data_dir.join("logs");
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let mut groups = HashMap::new();
        for entry in std::fs::read_dir(&root)? {
            let dir = entry?.path();
            let Ok(text) = std::fs::read(dir.join("group.json")) else {
                continue;
            };
            let file: GroupFile =
                serde_json::from_slice(&text).with_context(|| format!("parsing {}", dir.display()))?;
            let mut streams = BTreeMap::new();
            for stream_dir in std::fs::read_dir(&dir)? {
                let stream_dir = stream_dir?.path();
                if stream_dir.is_dir() {
                    let stream = LogStream::load(stream_dir.clone())
                        .with_context(|| format!("indexing {}", stream_dir.display()))?;
                    streams.insert(stream.name.clone(), stream);
                }
            }
            let group = LogGroup {
                name: file.name.clone(),
                creation_time: file.creation_time,
                retention_days: file.retention_days,
                streams,
                dir,
            };
            groups.insert(file.name, Arc::new(Mutex::new(group)));
        }
        Ok(Self {
            root,
            groups: RwLock::new(groups),
            group_cap_bytes: group_cap_bytes.max(64 * 1024),
            requests: Default::default(),
        })
    }

    /// A new segment starts past this size, so the cap drops the oldest events in steps
    /// of at most an eighth of it.
    fn segment_limit(&self) -> u64 {
        (self.group_cap_bytes / 8).min(1024 * 1024)
    }

    /// Creates a group; `GroupExists` when it does.
    pub fn create_group(&self, name: &str) -> Result<(), LogsFailure> {
        let mut groups = self.groups.write();
        if groups.contains_key(name) {
            return Err(LogsFailure::GroupExists);
        }
        let group = self.new_group(name)?;
        groups.insert(name.to_string(), Arc::new(Mutex::new(group)));
        Ok(())
    }

    /// The group, created if it does not exist (a function's first output, as Lambda does).
    pub fn ensure_group(&self, name: &str) -> Result<Arc<Mutex<LogGroup>>, LogsFailure> {
        if let Some(group) = self.group(name) {
            return Ok(group);
        }
        let mut groups = self.groups.write();
        if let Some(group) = groups.get(name) {
            return Ok(group.clone());
        }
        let group = Arc::new(Mutex::new(self.new_group(name)?));
        groups.insert(name.to_string(), group.clone());
        Ok(group)
    }

    fn new_group(&self, name: &str) -> Result<LogGroup, LogsFailure> {
        let dir = self.root.join(hex(name));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let group = LogGroup {
            name: name.to_string(),
            creation_time: now_ms(),
            retention_days: None,
            streams: BTreeMap::new(),
            dir,
        };
        group.persist()?;
        Ok(group)
    }

    pub fn group(&self, name: &str) -> Option<Arc<Mutex<LogGroup>>> {
        self.groups.read().get(name).cloned()
    }

    /// Deletes a group and every event in it.
    pub fn delete_group(&self, name: &str) -> Result<(), LogsFailure> {
        let group = self.groups.write().remove(name).ok_or(LogsFailure::GroupNotFound)?;
        let group = group.lock();
        std::fs::remove_dir_all(&group.dir)?;
        Ok(())
    }

    /// Sets (or with `None` removes) a group's retention.
    pub fn set_retention(&self, name: &str, days: Option<i32>) -> Result<(), LogsFailure> {
        let group = self.group(name).ok_or(LogsFailure::GroupNotFound)?;
        let mut group = group.lock();
        group.retention_days = days;
        group.persist()?;
        Ok(())
    }

    /// Every group's name, sorted.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.groups.read().keys().cloned().collect();
        names.sort();
        names
    }

    /// Appends lines printed at the given times to a stream, creating its group and stream
    /// when missing, then holds the group to its cap.
    pub fn append(&self, group_name: &str, stream_name: &str, lines: &[(i64, &str)]) -> Result<(), LogsFailure> {
        if lines.is_empty() {
            return Ok(());
        }
        let group = self.ensure_group(group_name)?;
        let mut group = group.lock();
        let now = now_ms();
        if !group.streams.contains_key(stream_name) {
            let stream = LogStream::create(group.dir.join(hex(stream_name)), stream_name, now)?;
            group.streams.insert(stream_name.to_string(), stream);
        }
        let limit = self.segment_limit();
        let stream = group.streams.get_mut(stream_name).expect("stream just ensured");
        stream.append(lines, now, limit)?;
        self.hold_to_cap(&mut group, stream_name);
        Ok(())
    }

    /// Deletes the oldest segments of the group (by their first event's time) until it
    /// fits its cap; the segment being written to by `writing` stays.
    fn hold_to_cap(&self, group: &mut LogGroup, writing: &str) {
        let mut stored = group.stored_bytes();
        while stored > self.group_cap_bytes {
            let oldest = group
                .streams
                .values()
                .filter_map(|s| s.oldest_segment(s.name == writing).map(|(t, _)| (t, s.name.clone())))
                .min();
            let Some((_, name)) = oldest else { break };
            let freed = group.streams.get_mut(&name).expect("stream").drop_oldest_segment();
            stored -= freed.min(stored);
        }
    }

    /// Deletes every segment past its group's retention.
    pub fn expire(&self) {
        let now = now_ms();
        let groups: Vec<_> = self.groups.read().values().cloned().collect();
        for group in groups {
            let mut group = group.lock();
            if let Some(cutoff) = group.retention_cutoff(now) {
                for stream in group.streams.values_mut() {
                    stream.expire(cutoff);
                }
            }
        }
    }
}

fn hex(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::stream::{LineFilter, SpanReader, terms};

    fn messages(store: &LogStore, group: &str, stream: &str) -> Vec<String> {
        let group = store.group(group).unwrap();
        let group = group.lock();
        let spans = group.streams[stream].spans_from_seq(0);
        SpanReader::new(spans).map(|(_, e)| e.message).collect()
    }

    /// Every function's output goes through a group's lock: a panic in one writer while it
    /// holds the lock must not stop the next function's output.
    #[test]
    fn a_panic_while_a_group_is_locked_does_not_stop_later_appends() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LogStore::open(dir.path(), 1 << 20).unwrap());
        store.append("/aws/lambda/f", "s", &[(1, "before")]).unwrap();
        let held = store.clone();
        let crashed = std::thread::spawn(move || {
            let group = held.group("/aws/lambda/f").unwrap();
            let _guard = group.lock();
            panic!("a bug while the group is locked");
        })
        .join();
        assert!(crashed.is_err());
        store.append("/aws/lambda/f", "s", &[(2, "after")]).unwrap();
        assert_eq!(messages(&store, "/aws/lambda/f", "s"), ["before", "after"]);
        assert_eq!(store.group_names(), ["/aws/lambda/f"]);
    }

    #[test]
    fn events_survive_a_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path(), 1 << 20).unwrap();
        let lines: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        let batch: Vec<(i64, &str)> = lines.iter().map(|l| (5, l.as_str())).collect();
        store.append("/aws/lambda/f", "s", &batch).unwrap();
        drop(store);
        let store = LogStore::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(messages(&store, "/aws/lambda/f", "s"), lines);
        store.append("/aws/lambda/f", "s", &[(6, "after")]).unwrap();
        assert_eq!(messages(&store, "/aws/lambda/f", "s").last().unwrap(), "after");
    }

    #[test]
    fn the_cap_drops_the_oldest_events_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path(), 64 * 1024).unwrap();
        let lines: Vec<String> = (0..20_000).map(|i| format!("line {i:06}")).collect();
        for chunk in lines.chunks(100) {
            let batch: Vec<(i64, &str)> = chunk.iter().map(|l| (1, l.as_str())).collect();
            store.append("g", "s", &batch).unwrap();
        }
        let kept = messages(&store, "g", "s");
        assert!(kept.len() < 20_000 && !kept.is_empty());
        assert_eq!(kept.last().unwrap(), "line 019999");
        assert_eq!(kept, lines[20_000 - kept.len()..]);
        assert!(store.group("g").unwrap().lock().stored_bytes() <= 64 * 1024);
    }

    #[test]
    fn time_never_goes_back_in_a_stream_and_seeks_find_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path(), 1 << 20).unwrap();
        let lines: Vec<String> = (0..1000).map(|i| format!("{i}")).collect();
        let batch: Vec<(i64, &str)> = lines.iter().enumerate().map(|(i, l)| (i as i64, l.as_str())).collect();
        store.append("g", "s", &batch).unwrap();
        store.append("g", "s", &[(3, "late")]).unwrap();
        let group = store.group("g").unwrap();
        let group = group.lock();
        let from: Vec<(u64, i64)> = SpanReader::new(group.streams["s"].spans_from_time(700))
            .map(|(seq, e)| (seq, e.timestamp))
            .filter(|&(_, t)| t >= 700)
            .collect();
        assert_eq!(from.first(), Some(&(700, 700)));
        assert_eq!(from.last(), Some(&(1000, 999)));
    }

    #[test]
    fn a_filtered_read_returns_its_window_s_matching_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path(), 1 << 20).unwrap();
        let lines: Vec<String> = (0..1000)
            .map(|i| match i % 10 {
                0 => format!("START RequestId: r{i}"),
                _ => format!("line {i} says \"hi\""),
            })
            .collect();
        let batch: Vec<(i64, &str)> = lines.iter().enumerate().map(|(i, l)| (i as i64, l.as_str())).collect();
        store.append("g", "s", &batch).unwrap();
        let group = store.group("g").unwrap();
        let group = group.lock();
        let read = |filter: LineFilter| -> Vec<String> {
            SpanReader::filtered(
                group.streams["s"].spans_from_time(filter.start_time.unwrap_or(0)),
                filter,
            )
            .map(|(_, e)| e.message)
            .collect()
        };
        let window = LineFilter {
            start_time: Some(300),
            end_time: Some(400),
            ..LineFilter::default()
        };
        assert_eq!(read(window.clone()), lines[300..400], "from the start, up to the end");
        let starts = LineFilter {
            all: terms(vec![b"START".to_vec()]),
            ..window
        };
        let expected: Vec<String> = (300..400)
            .step_by(10)
            .map(|i| format!("START RequestId: r{i}"))
            .collect();
        assert_eq!(read(starts), expected);
    }
}
