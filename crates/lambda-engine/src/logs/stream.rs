//! One log stream on disk: append-only segment files of JSON lines (`{"t":..,"i":..,"m":..}`,
//! one event a line, named by the sequence number of their first event), and the small index
//! kept in memory to find a place in them without a scan: per segment its first sequence
//! number, event count, committed length, time range and a checkpoint (sequence, time, byte
//! offset) every `CHECKPOINT_EVERY` events. Timestamps in a stream never decrease, so a time
//! is found by binary search over the checkpoints, as a sequence number is.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A checkpoint every this many events: a read starts at most this many events early.
const CHECKPOINT_EVERY: u64 = 128;

/// One event as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    #[serde(rename = "t")]
    pub timestamp: i64,
    #[serde(rename = "i")]
    pub ingestion_time: i64,
    #[serde(rename = "m")]
    pub message: String,
}

/// What a stream file says about the stream itself.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct StreamFile {
    name: String,
    creation_time: i64,
}

#[derive(Debug, Clone, Copy)]
struct Checkpoint {
    seq: u64,
    timestamp: i64,
    offset: u64,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    first_seq: u64,
    events: u64,
    /// Bytes written and complete; readers never read past this.
    bytes: u64,
    first_timestamp: i64,
    last_timestamp: i64,
    checkpoints: Vec<Checkpoint>,
}

/// A stretch of one segment file to read: from `offset` (the event numbered `seq`) to `end`.
#[derive(Debug, Clone)]
pub struct Span {
    path: PathBuf,
    offset: u64,
    end: u64,
    seq: u64,
}

/// One log stream and its index.
#[derive(Debug)]
pub struct LogStream {
    pub name: String,
    /// A stable number from the name, part of every event id.
    pub id: u64,
    pub creation_time: i64,
    pub last_ingestion_time: Option<i64>,
    last_timestamp: Option<i64>,
    dir: PathBuf,
    next_seq: u64,
    segments: VecDeque<Segment>,
    writer: Option<File>,
}

