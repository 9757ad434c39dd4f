//! One reader of a run's log: what it missed from the store, then the run's shared feed.
//!
//! A reader joins the feed before it reads its backlog, so a batch the feed reads meanwhile
//! is in the backlog, in the feed, or in both; it skips every line at or below the last
//! seq it sent, so none goes out twice. Each batch says where it starts (`after`): when
//! that is past the reader's last seq (it joined as the feed read, or fell behind and
//! lost batches), the reader reads the lines between from the store first, so none is
//! missed either. The order is the one the old per-reader loop had: lines, then the
//! status when it changed, then `end` once the run is finished and every line was sent.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::{Batch, FedLine, LogFeeds, PAGE, SLOW_TIMER};
use crate::domain::run::RunStatus;
use crate::store::logs::read_after;
use crate::store::runs;

/// How long a reader waits before reading its backlog again after a failed read.
const RETRY: Duration = Duration::from_millis(250);

/// What a reader is handed, in order.
#[derive(Debug, Clone)]
pub enum Fed {
    Line(FedLine),
    /// The run's status, when it changed (the first one always).
    Status(RunStatus),
    /// The run is finished and every line was handed out; `last_seq` is the last one's.
    End {
        status: RunStatus,
        last_seq: i64,
    },
}

impl LogFeeds {
    /// `run`'s log after seq `after`, to its end; it stops early when the run is deleted or
    /// the service stops.
    pub fn read(&self, run: Uuid, after: i64) -> impl Stream<Item = Fed> + use<> {
        let feeds = self.clone();
        async_stream::stream! {
            let mut last = after;
            let mut shown = None;
            'join: loop {
                let status = match feeds.reader_status(run).await {
                    Ok(Some(status)) => status,
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, run.id = %run, "reading a run's status for SSE failed");
                        if feeds.stopped_within(SLOW_TIMER).await {
                            return;
                        }
                        continue;
                    }
                };
                // A finished run's lines are all stored: no feed needed.
                let mut batches = (!status.is_finished()).then(|| feeds.subscribe(run));
                // Read the store up to this seq before going on: all of it when joining.
                let mut behind = Some(i64::MAX);
                let mut batch: Option<Arc<Batch>> = None;
                let mut joined = false;
                loop {
                    if let Some(up_to) = behind.take() {
                        while last < up_to {
                            let Some((lines, full)) = feeds.page(run, last).await else {
                                return;
                            };
                            for line in lines {
                                last = line.seq;
                                yield Fed::Line(line);
                            }
                            if !full {
                                break;
                            }
                        }
                    }
                    if !joined {
                        joined = true;
                        if shown != Some(status) {
                            shown = Some(status);
                            yield Fed::Status(status);
                        }
                        if batches.is_none() {
                            yield Fed::End { status, last_seq: last };
                            return;
                        }
                    }
                    if let Some(batch) = batch.take() {
                        for line in &batch.lines {
                            if line.seq > last {
                                last = line.seq;
                                yield Fed::Line(line.clone());
                            }
                        }
                        if let Some(status) = batch.status {
                            if shown != Some(status) {
                                shown = Some(status);
                                yield Fed::Status(status);
                            }
                            if status.is_finished() {
                                yield Fed::End { status, last_seq: last };
                                return;
                            }
                        }
                    }
                    let Some(receiver) = batches.as_mut() else {
                        return;
                    };
                    let next = tokio::select! {
                        _ = feeds.0.shutdown.cancelled() => return,
                        next = receiver.recv() => next,
                    };
                    match next {
                        Ok(next) => {
                            // It starts past what this reader sent: read the lines between.
                            if next.after > last {
                                behind = Some(next.after);
                            }
                            batch = Some(next);
                        }
                        // Batches were lost: read what they held from the store.
                        Err(RecvError::Lagged(_)) => behind = Some(i64::MAX),
                        // The feed stopped before the run was finished (the run is gone,
                        // or the service stops): join again.
                        Err(RecvError::Closed) => continue 'join,
                    }
                }
            }
        }
    }

    async fn reader_status(&self, run: Uuid) -> sqlx::Result<Option<RunStatus>> {
        self.0.reads.by_readers.fetch_add(1, Ordering::Relaxed);
        crate::metrics::log_read("reader");
        runs::status(&self.0.db, run).await
    }

    /// The run's stored lines after `last` (a page of them), and whether the page is full;
    /// a failed read is tried again (a line skipped here would be a gap), None when the
    /// service stops meanwhile.
    async fn page(&self, run: Uuid, last: i64) -> Option<(Vec<FedLine>, bool)> {
        loop {
            self.0.reads.by_readers.fetch_add(1, Ordering::Relaxed);
            crate::metrics::log_read("reader");
            match read_after(&self.0.db, run, last, PAGE).await {
                Ok(entries) => {
                    let full = entries.len() as i64 == PAGE;
                    return Some((entries.iter().map(FedLine::from).collect(), full));
                }
                Err(e) => tracing::warn!(error = %e, run.id = %run, "reading a run's log for SSE failed"),
            }
            if self.stopped_within(RETRY).await {
                return None;
            }
        }
    }

    /// True when the service stops within `wait`.
    async fn stopped_within(&self, wait: Duration) -> bool {
        tokio::select! {
            _ = self.0.shutdown.cancelled() => true,
            _ = tokio::time::sleep(wait) => false,
        }
    }
}
