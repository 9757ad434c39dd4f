//! A `lambda_invoke` step on a durable function (written with AWS's durable execution SDK
//! for Python, created through boto3 on the service's engine): the run follows the
//! execution and its log shows each operation, its result (or error) is the execution's, a
//! run given back to the queue, or rescued from a killed replica, re-attaches to its
//! execution instead of starting a second one, and cancelling the run stops the execution.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::TestEngine;
use crate::support::service::{ADMIN_TOKEN, ServeProcess, TestService};

/// An engine that runs durable functions, with its data in `dir`.
pub(super) async fn engine(dir: &std::path::Path) -> TestEngine {
    TestEngine::start_durable(&dir.join("engine")).await
}

/// Runs tests/boto3_durable_step.py against the engine; answers what it printed.
pub(super) async fn boto3(engine: &TestEngine, args: &[&str]) -> String {
    let ok = format!("durable-step {}: ok", args[0]);
    engine.run_python("boto3_durable_step.py", args, &ok).await
}

/// The statuses of the function's executions, as ListDurableExecutionsByFunction lists them.
pub(super) async fn executions(engine: &TestEngine, function: &str) -> Vec<String> {
    let said = boto3(engine, &["executions", function]).await;
    said.lines()
        .filter_map(|l| l.strip_prefix("execution "))
        .map(|l| l.split(' ').next().unwrap_or_default().to_string())
        .collect()
}

fn invoke(function: &str) -> Value {
    json!({"type": "lambda_invoke", "function_name": function, "invocation_type": "RequestResponse",
           "payload": {"a": 2, "b": 3}})
}

/// Waits until the run's log has a line containing `text`.
pub(super) async fn wait_for_line(service: &TestService, id: &str, text: &str) {
    for _ in 0..600 {
        if service.log(id).await.iter().any(|l| l.contains(text)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {id}'s log never said {text:?}: {:#?}", service.log(id).await);
}

/// Waits for the run to end; asserts that its second attempt (the one that re-attached)
/// made it succeed with the adder's total; answers the run.
pub(super) async fn re_attached_and_succeeded(service: &TestService, id: &str) -> Value {
    let run = service.wait_finished(id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["attempt"], 2, "{run}");
    assert_eq!(run["result"]["payload"], json!({"total": 5}), "{run}");
    run
}

/// Submits `step` to the default project and waits until its run's log has a line
/// containing `text`; answers the run's id.
pub(super) async fn submit_until(service: &TestService, step: Value, text: &str) -> String {
    let (status, run) = service.submit("default", step).await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    wait_for_line(service, &id, text).await;
    id
}

/// Cancels the run; answers it once it ended, `cancelled`.
pub(super) async fn cancel(service: &TestService, id: &str) -> Value {
    let (status, _) = service.post(&format!("/v1/runs/{id}/cancel")).await;
    assert_eq!(status, 202);
    let run = service.wait_finished(id).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    run
}

#[sqlx::test]
async fn a_durable_function_runs_as_a_step_with_its_operations_in_the_log(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    boto3(&engine, &["create-adder", "adder", "2"]).await;
    let service = TestService::start_with_engine(db, engine, tempfile::tempdir().unwrap(), &[]).await;

    let (run, log) = service.run_successfully("default", invoke("adder")).await;
    assert_eq!(run["result"]["payload"], json!({"total": 5}), "{run}");
    let arn = run["result"]["durable_execution_arn"].as_str().unwrap_or_default();
    assert!(
        arn.ends_with(&format!(
            "/durable-execution/{}/{}",
            run["id"].as_str().unwrap(),
            arn.rsplit('/').next().unwrap()
        )),
        "{run}"
    );
    let expected = [
        "durable: execution started",
        "durable: step \"add\" started",
        "durable: step \"add\" succeeded (attempt 1): 5",
        "durable: wait \"pause\" started (2 s)",
        "durable: wait \"pause\" succeeded (2 s)",
        "durable: execution succeeded",
        "the durable execution ended SUCCEEDED",
    ];
    let mut at = 0;
    for line in expected {
        let found = log[at..].iter().position(|l| l.starts_with(line));
        at += found.unwrap_or_else(|| panic!("{line:?} missing, or out of order: {log:#?}")) + 1;
    }
    assert_eq!(executions(&service.engine, "adder").await, ["SUCCEEDED"]);
    eprintln!("run started {} finished {}", run["started_at"], run["finished_at"]);
    service.stop().await;
}

#[sqlx::test]
async fn a_failed_execution_fails_the_run_with_its_error(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    boto3(&engine, &["create-failer", "failer"]).await;
    let service = TestService::start_with_engine(db, engine, tempfile::tempdir().unwrap(), &[]).await;

    let run = service.run(invoke("failer")).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "function_error", "{run}");
    assert_eq!(run["result"]["error"]["type"], "ValueError", "{run}");
    assert_eq!(
        run["result"]["error"]["message"], "the replica is too far behind",
        "{run}"
    );
    let log = service.log(run["id"].as_str().unwrap()).await;
    assert!(
        log.iter()
            .any(|l| l == "durable: step \"check\" succeeded (attempt 1): \"checked\""),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("durable: execution failed: ValueError: the replica is too far behind")),
        "{log:#?}"
    );
    service.stop().await;
}

