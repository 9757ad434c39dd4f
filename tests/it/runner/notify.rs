//! Log readers of other replicas are woken by NOTIFY with the ids of the runs that moved. A
//! payload holds under 8,000 bytes, about 215 ids: more ids than that go out as several
//! notifications, every id whole (a cut id woke nobody, and its readers waited for their
//! 2 s poll).

use std::collections::BTreeSet;
use std::time::Duration;

use lambda_steps::queue::batch::RunWrites;
use lambda_steps::queue::notify::Notifications;
use lambda_steps::queue::wake::Wakeups;
use lambda_steps::store::queue::Finish;
use lambda_steps::store::{LOGS_CHANNEL, runs};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use uuid::Uuid;

/// More runs than one payload holds, by a margin.
const RUNS: usize = 500;

#[sqlx::test]
async fn log_notifications_for_many_runs_carry_every_id_whole(db: PgPool) {
    let mut listener = listen(&db).await;
    let ids: Vec<Uuid> = (0..RUNS).map(|_| Uuid::new_v4()).collect();
    runs::notify_logs(&db, &ids).await.unwrap();
    assert_eq!(received(&mut listener, RUNS).await, ids.into_iter().collect());
}

/// Finishes go out by group commit, and the other replicas' readers learn of them from the
/// coalesced NOTIFY sent after (never from the finishing statement itself).
#[sqlx::test]
async fn finishing_many_runs_at_once_wakes_the_readers_of_each(db: PgPool) {
    const WORKER: &str = "notify-test";
    let ids: Vec<Uuid> = (0..RUNS).map(|_| Uuid::new_v4()).collect();
    crate::support::insert_running_runs(&db, &ids, WORKER).await;
    let mut listener = listen(&db).await;
    let wakeups = Wakeups::start(db.clone(), Notifications::new(), Duration::from_millis(10));
    let writes = RunWrites::start(db.clone(), WORKER.into(), wakeups);
    let finishes = ids.iter().map(|id| {
        writes.finish(Finish {
            id: *id,
            attempt: 1,
            status: lambda_steps::domain::run::RunStatus::Succeeded,
            result: Some(serde_json::json!({"ok": true})),
            error: None,
        })
    });
    let finished = futures::future::join_all(finishes).await;
    assert!(
        finished.iter().all(|f| matches!(f, Ok(true))),
        "each run is answered once, finished"
    );
    assert_eq!(received(&mut listener, RUNS).await, ids.into_iter().collect());
}

async fn listen(db: &PgPool) -> PgListener {
    let mut listener = PgListener::connect_with(db).await.unwrap();
    listener.listen(LOGS_CHANNEL).await.unwrap();
    listener
}

/// The ids of the notifications until `count` distinct ids came; fails on a piece of a
/// payload that is not a whole id, and on an id sent twice.
async fn received(listener: &mut PgListener, count: usize) -> BTreeSet<Uuid> {
    let mut ids = BTreeSet::new();
    while ids.len() < count {
        let notification = tokio::time::timeout(Duration::from_secs(5), listener.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} ids were sent", ids.len()))
            .unwrap();
        let payload = notification.payload();
        assert!(payload.len() < 8000, "a payload of {} bytes", payload.len());
        for piece in payload.split(',') {
            let id: Uuid = piece
                .parse()
                .unwrap_or_else(|e| panic!("{piece:?} is not a whole run id ({e}), after {} ids", ids.len()));
            assert!(ids.insert(id), "{id} sent twice");
        }
    }
    ids
}