impl LogStream {
    /// Creates the stream's directory and file.
    pub fn create(dir: PathBuf, name: &str, now: i64) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let file = StreamFile {
            name: name.to_string(),
            creation_time: now,
        };
        std::fs::write(dir.join("stream.json"), serde_json::to_vec(&file)?)?;
        Ok(Self::empty(dir, file))
    }

    fn empty(dir: PathBuf, file: StreamFile) -> Self {
        Self {
            id: stream_id(&file.name),
            name: file.name,
            creation_time: file.creation_time,
            last_ingestion_time: None,
            last_timestamp: None,
            dir,
            next_seq: 0,
            segments: VecDeque::new(),
            writer: None,
        }
    }

    /// Loads a stream from its directory, rebuilding the index from its segments (and
    /// cutting off a last line a crash left half-written).
    pub fn load(dir: PathBuf) -> anyhow::Result<Self> {
        let file: StreamFile = serde_json::from_slice(&std::fs::read(dir.join("stream.json"))?)?;
        let mut stream = Self::empty(dir.clone(), file);
        let mut paths: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let seq = p.file_name()?.to_str()?.strip_suffix(".jsonl")?.parse().ok()?;
                Some((seq, p))
            })
            .collect();
        paths.sort();
        for (first_seq, path) in paths {
            let segment = scan_segment(&path, first_seq)?;
            if segment.events == 0 {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            stream.next_seq = first_seq + segment.events;
            stream.last_timestamp = Some(segment.last_timestamp);
            stream.segments.push_back(segment);
        }
        stream.last_ingestion_time = stream.last_timestamp;
        Ok(stream)
    }

    pub fn first_timestamp(&self) -> Option<i64> {
        self.segments.front().map(|s| s.first_timestamp)
    }

    pub fn last_timestamp(&self) -> Option<i64> {
        self.last_timestamp
    }

    /// Sequence numbers of the events still stored: `first..next`.
    pub fn seq_range(&self) -> (u64, u64) {
        let first = self.segments.front().map_or(self.next_seq, |s| s.first_seq);
        (first, self.next_seq)
    }

    pub fn stored_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Appends events (their times raised to the stream's last, so time never goes back);
    /// a new segment starts once the current one holds `segment_limit` bytes. Returns the
    /// bytes added.
    pub fn append(&mut self, lines: &[(i64, &str)], now: i64, segment_limit: u64) -> std::io::Result<u64> {
        let mut added = 0;
        let mut buf: Vec<u8> = Vec::new();
        for &(timestamp, message) in lines {
            let timestamp = timestamp.max(self.last_timestamp.unwrap_or(i64::MIN));
            let full = self.segments.back().is_none_or(|s| s.bytes >= segment_limit) || self.writer.is_none();
            if full {
                self.flush(&mut buf)?;
                self.start_segment()?;
            }
            let record = Event {
                timestamp,
                ingestion_time: now,
                message: message.to_string(),
            };
            let offset_in_buf = buf.len() as u64;
            serde_json::to_writer(&mut buf, &record)?;
            buf.push(b'\n');
            let len = buf.len() as u64 - offset_in_buf;
            let segment = self.segments.back_mut().expect("a segment to write");
            let seq = self.next_seq;
            if (seq - segment.first_seq).is_multiple_of(CHECKPOINT_EVERY) {
                segment.checkpoints.push(Checkpoint {
                    seq,
                    timestamp,
                    offset: segment.bytes,
                });
            }
            if segment.events == 0 {
                segment.first_timestamp = timestamp;
            }
            segment.events += 1;
            segment.bytes += len;
            segment.last_timestamp = timestamp;
            self.next_seq += 1;
            self.last_timestamp = Some(timestamp);
            added += len;
        }
        self.flush(&mut buf)?;
        if !lines.is_empty() {
            self.last_ingestion_time = Some(now);
        }
        Ok(added)
    }

    fn flush(&mut self, buf: &mut Vec<u8>) -> std::io::Result<()> {
        if let Some(writer) = &mut self.writer
            && !buf.is_empty()
        {
            writer.write_all(buf)?;
        }
        buf.clear();
        Ok(())
    }

    fn start_segment(&mut self) -> std::io::Result<()> {
        let path = self.dir.join(format!("{:016}.jsonl", self.next_seq));
        self.writer = Some(File::options().create(true).append(true).open(&path)?);
        if self.segments.back().is_some_and(|s| s.events == 0) {
            self.segments.pop_back();
        }
        self.segments.push_back(Segment {
            path,
            first_seq: self.next_seq,
            events: 0,
            bytes: 0,
            first_timestamp: 0,
            last_timestamp: 0,
            checkpoints: Vec::new(),
        });
        Ok(())
    }

    /// The oldest segment's first timestamp and size, when it may be dropped (`keep_active`:
    /// the segment being written stays).
    pub fn oldest_segment(&self, keep_active: bool) -> Option<(i64, u64)> {
        let droppable = if keep_active && self.writer.is_some() {
            self.segments.len().saturating_sub(1)
        } else {
            self.segments.len()
        };
        (droppable > 0).then(|| {
            let s = &self.segments[0];
            (s.first_timestamp, s.bytes)
        })
    }

    /// Deletes the oldest segment; returns its size.
    pub fn drop_oldest_segment(&mut self) -> u64 {
        let Some(segment) = self.segments.pop_front() else {
            return 0;
        };
        if self.segments.is_empty() {
            self.writer = None;
        }
        let _ = std::fs::remove_file(&segment.path);
        segment.bytes
    }

    /// Drops segments whose every event is older than `cutoff`; returns the bytes freed.
    pub fn expire(&mut self, cutoff: i64) -> u64 {
        let mut freed = 0;
        while self.segments.front().is_some_and(|s| s.last_timestamp < cutoff) {
            freed += self.drop_oldest_segment();
        }
        freed
    }

    /// Where to read from the event numbered `seq` (or the first stored after it) to the end.
    pub fn spans_from_seq(&self, seq: u64) -> Vec<Span> {
        let start = self.segments.partition_point(|s| s.first_seq + s.events <= seq);
        self.spans(start, |segment| {
            let i = segment.checkpoints.partition_point(|c| c.seq <= seq);
            i.saturating_sub(1)
        })
    }

    /// Where to read from the first event at or after `timestamp` to the end.
    pub fn spans_from_time(&self, timestamp: i64) -> Vec<Span> {
        let start = self.segments.partition_point(|s| s.last_timestamp < timestamp);
        self.spans(start, |segment| {
            let i = segment.checkpoints.partition_point(|c| c.timestamp < timestamp);
            i.saturating_sub(1)
        })
    }

    fn spans(&self, start: usize, checkpoint_in_first: impl Fn(&Segment) -> usize) -> Vec<Span> {
        self.segments
            .iter()
            .skip(start)
            .enumerate()
            .filter(|(_, s)| s.events > 0)
            .map(|(i, segment)| {
                let checkpoint = match i {
                    0 => segment.checkpoints.get(checkpoint_in_first(segment)).copied(),
                    _ => segment.checkpoints.first().copied(),
                };
                let (offset, seq) = checkpoint.map_or((0, segment.first_seq), |c| (c.offset, c.seq));
                Span {
                    path: segment.path.clone(),
                    offset,
                    end: segment.bytes,
                    seq,
                }
            })
            .collect()
    }
}

/// What a reader judges from an event's stored line before parsing it: a line before
/// `start_time` is skipped, the first at or past `end_time` ends the read (time never goes
/// back in a stream), and a line lacking what a match needs (see
/// `FilterPattern::line_terms`) is skipped. So a query pays for the events of its window
/// that may match, not for every event it passes over.
#[derive(Debug, Clone, Default)]
pub struct LineFilter {
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    /// Every one must be in the line.
    pub all: Vec<Term>,
    /// One must be in the line, when there are any.
    pub any: Vec<Term>,
}

/// A term looked for in stored lines, its searcher built once per query, not per line.
pub type Term = memchr::memmem::Finder<'static>;

