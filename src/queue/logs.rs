//! The log writer: every run's lines go through one channel to one task per replica,
//! which writes them in batches (every ~100 ms or 500 lines; at once when a run waits for a
//! flush or its finish, or a follower has a burst of function lines that a reader watches
//! live: then the batch is what is already waiting, as a group commit, so an idle service
//! adds no wait and a busy one shares each write among the runs that asked meanwhile), then
//! wakes the readers of those runs (in process at once, other replicas by the coalesced
//! NOTIFY of wake.rs). The channel is unbounded so that logging never blocks or reorders a
//! run: lines reach the writer in the order their seq numbers were given.
//!
//! A run's finish goes through the same channel, after its last line: the batch it lands in
//! holds every line of that run not yet stored, and both are written in one transaction
//! (batch.rs), so a finished run always has its whole log, at the cost of one commit, not
//! one for the lines and one for the finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::batch::{FinishReply, RunWriteError, write_lines_and_finishes};
use super::wake::Wakeups;
use crate::domain::run::{LogLevel, LogSource, RunPhase};
use crate::store::fault::{Backoff, is_transient};
use crate::store::logs::{NewLogLine, insert_batch};
use crate::store::queue::Finish;

const BATCH_LINES: usize = 500;
const BATCH_WAIT: Duration = Duration::from_millis(100);

enum Command {
    /// A line, and whether its time is when a function printed it (then its lag from
    /// print to stored is measured).
    Line(NewLogLine, bool),
    /// Acknowledged once every line sent before it is in the database.
    Flush(oneshot::Sender<()>),
    /// The lines sent before it are a burst someone is watching for: write the batch now
    /// rather than wait for more.
    Soon,
    /// A run's finish, written with the lines sent before it (see the module's header).
    Finish(Finish, FinishReply),
}

/// Where runs send their log lines.
#[derive(Clone)]
pub struct LogSink {
    commands: mpsc::UnboundedSender<Command>,
}

impl LogSink {
    /// Starts the writer of the replica named `worker` in leases; it ends when every sink
    /// is dropped and the queue is written.
    pub(super) fn start(db: sqlx::PgPool, worker: String, wakeups: Wakeups) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(db, worker, wakeups, receiver));
        Self { commands }
    }

    /// Finishes a run once every line sent before this is stored, in the same transaction;
    /// false when the attempt lost its lease (batch.rs says how faults are waited through).
    pub(super) async fn finish(&self, finish: Finish) -> Result<bool, RunWriteError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Finish(finish, reply))
            .map_err(|_| RunWriteError::WriterStopped)?;
        answer.await.map_err(|_| RunWriteError::WriterStopped)?
    }

    /// The log of one attempt at a run, numbering its lines from `next_seq`.
    pub fn for_run(&self, run_id: Uuid, attempt: i32, next_seq: i64) -> RunLog {
        RunLog {
            run_id,
            attempt,
            next_seq: Arc::new(AtomicI64::new(next_seq)),
            phase: Arc::new(AtomicU8::new(RunPhase::Claimed.index())),
            sink: self.clone(),
        }
    }
}

/// One run's log.
#[derive(Clone)]
pub struct RunLog {
    pub run_id: Uuid,
    attempt: i32,
    next_seq: Arc<AtomicI64>,
    /// The phase the runner's lines are written in ([`RunPhase::index`]); shared by clones.
    phase: Arc<AtomicU8>,
    sink: LogSink,
}

impl RunLog {
    /// The runner's lines from now on belong to `phase` (a worker's first is `claimed`).
    pub fn set_phase(&self, phase: RunPhase) {
        self.phase.store(phase.index(), Ordering::Relaxed);
    }

    /// The phase the runner's lines are written in now.
    pub fn phase(&self) -> RunPhase {
        RunPhase::from_index(self.phase.load(Ordering::Relaxed)).unwrap_or(RunPhase::Claimed)
    }

    pub fn line(&self, level: LogLevel, message: impl Into<String>) {
        self.write(chrono::Utc::now(), level, LogSource::Runner, message.into(), false);
    }

    /// A line the function printed, at the time it printed it where that is known
    /// (its CloudWatch event time), else now. Stored only while this attempt still holds
    /// the run: a worker that lost its lease (paused, cut off) and comes back writes none
    /// of the function's output into a run another replica settled.
    pub fn function_line(&self, time: Option<chrono::DateTime<chrono::Utc>>, message: impl Into<String>) {
        let printed = time.is_some();
        let time = time.unwrap_or_else(chrono::Utc::now);
        self.write(time, LogLevel::Info, LogSource::Function, message.into(), printed);
    }

