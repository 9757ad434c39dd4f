//! Database faults at exact points of a run, on a Postgres of the test's own: a session
//! holds a lock the worker needs, so the worker is mid-statement when `pg_ctl restart -m
//! fast` ends every session. Before the Invoke is marked as sent nothing went out: a
//! fault reading the project's settings puts the run back in the queue (attempt counted,
//! its log saying why) and it runs after; a fault marking the Invoke is waited through,
//! and the Invoke goes out once. After Lambda answered, a fault finishing the run is
//! waited through too: the answer lands, the run `succeeded`.

use std::time::Duration;

use serde_json::json;
use sqlx::Connection;

use crate::support::fake_lambda::FakeLambda;
use crate::support::pg_cluster::PgCluster;
use crate::support::service::TestService;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_before_the_invoke_send_nothing_and_faults_after_it_lose_no_answer() {
    let cluster = PgCluster::start().await;
    let (lambda_url, lambda) = FakeLambda::start(50..100).await;
    let url = cluster.url("lambda_steps");
    let db = lambda_steps::db::connect(Some(&url), 20, Duration::from_secs(3))
        .await
        .unwrap();
    let service = TestService::start(db.clone(), &["--aws-endpoint-url", &lambda_url, "--lease-seconds", "2"]).await;

    // The project's settings cannot be read.
    let _blocker = hold(&url, "LOCK TABLE project_settings IN ACCESS EXCLUSIVE MODE", None).await;
    let (status, run) = submit(&service, "answer", 1).await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    // Claimed, then stuck reading the settings.
    service.wait_for(&id, |run| run["status"] == "running").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.restart().await;
    let (_, log) = succeeded_on_attempt(&service, &id, 2).await;
    assert!(
        log.iter()
            .any(|l| l.contains("the project's settings could not be read")
                && l.contains("nothing was sent to Lambda: queued again (attempt 1 counted)")),
        "{log:#?}"
    );
    assert_eq!(lambda.invocations(1), 1);

    // Marking the Invoke as sent meets the restart: it is written when the database is back.
    let (_, run) = submit(&service, "slow-config", 2).await;
    let id = run["id"].as_str().unwrap().to_string();
    service.wait_for(&id, |run| run["status"] == "running").await;
    // NO KEY UPDATE: the mark waits; the run's log lines (which only share-lock the key) do not.
    let _blocker = hold(&url, LOCK_RUN, Some(&id)).await;
    // The function's configuration takes 1.5 s; then the mark waits on the lock.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(lambda.invocations(2), 0, "the Invoke waits for its mark");
    cluster.restart().await;
    succeeded_on_attempt(&service, &id, 1).await;
    assert_eq!(lambda.invocations(2), 1);

    // The finish meets the restart: Lambda's answer is written when the database is back.
    let (_, run) = submit(&service, "slow-answer", 3).await;
    let id = run["id"].as_str().unwrap().to_string();
    for _ in 0..100 {
        if lambda.invocations(3) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lambda.invocations(3), 1, "the Invoke went out");
    let _blocker = hold(&url, LOCK_RUN, Some(&id)).await;
    // Lambda answers after 1.5 s; then the finish waits on the lock.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(lambda.answered(3));
    cluster.restart().await;
    let (run, _) = succeeded_on_attempt(&service, &id, 1).await;
    assert_eq!(run["result"]["payload"]["ok"], true, "Lambda's answer is stored: {run}");
    assert_eq!(lambda.invocations(3), 1);
    service.stop().await;
    db.close().await;
}

const LOCK_RUN: &str = "SELECT 1 FROM runs WHERE id = $1::uuid FOR NO KEY UPDATE";

/// A session of the test's own holding `lock` (bound to `run` when given) in an open
/// transaction, until the cluster restarts.
async fn hold(url: &str, lock: &str, run: Option<&str>) -> sqlx::PgConnection {
    let mut session = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut session).await.unwrap();
    let query = sqlx::query(lock);
    let query = match run {
        Some(id) => query.bind(id.to_string()),
        None => query,
    };
    query.execute(&mut session).await.unwrap();
    session
}

/// Submits an Invoke of the fake Lambda's `function` with payload `{"n": n}`.
async fn submit(service: &TestService, function: &str, n: u32) -> (u16, serde_json::Value) {
    service
        .submit(
            "default",
            json!({"type": "lambda_invoke", "function_name": function, "payload": {"n": n}}),
        )
        .await
}

/// Waits for the run to finish and asserts it succeeded on `attempt`.
async fn succeeded_on_attempt(service: &TestService, id: &str, attempt: i64) -> (serde_json::Value, Vec<String>) {
    let run = service.wait_finished(id).await;
    let log = service.log(id).await;
    assert_eq!(
        (run["status"].as_str(), run["attempt"].as_i64()),
        (Some("succeeded"), Some(attempt)),
        "{run}\n{log:#?}"
    );
    (run, log)
}
