//! A worker killed mid-run (SIGKILL of a real `lambda-steps serve` process) leaves no run
//! stuck forever and none invoked twice: another replica's rescuer fails the invoked run
//! as `outcome_unknown` and runs the one that had not started. A custom-code attempt
//! killed after creating its function, before the Invoke, leaves that function to the
//! run's next attempt, which uses it instead of failing on the name.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;

use crate::support::service::{ADMIN_TOKEN, ServeProcess, TestService};
use crate::support::{create, function_is_gone, function_of};

#[sqlx::test]
async fn a_killed_worker_leaves_nothing_stuck_and_nothing_invoked_twice(db: PgPool) {
    // Every invocation of the function reports itself here.
    let invocations = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = invocations.local_addr().unwrap().port();
    let code = format!(
        "import socket, time\ndef lambda_handler(e, c):\n    socket.create_connection(('127.0.0.1', {port})).close()\n    time.sleep(120)\n"
    );
    let work = tempfile::tempdir().unwrap();
    // The function signals this test on the host's loopback: only `--network host` reaches it.
    let flags = [
        "--lease-seconds",
        "2",
        "--poll-ms",
        "100",
        "--workers",
        "1",
        "--network",
        "host",
    ];
    let mut doomed = ServeProcess::start(&db, work.path(), &flags, &[("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let invoked = doomed
        .submit(json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": code, "timeout_seconds": 300}))
        .await;
    // The one worker slot is busy: this one waits in the queue.
    let waiting = doomed
        .submit(json!({"type": "lambda_invoke", "function_name": "absent", "invocation_type": "DryRun"}))
        .await;

    let (first, _) = tokio::time::timeout(Duration::from_secs(60), invocations.accept())
        .await
        .unwrap()
        .unwrap();
    drop(first);
    doomed.child.kill().await.unwrap(); // SIGKILL: no shutdown, no cleanup

    let survivor = TestService::start_on_host_network(db, &["--lease-seconds", "2"]).await;
    let rescued = survivor.wait_finished(&invoked).await;
    assert_eq!(rescued["status"], "failed", "{rescued}");
    assert_eq!(rescued["error"]["code"], "outcome_unknown");
    let log = survivor.log(&invoked).await;
    assert!(
        log.iter().any(|l| l.contains("outcome unknown, not sent again")),
        "{log:#?}"
    );
    let other = survivor.wait_finished(&waiting).await;
    assert_eq!(other["attempt"], 1, "the queued run ran once, on the survivor");
    // It ran on the survivor, as a fresh Invoke that Lambda refused, and was not swept up
    // with the invoked run as an outcome unknown.
    assert_eq!(other["status"], "failed", "{other}");
    assert_eq!(other["error"]["code"], "lambda_error", "{other}");
    assert!(
        other["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("ResourceNotFoundException")),
        "{other}"
    );

    let again = tokio::time::timeout(Duration::from_secs(3), invocations.accept()).await;
    assert!(again.is_err(), "the function was invoked a second time");
    survivor.stop().await;
}

#[sqlx::test]
async fn a_function_left_by_an_attempt_killed_before_its_invoke_is_used_then_deleted(db: PgPool) {
    let service = TestService::start(db, &["--workers", "1"]).await;
    // The one worker is busy, so the custom-code run waits in the queue meanwhile.
    let sleeper = "import time\ndef lambda_handler(e, c):\n    time.sleep(4)\n";
    let (_, busy) = service
        .submit(
            "default",
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": sleeper}),
        )
        .await;
    service
        .wait_for(busy["id"].as_str().unwrap(), |run| run["status"] == "running")
        .await;
    let code = "def lambda_handler(event, context):\n    return {'doubled': event['n'] * 2}\n";
    let (_, queued) = service
        .submit(
            "default",
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": code, "payload": {"n": 21}}),
        )
        .await;
    assert_eq!(queued["status"], "queued", "{queued}");
    // What an attempt killed between its CreateFunction and its Invoke leaves behind: the
    // run's function, created under the run's name with the run's code.
    let function = function_of(&queued);
    create(
        &service.engine.client,
        &function,
        "python3.12",
        "lambda_function.lambda_handler",
        &[("lambda_function.py", code)],
    )
    .await;

    let run = service.wait_finished(queued["id"].as_str().unwrap()).await;
    let log = service.log(queued["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}\n{log:#?}");
    assert_eq!(run["result"]["payload"], json!({"doubled": 42}), "{run}");
    for line in [
        format!("function {function} exists: an earlier attempt of this run created it"),
        format!("deleted function {function}"),
    ] {
        assert!(log.contains(&line), "{line:?} missing: {log:#?}");
    }
    assert!(
        function_is_gone(&service.engine.client, &function).await,
        "the function outlived its run"
    );
    service.stop().await;
}
