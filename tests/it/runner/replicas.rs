//! Several replicas on one database share the queue without running anything twice, a
//! replica shutting down finishes the steps it holds and leaves the rest queued, and
//! replicas started at once on a database that does not exist yet all come up on it.

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use serde_json::json;
use sqlx::PgPool;

use crate::support::service::{ServeProcess, TestService, database_url_named};

/// A Lambda endpoint that notes each event's `n` and answers after `delay`.
async fn counting_lambda(delay: Duration) -> (String, Arc<Mutex<Vec<i64>>>) {
    let seen: Arc<Mutex<Vec<i64>>> = Arc::default();
    let router = axum::Router::new()
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(
                move |State(seen): State<Arc<Mutex<Vec<i64>>>>, body: axum::body::Bytes| async move {
                    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    seen.lock().push(event["n"].as_i64().unwrap_or(-1));
                    tokio::time::sleep(delay).await;
                    ([("x-amz-executed-version", "$LATEST")], "{}")
                },
            ),
        )
        .with_state(seen.clone());
    let url = crate::support::fake_endpoint(router).await;
    (url, seen)
}

#[sqlx::test]
async fn two_replicas_on_one_database_run_every_step_exactly_once(db: PgPool) {
    let (lambda, seen) = counting_lambda(Duration::from_millis(20)).await;
    let flags = ["--aws-endpoint-url", lambda.as_str(), "--claim-batch", "4"];
    let first = TestService::start(db.clone(), &flags).await;
    let second = TestService::start(db.clone(), &flags).await;
    let mut ids = Vec::new();
    for n in 0..60 {
        let service = if n % 2 == 0 { &first } else { &second };
        let (_, run) = service
            .submit(
                "default",
                json!({"type": "lambda_invoke", "function_name": "counted", "payload": {"n": n}}),
            )
            .await;
        ids.push(run["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        let run = first.wait_finished(id).await;
        assert_eq!(
            (run["status"].as_str(), run["attempt"].as_i64()),
            (Some("succeeded"), Some(1)),
            "{run}"
        );
    }
    let mut invoked = seen.lock().clone();
    invoked.sort();
    assert_eq!(invoked, (0..60).collect::<Vec<i64>>(), "each step invoked exactly once");
    let workers: i64 = sqlx::query_scalar("SELECT count(DISTINCT worker) FROM runs")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(workers, 2, "both replicas took work");
    first.stop().await;
    second.stop().await;
}

#[sqlx::test]
async fn a_replica_shutting_down_finishes_what_it_holds_and_leaves_the_rest_queued(db: PgPool) {
    let (lambda, seen) = counting_lambda(Duration::from_millis(1500)).await;
    let flags = [
        "--aws-endpoint-url",
        lambda.as_str(),
        "--workers",
        "1",
        "--drain-seconds",
        "20",
    ];
    let leaving = TestService::start(db.clone(), &flags).await;
    let (_, held) = leaving
        .submit(
            "default",
            json!({"type": "lambda_invoke", "function_name": "slow", "payload": {"n": 1}}),
        )
        .await;
    let (_, waiting) = leaving
        .submit(
            "default",
            json!({"type": "lambda_invoke", "function_name": "slow", "payload": {"n": 2}}),
        )
        .await;
    let (held, waiting) = (
        held["id"].as_str().unwrap().to_string(),
        waiting["id"].as_str().unwrap().to_string(),
    );
    for _ in 0..200 {
        if !seen.lock().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    leaving.stop().await; // mid-invoke of the first run

    let status = |id: String| {
        let db = db.clone();
        async move {
            let status: String = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1::uuid")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap();
            status
        }
    };
    assert_eq!(
        status(held.clone()).await,
        "succeeded",
        "the run in hand was finished before the replica left"
    );
    assert_eq!(
        status(waiting.clone()).await,
        "queued",
        "the one it never took stays queued for others"
    );
    let staying = TestService::start(db, &["--aws-endpoint-url", lambda.as_str()]).await;
    let run = staying.wait_finished(&waiting).await;
    assert_eq!(run["status"], "succeeded");
    assert_eq!(*seen.lock(), [1, 2], "each invoked once");
    staying.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_started_at_once_on_a_new_database_all_become_ready() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("lambda_steps_replicas_{}_{nanos}", std::process::id());
    let url = database_url_named(&name);
    let work: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // Each start spawns its process when first polled, so the three race from the start:
    // each finds no database, each creates it, each migrates.
    let (a, b, c) = tokio::join!(
        ServeProcess::start_with_url(&url, work[0].path(), &[], &[]),
        ServeProcess::start_with_url(&url, work[1].path(), &[], &[]),
        ServeProcess::start_with_url(&url, work[2].path(), &[], &[]),
    );
    let mut replicas = [a, b, c];
    for replica in &replicas {
        let ready = reqwest::get(format!("{}/readyz", replica.api)).await.unwrap();
        assert_eq!(ready.status(), 200, "{}", replica.api);
    }
    let db = PgPool::connect(&url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        applied as usize,
        sqlx::migrate!().iter().count(),
        "every migration applied"
    );
    db.close().await;
    for replica in &mut replicas {
        let _ = replica.child.kill().await;
    }
    let server = PgPool::connect(&std::env::var("DATABASE_URL").unwrap()).await.unwrap();
    sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&server)
        .await
        .unwrap();
}

/// A run submitted on a replica whose workers are all busy is claimed by another replica,
/// woken by the first one's coalesced NOTIFY: both poll only once a minute, so nothing
/// else could wake it while the busy replica's slow run lasts.
#[sqlx::test]
async fn a_submit_on_a_busy_replica_wakes_another_one(db: PgPool) {
    let (lambda, seen) = counting_lambda(Duration::from_millis(3000)).await;
    let flags = [
        "--aws-endpoint-url",
        lambda.as_str(),
        "--workers",
        "1",
        "--poll-ms",
        "60000",
    ];
    let busy = TestService::start(db.clone(), &flags).await;
    let (_, slow) = busy
        .submit(
            "default",
            json!({"type": "lambda_invoke", "function_name": "slow", "payload": {"n": 1}}),
        )
        .await;
    let slow = slow["id"].as_str().unwrap().to_string();
    for _ in 0..250 {
        if !seen.lock().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*seen.lock(), [1], "the busy replica holds the slow run");
    // Started now, this replica's first look at the queue finds it empty.
    let idle = TestService::start(db.clone(), &flags).await;
    let (_, woken) = busy
        .submit(
            "default",
            json!({"type": "lambda_invoke", "function_name": "slow", "payload": {"n": 2}}),
        )
        .await;
    let woken = woken["id"].as_str().unwrap().to_string();
    idle.wait_finished(&woken).await;
    busy.wait_finished(&slow).await;
    let (slow_worker, slow_finished): (String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT worker, finished_at FROM runs WHERE id = $1::uuid")
            .bind(&slow)
            .fetch_one(&db)
            .await
            .unwrap();
    let (woken_worker, woken_started): (String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT worker, started_at FROM runs WHERE id = $1::uuid")
            .bind(&woken)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_ne!(
        woken_worker, slow_worker,
        "the other replica claimed it, not the busy one once free"
    );
    assert!(
        woken_started < slow_finished,
        "claimed while the busy replica still held its slow run: started {woken_started}, slow run finished {slow_finished}"
    );
    busy.stop().await;
    idle.stop().await;
}
