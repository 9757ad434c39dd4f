//! Live log feeds: many readers of one run, joining before, during and after it, each get
//! every line once, in order, then the final status and `end`; and the store is read once
//! per batch for all of them, not once per reader.

use std::time::Duration;

use futures::StreamExt;
use lambda_steps::domain::run::RunStatus;
use lambda_steps::queue::batch::RunWrites;
use lambda_steps::queue::log_feed::{Fed, LogFeeds};
use lambda_steps::queue::notify::Notifications;
use lambda_steps::queue::wake::Wakeups;
use lambda_steps::store::queue::Finish;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WORKER: &str = "feeds-test";
/// Readers from before the first line.
const READERS: usize = 100;
/// Readers joining halfway: half from the start, half resuming after `RESUME_AFTER`.
const LATE_READERS: usize = 20;
const RESUME_AFTER: i64 = 7;
const BATCHES: usize = 10;
const LINES_A_BATCH: usize = 5;
const LINES: i64 = (BATCHES * LINES_A_BATCH) as i64;

#[sqlx::test]
async fn many_readers_of_a_run_get_every_line_once_and_share_one_read_of_each_batch(db: PgPool) {
    let run = Uuid::new_v4();
    crate::support::insert_running_runs(&db, &[run], WORKER).await;
    let notifications = Notifications::new();
    let shutdown = CancellationToken::new();
    let wakeups = Wakeups::start(db.clone(), notifications.clone(), Duration::from_millis(10));
    let writes = RunWrites::start(db.clone(), WORKER.into(), wakeups);
    let feeds = LogFeeds::start(db.clone(), &notifications, shutdown.clone());
    let log = writes.log_sink().for_run(run, 1, 1);

    let read = |after: i64| {
        let stream = feeds.read(run, after);
        tokio::spawn(async move { (after, stream.collect::<Vec<Fed>>().await) })
    };
    let mut readers: Vec<_> = (0..READERS).map(|_| read(0)).collect();
    // Each has read the run's status and its (empty) backlog once: it has joined the feed.
    wait_until(|| feeds.reads().by_readers >= 2 * READERS as u64, "every reader joined").await;
    assert_eq!(feeds.running(), 1, "one feed for the run, however many read it");
    let joined = feeds.reads();
    let started = std::time::Instant::now();

    for batch in 0..BATCHES {
        if batch == BATCHES / 2 {
            readers.extend((0..LATE_READERS).map(|i| read(if i % 2 == 0 { 0 } else { RESUME_AFTER })));
        }
        for line in 0..LINES_A_BATCH {
            log.info(format!("line {}", batch * LINES_A_BATCH + line));
        }
        log.flush().await;
        // A reader watching live: the batch is read before the next is written.
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let finished = writes
        .finish(Finish {
            id: run,
            attempt: 1,
            status: RunStatus::Succeeded,
            result: None,
            error: None,
        })
        .await;
    assert!(matches!(finished, Ok(true)), "{finished:?}");

    for reader in readers {
        let (after, fed) = tokio::time::timeout(Duration::from_secs(30), reader)
            .await
            .unwrap()
            .unwrap();
        check_fed(&fed, after);
    }
    let reads = feeds.reads();
    // The feed read the status and the new lines (two statements) once a wake-up: once for
    // each batch and once for the finish, plus where its log ended when it started, and a
    // wake-up of its slow timer every 2 s. One read per reader per batch would be
    // READERS x BATCHES x 2 = 2,000.
    let ticks = started.elapsed().as_secs() / 2 + 1;
    let by_feed = reads.by_feeds - joined.by_feeds;
    assert!(
        by_feed <= 2 * (BATCHES as u64 + 1) + 1 + 2 * ticks,
        "the feed read the store {by_feed} times for {BATCHES} batches in {:?}",
        started.elapsed()
    );
    // Readers read the store when they join (status, backlog), and at most once more each
    // when they joined while the feed was reading; never per batch.
    let by_readers = reads.by_readers - joined.by_readers;
    assert!(
        by_readers <= 3 * LATE_READERS as u64,
        "readers read the store {by_readers} times after they joined, for {LATE_READERS} late joiners"
    );
    wait_until(|| feeds.running() == 0, "the feed ended with its run").await;

    // A reader of the finished run reads it from the store alone, without a feed.
    let (_, fed) = read(0).await.unwrap();
    check_fed(&fed, 0);
    assert_eq!(feeds.running(), 0);
    shutdown.cancel();
}

/// Every line after `after` once, in order, then `succeeded` and `end` with the last seq.
fn check_fed(fed: &[Fed], after: i64) {
    let seqs: Vec<i64> = fed
        .iter()
        .filter_map(|f| match f {
            Fed::Line(line) => Some(line.seq),
            _ => None,
        })
        .collect();
    assert_eq!(
        seqs,
        (after + 1..=LINES).collect::<Vec<_>>(),
        "a reader after {after}: every seq once, in order"
    );
    for f in fed {
        if let Fed::Line(line) = f {
            let entry: serde_json::Value = serde_json::from_str(&line.json).unwrap();
            assert_eq!(entry["seq"], line.seq);
            assert_eq!(entry["message"], format!("line {}", line.seq - 1));
        }
    }
    let statuses: Vec<RunStatus> = fed
        .iter()
        .filter_map(|f| match f {
            Fed::Status(status) => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses.last(), Some(&RunStatus::Succeeded), "{fed:?}");
    assert!(
        matches!(fed.last(), Some(Fed::End { status: RunStatus::Succeeded, last_seq }) if *last_seq == LINES),
        "ends after every line: {:?}",
        fed.last()
    );
}

async fn wait_until(done: impl Fn() -> bool, what: &str) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not within 5 s");
}
