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
    let mut blocker = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("LOCK TABLE project_settings IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let (status, run) = service
        .submit(
            "default",
            json!({"type": "lambda_invoke", "function_name": "answer", "payload": {"n": 1}}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    // Claimed, then stuck reading the settings.
    service.wait_for(&id, |run| run["status"] == "running").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.restart().await;
    let run = service.wait_finished(&id).await;
    let log = service.log(&id).await;
    assert_eq!(
        (run["status"].as_str(), run["attempt"].as_i64()),
        (Some("succeeded"), Some(2)),
        "{run}\n{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("the project's settings could not be read")
                && l.contains("nothing was sent to Lambda: queued again (attempt 1 counted)")),
        "{log:#?}"
    );
    assert_eq!(lambda.invocations(1), 1);

    // Marking the Invoke as sent meets the restart: it is written when the database is back.
    let (_, run) = service
        .submit(
            "default",
            json!({"type": "lambda_invoke", "function_name": "slow-config", "payload": {"n": 2}}),
        )
        .await;
    let id = run["id"].as_str().unwrap().to_string();
    service.wait_for(&id, |run| run["status"] == "running").await;
    let mut blocker = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    // NO KEY UPDATE: the mark waits; the run's log lines (which only share-lock the key) do not.
    sqlx::query("SELECT 1 FROM runs WHERE id = $1::uuid FOR NO KEY UPDATE")
        .bind(&id)
        .execute(&mut blocker)
        .await
        .unwrap();
    // The function's configuration takes 1.5 s; then the mark waits on the lock.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(lambda.invocations(2), 0, "the Invoke waits for its mark");
    cluster.restart().await;
    let run = service.wait_finished(&id).await;
    let log = service.log(&id).await;
    assert_eq!(
        (run["status"].as_str(), run["attempt"].as_i64()),
        (Some("succeeded"), Some(1)),
        "{run}\n{log:#?}"
    );
    assert_eq!(lambda.invocations(2), 1);

    // The finish meets the restart: Lambda's answer is written when the database is back.
    let (_, run) = service
        .submit(
            "default",
            json!({"type": "lambda_invoke", "function_name": "slow-answer", "payload": {"n": 3}}),
        )
        .await;
    let id = run["id"].as_str().unwrap().to_string();
    for _ in 0..100 {
        if lambda.invocations(3) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lambda.invocations(3), 1, "the Invoke went out");
    let mut blocker = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("SELECT 1 FROM runs WHERE id = $1::uuid FOR NO KEY UPDATE")
        .bind(&id)
        .execute(&mut blocker)
        .await
        .unwrap();
    // Lambda answers after 1.5 s; then the finish waits on the lock.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(lambda.answered(3));
    cluster.restart().await;
    let run = service.wait_finished(&id).await;
    let log = service.log(&id).await;
    assert_eq!(
        (run["status"].as_str(), run["attempt"].as_i64()),
        (Some("succeeded"), Some(1)),
        "{run}\n{log:#?}"
    );
    assert_eq!(run["result"]["payload"]["ok"], true, "Lambda's answer is stored: {run}");
    assert_eq!(lambda.invocations(3), 1);
    service.stop().await;
    db.close().await;
}