/// The searchers of terms.
pub fn terms(terms: Vec<Vec<u8>>) -> Vec<Term> {
    terms
        .into_iter()
        .map(|t| memchr::memmem::Finder::new(&t).into_owned())
        .collect()
}

/// What a line is worth parsing for.
enum Judged {
    Parse,
    Skip,
    End,
}

impl LineFilter {
    fn judge(&self, line: &[u8]) -> Judged {
        if let Some(timestamp) = line_timestamp(line) {
            if self.end_time.is_some_and(|end| timestamp >= end) {
                return Judged::End;
            }
            if self.start_time.is_some_and(|start| timestamp < start) {
                return Judged::Skip;
            }
        }
        let holds = |term: &Term| term.find(line).is_some();
        if !self.all.iter().all(holds) || !(self.any.is_empty() || self.any.iter().any(holds)) {
            return Judged::Skip;
        }
        Judged::Parse
    }
}

/// The timestamp of a stored line, read without parsing it: lines begin `{"t":` and the
/// number (as `Event` is written).
fn line_timestamp(line: &[u8]) -> Option<i64> {
    let rest = line.strip_prefix(br#"{"t":"#)?;
    let end = rest.iter().position(|&b| b == b',')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// Reads the events of spans in order, with their sequence numbers. A segment deleted since
/// the spans were taken (cap, retention) is skipped.
pub struct SpanReader {
    spans: std::vec::IntoIter<Span>,
    current: Option<(BufReader<File>, u64, u64)>,
    line: Vec<u8>,
    filter: LineFilter,
}

impl SpanReader {
    #[cfg(test)]
    pub fn new(spans: Vec<Span>) -> Self {
        Self::filtered(spans, LineFilter::default())
    }

    /// A reader that returns only the events `filter` lets through (and perhaps some it
    /// could not judge: the caller still checks what it needs).
    pub fn filtered(spans: Vec<Span>, filter: LineFilter) -> Self {
        Self {
            spans: spans.into_iter(),
            current: None,
            line: Vec::new(),
            filter,
        }
    }
}

impl Iterator for SpanReader {
    type Item = (u64, Event);

    fn next(&mut self) -> Option<(u64, Event)> {
        loop {
            if self.current.is_none() {
                let span = self.spans.next()?;
                let Ok(mut file) = File::open(&span.path) else { continue };
                if file.seek(SeekFrom::Start(span.offset)).is_err() {
                    continue;
                }
                let remaining = span.end - span.offset;
                // A span near the end of a stream (the usual query: the newest invocation)
                // is a few hundred bytes: a buffer of its size, not a 64 KB one each time.
                let capacity = usize::try_from(remaining).unwrap_or(usize::MAX).clamp(512, 64 * 1024);
                self.current = Some((BufReader::with_capacity(capacity, file), remaining, span.seq));
            }
            let (reader, remaining, seq) = self.current.as_mut().expect("current span");
            if *remaining == 0 {
                self.current = None;
                continue;
            }
            self.line.clear();
            let read = std::io::Read::take(&mut *reader, *remaining).read_until(b'\n', &mut self.line);
            match read {
                Ok(n) if n > 0 && self.line.ends_with(b"\n") => {
                    *remaining -= n as u64;
                    let this = *seq;
                    *seq += 1;
                    match self.filter.judge(&self.line) {
                        Judged::Parse => {}
                        Judged::Skip => continue,
                        Judged::End => {
                            self.current = None;
                            self.spans = Vec::new().into_iter();
                            return None;
                        }
                    }
                    match serde_json::from_slice::<Event>(&self.line) {
                        Ok(event) => return Some((this, event)),
                        Err(_) => continue,
                    }
                }
                _ => self.current = None,
            }
        }
    }
}

/// Rebuilds a segment's index from its file, truncating a half-written last line.
fn scan_segment(path: &Path, first_seq: u64) -> anyhow::Result<Segment> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut segment = Segment {
        path: path.to_path_buf(),
        first_seq,
        events: 0,
        bytes: 0,
        first_timestamp: 0,
        last_timestamp: 0,
        checkpoints: Vec::new(),
    };
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || !line.ends_with(b"\n") {
            break;
        }
        let Ok(event) = serde_json::from_slice::<Event>(&line) else {
            break;
        };
        let seq = first_seq + segment.events;
        if segment.events.is_multiple_of(CHECKPOINT_EVERY) {
            segment.checkpoints.push(Checkpoint {
                seq,
                timestamp: event.timestamp,
                offset: segment.bytes,
            });
        }
        if segment.events == 0 {
            segment.first_timestamp = event.timestamp;
        }
        segment.events += 1;
        segment.bytes += n as u64;
        segment.last_timestamp = event.timestamp;
    }
    let on_disk = std::fs::metadata(path)?.len();
    if on_disk > segment.bytes {
        File::options().write(true).open(path)?.set_len(segment.bytes)?;
    }
    Ok(segment)
}

/// FNV-1a of the stream's name, within 19 decimal digits so event ids stay fixed-width.
fn stream_id(name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % 10u64.pow(19)
}
