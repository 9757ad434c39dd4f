//! One feed per live run per process, shared by every reader of that run's log on this
//! replica. The first reader of a run starts its feed; the feed reads each new batch of the
//! run's log once (woken in process by the log writer, by NOTIFY when another replica
//! wrote, and by a slow timer as the safety net) and hands the batch, serialised once, to
//! every reader as one shared `Arc`. A thousand readers of fifty runs so cost fifty reads a
//! batch, not a thousand, and one JSON encoding of each line, not twenty.
//!
//! A feed ends once its run is finished (after handing out the last batch and the final
//! status), or when it finds no reader left. How a reader joins a feed without a gap or a
//! duplicate is in reader.rs.

mod reader;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use reader::Fed;

use super::notify::Notifications;
use crate::domain::run::RunStatus;
use crate::store::logs::{LogEntry, last_seq, read_after};
use crate::store::runs;

/// Lines read with one statement.
const PAGE: i64 = 500;
/// How often a feed looks for news without being told (a NOTIFY can be lost), and whether
/// anyone still reads it.
const SLOW_TIMER: Duration = Duration::from_secs(2);
/// Batches a reader may fall behind before it reads what it missed from the store.
const BACKLOG: usize = 256;

/// The feeds of this process. Cheap to clone.
#[derive(Clone)]
pub struct LogFeeds(Arc<Shared>);

struct Shared {
    db: sqlx::PgPool,
    shutdown: CancellationToken,
    feeds: Mutex<HashMap<Uuid, Arc<Feed>>>,
    reads: Reads,
}

/// One run's feed: its batches, and the bell its wake-ups ring.
struct Feed {
    batches: broadcast::Sender<Arc<Batch>>,
    wake: Notify,
}

/// What a feed read at once: the run's lines after `after`, in order (none when only the
/// status moved), and the status read before them once they are the last of that read
/// (a finished status means no line follows).
struct Batch {
    after: i64,
    lines: Vec<FedLine>,
    status: Option<RunStatus>,
}

/// A line as readers send it: its seq, and the entry as JSON, encoded once for all of them.
#[derive(Clone, Debug)]
pub struct FedLine {
    pub seq: i64,
    pub json: Arc<str>,
}

impl From<&LogEntry> for FedLine {
    fn from(entry: &LogEntry) -> Self {
        Self {
            seq: entry.seq,
            json: serde_json::to_string(entry).unwrap_or_default().into(),
        }
    }
}

/// How often the store was read for run logs, by feeds and by readers (a reader reads its
/// backlog when it joins, and what it missed when it fell behind).
#[derive(Default)]
struct Reads {
    by_feeds: AtomicU64,
    by_readers: AtomicU64,
}

/// [`LogFeeds::reads`]: statements that read a run's lines (or its status) since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCounts {
    pub by_feeds: u64,
    pub by_readers: u64,
}

impl LogFeeds {
    /// Starts the dispatcher that rings each feed's bell when its run's log moves; it ends
    /// with `shutdown`, and so do the feeds.
    pub fn start(db: sqlx::PgPool, notifications: &Notifications, shutdown: CancellationToken) -> Self {
        let feeds = Self(Arc::new(Shared {
            db,
            shutdown,
            feeds: Mutex::new(HashMap::new()),
            reads: Reads::default(),
        }));
        tokio::spawn(feeds.clone().dispatch(notifications.logs.subscribe()));
        feeds
    }

    /// How often feeds and readers read the store so far.
    pub fn reads(&self) -> ReadCounts {
        ReadCounts {
            by_feeds: self.0.reads.by_feeds.load(Ordering::Relaxed),
            by_readers: self.0.reads.by_readers.load(Ordering::Relaxed),
        }
    }

    /// Runs whose feed is running now.
    pub fn running(&self) -> usize {
        self.0.feeds.lock().len()
    }

    /// The batches of `run`'s feed from now on, starting the feed if it is not running.
    fn subscribe(&self, run: Uuid) -> broadcast::Receiver<Arc<Batch>> {
        let mut feeds = self.0.feeds.lock();
        if let Some(feed) = feeds.get(&run) {
            return feed.batches.subscribe();
        }
        let feed = Arc::new(Feed {
            batches: broadcast::channel(BACKLOG).0,
            wake: Notify::new(),
        });
        let batches = feed.batches.subscribe();
        feeds.insert(run, feed.clone());
        tokio::spawn(self.clone().follow(run, feed));
        batches
    }

