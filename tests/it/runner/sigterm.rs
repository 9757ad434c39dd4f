//! SIGTERM while a replica works: a real `lambda-steps serve` process is stopped with 50
//! runs in flight, again and again. It finishes what Lambda answers and gives back what it
//! had not sent, so every run that Lambda answered ends `succeeded`, none is invoked twice,
//! and the rest run on the next replica.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;

use crate::support::fake_lambda::{FakeLambda, check_outcomes, wait_all_ended};
use crate::support::service::{ADMIN_TOKEN, ServeProcess, TestService};

const ROUNDS: i64 = 10;
const RUNS: i64 = 50;

#[sqlx::test]
async fn sigterm_with_fifty_runs_in_flight_loses_no_answer(db: PgPool) {
    let (lambda_url, lambda) = FakeLambda::start(200..1500).await;
    let work = tempfile::tempdir().unwrap();
    let flags = ["--aws-endpoint-url", lambda_url.as_str(), "--lease-seconds", "2"];
    let env = [("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN)];
    for round in 0..ROUNDS {
        let mut replica = ServeProcess::start(&db, work.path(), &flags, &env).await;
        for k in 0..RUNS {
            let n = round * RUNS + k;
            replica
                .submit(json!({"type": "lambda_invoke", "function_name": "answer", "payload": {"n": n}}))
                .await;
        }
        // Stop it with about half its runs' Invokes out (the others queued or not yet sent).
        let target = (round * RUNS + RUNS / 2) as usize;
        for _ in 0..200 {
            if lambda.invoked_count() >= target {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let pid = replica.child.id().expect("the replica runs") as i32;
        // SAFETY: kill has no memory preconditions; pid is our own child's.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let exited = tokio::time::timeout(Duration::from_secs(40), replica.child.wait()).await;
        assert!(
            exited.is_ok_and(|status| status.is_ok()),
            "round {round}: the replica did not stop"
        );
    }
    // The next replica runs what the stopped ones gave back.
    let survivor = TestService::start(db.clone(), &flags).await;
    wait_all_ended(&db, Duration::from_secs(60)).await;
    let outcomes = check_outcomes(&db, &lambda).await;
    eprintln!("SIGTERM x{ROUNDS}, {RUNS} runs each: {outcomes:?}");
    assert!(
        outcomes.other.is_empty(),
        "runs that ended wrongly: {:#?}",
        outcomes.other
    );
    assert_eq!(outcomes.succeeded + outcomes.outcome_unknown, (ROUNDS * RUNS) as usize);
    survivor.stop().await;
}