    fn write(
        &self,
        time: chrono::DateTime<chrono::Utc>,
        level: LogLevel,
        source: LogSource,
        message: String,
        printed: bool,
    ) {
        let line = NewLogLine {
            run_id: self.run_id,
            seq: self.next_seq.fetch_add(1, Ordering::SeqCst),
            time,
            level,
            source,
            phase: (source == LogSource::Runner).then(|| self.phase()),
            message,
            held_by: (source == LogSource::Function).then_some(self.attempt),
        };
        let _ = self.sink.commands.send(Command::Line(line, printed));
    }

    pub fn info(&self, message: impl Into<String>) {
        self.line(LogLevel::Info, message);
    }

    pub fn warn(&self, message: impl Into<String>) {
        self.line(LogLevel::Warn, message);
    }

    pub fn error(&self, message: impl Into<String>) {
        self.line(LogLevel::Error, message);
    }

    /// Asks for the lines sent so far to be stored without waiting for a fuller batch
    /// (a follower's burst of a function's lines: a reader is watching them live).
    pub fn soon(&self) {
        let _ = self.sink.commands.send(Command::Soon);
    }

    /// Waits until every line of this run so far is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sink.commands.send(Command::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_batches(
    db: sqlx::PgPool,
    worker: String,
    wakeups: Wakeups,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    while let Some(first) = commands.recv().await {
        let mut lines = Vec::new();
        let mut printed_at = Vec::new();
        let mut flushes = Vec::new();
        let mut finishes = Vec::new();
        let mut deadline = tokio::time::Instant::now() + BATCH_WAIT;
        let mut next = Some(first);
        loop {
            match next.take() {
                Some(Command::Line(line, printed)) => {
                    if printed {
                        printed_at.push(line.time);
                    }
                    lines.push(line);
                }
                // Someone waits for this batch: close it once what is already waiting is
                // in (a timeout polls its future before it looks at the clock).
                Some(Command::Flush(done)) => {
                    flushes.push(done);
                    deadline = tokio::time::Instant::now();
                }
                Some(Command::Soon) => deadline = tokio::time::Instant::now(),
                // The run waits for its finish: as for a flush.
                Some(Command::Finish(finish, reply)) => {
                    finishes.push((finish, reply));
                    deadline = tokio::time::Instant::now();
                }
                None => {}
            }
            if lines.len() >= BATCH_LINES {
                break;
            }
            next = match tokio::time::timeout_at(deadline, commands.recv()).await {
                Ok(Some(command)) => Some(command),
                _ => break,
            };
        }
        let mut moved: Vec<Uuid> = lines.iter().map(|l| l.run_id).collect();
        if !finishes.is_empty() {
            moved.extend(write_lines_and_finishes(&db, &worker, &lines, finishes).await);
        } else if !lines.is_empty() {
            write(&db, &lines).await;
        }
        moved.sort();
        moved.dedup();
        wakeups.logs_moved(&moved);
        for printed in printed_at {
            crate::metrics::function_line_stored(printed);
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Writes a batch, waiting through transient faults: log lines are not dropped while the
/// database is away. A batch Postgres refuses for good is written line by line, so only a
/// line it cannot store is lost (and said so in the service log), never its neighbours.
pub(super) async fn write(db: &sqlx::PgPool, lines: &[NewLogLine]) {
    if let Err(e) = insert_until_landed(db, lines).await {
        tracing::warn!(error = %e, lines = lines.len(), "Postgres refused a batch of run logs; writing each line alone");
        for line in lines {
            if let Err(e) = insert_until_landed(db, std::slice::from_ref(line)).await {
                tracing::error!(error = %e, run.id = %line.run_id, seq = line.seq, "a log line could not be stored");
            }
        }
    }
}

/// Inserts lines, trying again until they land or Postgres refuses them for good.
async fn insert_until_landed(db: &sqlx::PgPool, lines: &[NewLogLine]) -> sqlx::Result<()> {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
    let mut tries = 0u32;
    loop {
        tries += 1;
        match insert_batch(db, lines).await {
            Ok(()) => return Ok(()),
            Err(e) if is_transient(&e) => {
                if tries == 1 || tries.is_multiple_of(10) {
                    tracing::warn!(error = %e, lines = lines.len(), "writing run logs failed; retrying");
                }
                backoff.wait().await;
            }
            Err(e) => return Err(e),
        }
    }
}
