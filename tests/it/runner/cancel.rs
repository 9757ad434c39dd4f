//! Cancel: a queued run never starts; a running one stops being waited for, ends
//! `cancelled`, and its function is deleted (the engine kills its process).

use serde_json::json;
use sqlx::PgPool;

use crate::support::service::TestService;

const SLEEPY: &str = "import time\ndef lambda_handler(e, c):\n    print('started', flush=True)\n    time.sleep(60)\n";

#[sqlx::test]
async fn cancel_of_a_queued_run_means_it_never_starts(db: PgPool) {
    // One worker slot, taken by a long run: the second stays queued.
    let service = TestService::start(db, &["--workers", "1"]).await;
    let (_, blocker) = service
        .submit(
            "default",
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": SLEEPY, "timeout_seconds": 60}),
        )
        .await;
    let blocker_id = blocker["id"].as_str().unwrap();
    service.wait_for(blocker_id, |r| r["status"] == "running").await;
    let (_, queued) = service
        .submit(
            "default",
            json!({"type": "lambda_invoke", "function_name": "f", "invocation_type": "DryRun"}),
        )
        .await;
    let id = queued["id"].as_str().unwrap();

    let (status, cancelled) = service.post(&format!("/v1/runs/{id}/cancel")).await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    let (status, again) = service.post(&format!("/v1/runs/{id}/cancel")).await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("conflict")));

    let (status, _) = service.post(&format!("/v1/runs/{blocker_id}/cancel")).await;
    assert_eq!(status, 202);
    service.wait_finished(blocker_id).await;
    // Give the freed worker a chance to (wrongly) pick the cancelled run up.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let (_, run) = service.get(&format!("/v1/runs/{id}")).await;
    assert_eq!(run["status"], "cancelled");
    assert_eq!(run["attempt"], 0, "never claimed");
    assert!(run["started_at"].is_null());
    let log = service.log(id).await;
    assert!(!log.iter().any(|l| l.starts_with("claimed")), "{log:#?}");
    service.stop().await;
}

#[sqlx::test]
async fn cancel_of_a_running_run_stops_waiting_and_cleans_up(db: PgPool) {
    let service = TestService::start_on_host_network(db, &[]).await;
    // The function knocks here (on the host's loopback, which only `--network host`
    // reaches) every 100 ms for as long as it lives.
    let knocks = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = knocks.local_addr().unwrap().port();
    let code = format!(
        "import socket, time\ndef lambda_handler(e, c):\n    while True:\n        try:\n            socket.create_connection(('127.0.0.1', {port})).close()\n        except OSError:\n            pass\n        time.sleep(0.1)\n"
    );
    let (_, run) = service
        .submit(
            "default",
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": code, "timeout_seconds": 60}),
        )
        .await;
    let id = run["id"].as_str().unwrap();
    // Running and invoked: the function exists in the engine.
    for _ in 0..200 {
        if service.log(id).await.iter().any(|l| l.starts_with("invoking")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let started = std::time::Instant::now();
    let (status, _) = service.post(&format!("/v1/runs/{id}/cancel")).await;
    assert_eq!(status, 202);
    let done = service.wait_finished(id).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(done["error"]["code"], "cancelled");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "it did not wait for the 60 s function"
    );
    let log = service.log(id).await;
    assert!(
        log.iter().any(|l| l.starts_with("deleted function lambda-steps-")),
        "{log:#?}"
    );
    assert!(
        service
            .engine
            .client
            .list_functions()
            .send()
            .await
            .unwrap()
            .functions()
            .is_empty()
    );
    // The engine killed the function's process: the knocking stops.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    while let Ok(Ok(_)) = tokio::time::timeout(std::time::Duration::from_millis(10), knocks.accept()).await {}
    let knock = tokio::time::timeout(std::time::Duration::from_secs(2), knocks.accept()).await;
    assert!(knock.is_err(), "the cancelled function is still running");
    service.stop().await;
}