    /// Removes `run`'s feed, unless it still has readers and `only_unread`. Under the same
    /// lock as [`Self::subscribe`], so no reader joins a feed that is going away.
    fn retire(&self, run: Uuid, feed: &Arc<Feed>, only_unread: bool) -> bool {
        let mut feeds = self.0.feeds.lock();
        if only_unread && feed.batches.receiver_count() > 0 {
            return false;
        }
        if feeds.get(&run).is_some_and(|f| Arc::ptr_eq(f, feed)) {
            feeds.remove(&run);
        }
        true
    }

    /// Rings the bells of the runs whose log moved, here or on another replica (every bell
    /// when the listener lost track).
    async fn dispatch(self, mut moved: broadcast::Receiver<Arc<Vec<Uuid>>>) {
        loop {
            let ids = tokio::select! {
                _ = self.0.shutdown.cancelled() => return,
                ids = moved.recv() => ids,
            };
            let feeds = self.0.feeds.lock();
            match ids {
                Ok(ids) if !ids.is_empty() => {
                    for id in ids.iter() {
                        if let Some(feed) = feeds.get(id) {
                            feed.wake.notify_one();
                        }
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    feeds.values().for_each(|feed| feed.wake.notify_one());
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// A run's feed: reads what is new after each wake-up and hands it out, until the run
    /// is finished or gone, nobody reads it, or the service stops.
    async fn follow(self, run: Uuid, feed: Arc<Feed>) {
        // Where it starts: a reader reads what came before from the store itself.
        let mut last = loop {
            self.0.reads.by_feeds.fetch_add(1, Ordering::Relaxed);
            crate::metrics::log_read("feed");
            match last_seq(&self.0.db, run).await {
                Ok(last) => break last,
                Err(e) => tracing::warn!(error = %e, run.id = %run, "reading where a run's log ends failed"),
            }
            if !self.pause(&feed).await {
                self.retire(run, &feed, false);
                return;
            }
        };
        let mut handed = None;
        loop {
            if self.retire(run, &feed, true) {
                return;
            }
            match self.read_news(run, last, handed).await {
                Ok(None) => {
                    self.retire(run, &feed, false);
                    return;
                }
                Ok(Some((batches, status))) => {
                    for batch in batches {
                        last = batch.lines.last().map_or(last, |line| line.seq);
                        let _ = feed.batches.send(Arc::new(batch));
                    }
                    handed = Some(status);
                    if status.is_finished() {
                        self.retire(run, &feed, false);
                        return;
                    }
                }
                Err(e) => tracing::warn!(error = %e, run.id = %run, "reading a run's log for its readers failed"),
            }
            if !self.pause(&feed).await {
                self.retire(run, &feed, false);
                return;
            }
        }
    }

    /// The run's status and its lines after `last`, as batches to hand out (none when
    /// nothing moved since `handed`, the status last handed out); None when the run is gone.
    async fn read_news(
        &self,
        run: Uuid,
        mut last: i64,
        handed: Option<RunStatus>,
    ) -> sqlx::Result<Option<(Vec<Batch>, RunStatus)>> {
        // Status first: a run is finished only after all its lines are stored.
        self.0.reads.by_feeds.fetch_add(1, Ordering::Relaxed);
        crate::metrics::log_read("feed");
        let Some(status) = runs::status(&self.0.db, run).await? else {
            return Ok(None);
        };
        let mut batches = Vec::new();
        loop {
            self.0.reads.by_feeds.fetch_add(1, Ordering::Relaxed);
            crate::metrics::log_read("feed");
            let entries = read_after(&self.0.db, run, last, PAGE).await?;
            let full = entries.len() as i64 == PAGE;
            let after = last;
            last = entries.last().map_or(last, |e| e.seq);
            let lines: Vec<FedLine> = entries.iter().map(FedLine::from).collect();
            let with_status = (!full).then_some(status);
            if !lines.is_empty() || (with_status.is_some() && handed != with_status) {
                batches.push(Batch {
                    after,
                    lines,
                    status: with_status,
                });
            }
            if !full {
                return Ok(Some((batches, status)));
            }
        }
    }

    /// Waits for news of the run or the slow timer; false when the service is stopping.
    async fn pause(&self, feed: &Feed) -> bool {
        tokio::select! {
            _ = self.0.shutdown.cancelled() => false,
            _ = feed.wake.notified() => true,
            _ = tokio::time::sleep(SLOW_TIMER) => true,
        }
    }
}