#[sqlx::test]
async fn a_run_given_back_while_its_execution_waits_re_attaches_to_it(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    boto3(&engine, &["create-adder", "patient", "4"]).await;
    let first = TestService::start_with_engine(db.clone(), engine, tempfile::tempdir().unwrap(), &[]).await;
    let id = submit_until(&first, invoke("patient"), "durable: wait \"pause\" started").await;

    // The service shuts down while the execution waits: the run goes back to the queue,
    // and the next service's attempt follows the same execution to its end.
    let engine = first.stop_keeping_engine().await;
    let second = TestService::start_with_engine(db, engine, tempfile::tempdir().unwrap(), &[]).await;
    re_attached_and_succeeded(&second, &id).await;
    let log = second.log(&id).await;
    assert!(
        log.iter()
            .any(|l| l.contains("the next attempt re-attaches to the execution")),
        "{log:#?}"
    );
    assert_eq!(
        executions(&second.engine, "patient").await,
        ["SUCCEEDED"],
        "one execution, not two"
    );
    second.stop().await;
}

#[sqlx::test]
async fn a_run_whose_replica_was_killed_while_its_execution_waits_re_attaches_and_succeeds(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    boto3(&engine, &["create-adder", "steadfast", "4"]).await;
    // A `lambda-steps serve` process on the test's engine, killed while the execution waits.
    let key = engine.engine.key();
    let flags = [
        "--aws-endpoint-url".to_string(),
        engine.url.clone(),
        format!("--engine-access-key-id={}", key.access_key_id),
        format!("--engine-secret-access-key={}", key.secret_access_key.expose()),
        "--lease-seconds".into(),
        "2".into(),
        "--poll-ms".into(),
        "100".into(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let work = tempfile::tempdir().unwrap();
    let mut doomed = ServeProcess::start(&db, work.path(), &flags, &[("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let id = doomed.submit(invoke("steadfast")).await;
    let mut waiting = false;
    for _ in 0..600 {
        waiting = doomed
            .log(&id)
            .await
            .iter()
            .any(|l| l.contains("durable: wait \"pause\" started"));
        if waiting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(waiting, "{:#?}", doomed.log(&id).await);
    doomed.child.kill().await.unwrap(); // SIGKILL: no shutdown, no give-back

    // The survivor's rescuer queues the run again once its lease expires; its next attempt
    // re-attaches to the same execution.
    let survivor =
        TestService::start_with_engine(db, engine, tempfile::tempdir().unwrap(), &["--lease-seconds", "2"]).await;
    re_attached_and_succeeded(&survivor, &id).await;
    assert_eq!(
        executions(&survivor.engine, "steadfast").await,
        ["SUCCEEDED"],
        "one execution, not two"
    );
    survivor.stop().await;
}

#[sqlx::test]
async fn cancelling_the_run_stops_its_durable_execution(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    boto3(&engine, &["create-sleeper", "sleeper"]).await;
    let service = TestService::start_with_engine(db, engine, tempfile::tempdir().unwrap(), &[]).await;
    let id = submit_until(&service, invoke("sleeper"), "durable: wait \"long\" started").await;
    cancel(&service, &id).await;
    let log = service.log(&id).await;
    assert!(
        log.iter().any(|l| l.starts_with("stopped durable execution")),
        "{log:#?}"
    );
    assert_eq!(executions(&service.engine, "sleeper").await, ["STOPPED"]);
    service.stop().await;
}
