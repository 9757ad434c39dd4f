//! The queue's shortcuts keep its guarantees: a submit hands its run to an idle worker only
//! while the pool has a free slot, the queue is drained and the replica is not stopping,
//! and then stores it exactly as a claim would leave it; a finish stores every log line
//! sent before it in its own transaction, so a reader that sees the run finished has its
//! whole log.

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use lambda_steps::domain::run::RunStatus;
use lambda_steps::queue::batch::RunWrites;
use lambda_steps::queue::handoff::{Handoff, Intake};
use lambda_steps::queue::notify::Notifications;
use lambda_steps::queue::submit::Submits;
use lambda_steps::queue::wake::Wakeups;
use lambda_steps::store::queue::{ClaimedRun, Finish};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WORKER: &str = "handoff-test";

/// What an intake was handed, each run with the slot it holds.
type Handed = Arc<Mutex<Vec<(ClaimedRun, OwnedSemaphorePermit)>>>;

/// An intake of `slots` slots that keeps what it was handed (and holds its slot).
fn intake(slots: usize, drained: bool) -> (Intake, Handed) {
    let handed: Handed = Arc::default();
    let keep = handed.clone();
    let intake = Intake {
        slots: Arc::new(Semaphore::new(slots)),
        drained: Arc::new(AtomicBool::new(drained)),
        start: Arc::new(move |run, permit| keep.lock().push((run, permit))),
        worker: WORKER.into(),
        lease_seconds: 30.0,
        shutdown: CancellationToken::new(),
    };
    (intake, handed)
}

fn submits(db: &PgPool, handoff: &Handoff) -> Submits {
    let wakeups = Wakeups::start(db.clone(), Notifications::new(), Duration::from_millis(10));
    Submits::start(db.clone(), wakeups, handoff.clone())
}

fn step(n: i64) -> serde_json::Value {
    json!({"type": "lambda_invoke", "function_name": "f", "payload": {"n": n}})
}

/// (status, attempt, worker, whether a lease is set) as stored.
async fn stored(db: &PgPool, id: Uuid) -> (String, i32, Option<String>, bool) {
    sqlx::query_as("SELECT status, attempt, worker, lease_expires_at > now() FROM runs WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await
        .map(|(s, a, w, l): (String, i32, Option<String>, Option<bool>)| (s, a, w, l.unwrap_or(false)))
        .unwrap()
}

#[sqlx::test]
async fn an_idle_worker_takes_a_submit_as_a_claim_would_and_a_busy_pool_leaves_it_queued(db: PgPool) {
    let handoff = Handoff::default();
    let (intake, handed) = intake(1, true);
    handoff.open(intake.clone());
    let submits = submits(&db, &handoff);

    let (first, created) = submits.submit("default", &step(1), None).await.unwrap();
    assert!(created);
    assert_eq!(
        first.status,
        RunStatus::Queued,
        "the answer shows the run as it was submitted"
    );
    assert_eq!(
        stored(&db, first.id).await,
        ("running".into(), 1, Some(WORKER.into()), true),
        "stored claimed by this replica, leased"
    );
    {
        let handed = handed.lock();
        assert_eq!(handed.len(), 1);
        let (run, _) = &handed[0];
        assert_eq!((run.id, run.attempt, run.next_seq), (first.id, 1, 2));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&run.step).unwrap(), step(1));
    }
    let lines: Vec<(i64, String)> = sqlx::query_as("SELECT seq, message FROM run_logs WHERE run_id = $1")
        .bind(first.id)
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(lines, [(1, "queued lambda_invoke step".to_string())]);

    // The one slot is taken: the next run waits in the queue, and from then on nothing is
    // handed over before the pool's claim has taken what waits.
    let (second, _) = submits.submit("default", &step(2), None).await.unwrap();
    assert_eq!(stored(&db, second.id).await, ("queued".into(), 0, None, false));
    handed.lock().clear(); // the slot is free again
    let (third, _) = submits.submit("default", &step(3), None).await.unwrap();
    assert_eq!(
        stored(&db, third.id).await.0,
        "queued",
        "a submit never overtakes a queued run"
    );
    assert!(handed.lock().is_empty());
}

#[sqlx::test]
async fn nothing_is_handed_over_before_the_queue_is_drained_or_once_the_replica_stops(db: PgPool) {
    let handoff = Handoff::default();
    let (intake, handed) = intake(4, false);
    handoff.open(intake.clone());
    let submits = submits(&db, &handoff);
    let (run, _) = submits.submit("default", &step(1), None).await.unwrap();
    assert_eq!(stored(&db, run.id).await.0, "queued", "the queue may hold older runs");

    intake.drained.store(true, std::sync::atomic::Ordering::SeqCst);
    intake.shutdown.cancel();
    let (run, _) = submits.submit("default", &step(2), None).await.unwrap();
    assert_eq!(
        stored(&db, run.id).await.0,
        "queued",
        "a stopping replica takes nothing"
    );
    assert!(handed.lock().is_empty());

    // A replica whose pool never opened the handoff queues everything too.
    let closed = submits_with_nothing_open(&db);
    let (run, _) = closed.submit("default", &step(3), None).await.unwrap();
    assert_eq!(stored(&db, run.id).await.0, "queued");
}

fn submits_with_nothing_open(db: &PgPool) -> Submits {
    submits(db, &Handoff::default())
}

#[sqlx::test]
async fn a_finish_stores_the_lines_sent_before_it_in_its_own_transaction(db: PgPool) {
    let id = Uuid::new_v4();
    crate::support::insert_running_runs(&db, &[id], WORKER).await;
    let wakeups = Wakeups::start(db.clone(), Notifications::new(), Duration::from_millis(10));
    let writes = RunWrites::start(db.clone(), WORKER.into(), wakeups);
    let log = writes.log_sink().for_run(id, 1, 1);
    log.info("claimed");
    log.function_line(None, "printed by the function");
    log.info("run succeeded");
    let finished = writes
        .finish(Finish {
            id,
            attempt: 1,
            status: RunStatus::Succeeded,
            result: Some(json!({"ok": true})),
            error: None,
        })
        .await;
    assert!(matches!(finished, Ok(true)), "{finished:?}");
    // The rows one transaction wrote share its id.
    let run_xmin: String = sqlx::query_scalar("SELECT xmin::text FROM runs WHERE id = $1")
        .bind(id)
        .fetch_one(&db)
        .await
        .unwrap();
    let line_xmins: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, xmin::text FROM run_logs WHERE run_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(
        line_xmins,
        (1..=3).map(|seq| (seq, run_xmin.clone())).collect::<Vec<_>>(),
        "every line stored, by the finish's own transaction"
    );
}
