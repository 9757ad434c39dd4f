//! No deadlocks by construction: the statements that update many runs at once (heartbeat,
//! Invoke marks, finishes) lock their rows in one order, so running them concurrently on
//! overlapping sets, each handed its runs in a different order, never deadlocks.

use std::time::{Duration, Instant};

use lambda_steps::store::queue::{self, Finish};
use rand::seq::SliceRandom;
use sqlx::PgPool;
use uuid::Uuid;

const WORKER: &str = "lock-order-test";
const RUNS: usize = 120;

#[sqlx::test]
async fn heartbeats_marks_and_finishes_of_overlapping_runs_never_deadlock(db: PgPool) {
    // A table of realistic size, so Postgres looks runs up by index in the order it is
    // given them (on a tiny table it scans in one physical order and hides the problem).
    sqlx::query(
        "INSERT INTO runs (id, project, status, step, attempt, finished_at)
         SELECT gen_random_uuid(), 'default', 'succeeded', '{}', 1, now() FROM generate_series(1, 20000)",
    )
    .execute(&db)
    .await
    .unwrap();
    let ids: Vec<Uuid> = (0..RUNS).map(|_| Uuid::new_v4()).collect();
    crate::support::insert_running_runs(&db, &ids, WORKER).await;
    sqlx::query("ANALYZE runs").execute(&db).await.unwrap();

    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < Duration::from_secs(8) {
        rounds += 1;
        let (heartbeat, marks, finishes) = (shuffled(&ids, RUNS), shuffled(&ids, RUNS / 2), shuffled(&ids, RUNS / 2));
        let (other_heartbeat, other_finishes) = (shuffled(&ids, RUNS), shuffled(&ids, RUNS / 2));
        let held: Vec<(Uuid, i32)> = heartbeat.iter().map(|id| (*id, 1)).collect();
        let other_held: Vec<(Uuid, i32)> = other_heartbeat.iter().map(|id| (*id, 1)).collect();
        let marked: Vec<(Uuid, i32)> = marks.iter().map(|id| (*id, 1)).collect();
        let (finishes, other_finishes) = (finishing(&finishes), finishing(&other_finishes));
        let (beat, other_beat, mark, finish, other_finish) = tokio::join!(
            queue::heartbeat(&db, WORKER, &held, 60.0),
            queue::heartbeat(&db, WORKER, &other_held, 60.0),
            queue::mark_invokes_sent(&db, &marked),
            queue::finish_many(&db, WORKER, &finishes),
            queue::finish_many(&db, WORKER, &other_finishes),
        );
        for (what, error) in [
            ("heartbeat", beat.err()),
            ("heartbeat", other_beat.err()),
            ("mark", mark.err()),
            ("finish", finish.err()),
            ("finish", other_finish.err()),
        ] {
            if let Some(e) = error {
                panic!("round {rounds}: the {what} failed: {e}");
            }
        }
        // Every run running again for the next round.
        sqlx::query(
            "UPDATE runs SET status = 'running', finished_at = NULL, result = NULL, invoke_sent = false,
                 lease_expires_at = now() + interval '1 hour'
             WHERE id = ANY($1)",
        )
        .bind(&ids)
        .execute(&db)
        .await
        .unwrap();
    }
    assert!(
        rounds > 20,
        "only {rounds} rounds ran: too few to have met the old deadlock"
    );
}

/// `n` of the runs, in a random order.
fn shuffled(ids: &[Uuid], n: usize) -> Vec<Uuid> {
    let mut ids = ids.to_vec();
    ids.shuffle(&mut rand::rng());
    ids.truncate(n);
    ids
}

fn finishing(ids: &[Uuid]) -> Vec<Finish> {
    ids.iter()
        .map(|id| Finish {
            id: *id,
            attempt: 1,
            status: lambda_steps::domain::run::RunStatus::Succeeded,
            result: Some(serde_json::json!({"ok": true})),
            error: None,
        })
        .collect()
}
