//! The Airflow provider (`integrations/airflow`), built and installed as a user installs it,
//! in a real Airflow 3 with a SQLite metadata database, against a real service: Airflow
//! finds the `lambda_steps` connection type; `airflow dags test` runs both operators, a
//! failing function and the deferrable path (its trigger run in line); the task log holds
//! what the function printed, XCom the result, a failing function fails its task with its
//! error type and message; and killing a task (`SIGTERM`) cancels its run.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;

use crate::clients::orchestrators::{Built, airflow_env, built, run, venv};
use crate::support::book_code;
use crate::support::service::TestService;

/// An Airflow home of this test's own, with a copy of the migrated database.
fn airflow_home(built: &Built) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::copy(&built.airflow_db, home.path().join("airflow.db")).unwrap();
    home
}

/// `airflow ARGS` with the connection to `service` (a runner token of the default project).
fn airflow(home: &Path, service: &TestService, token: &str, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(venv().join("bin/airflow"));
    airflow_env(&mut command, home, &built().site);
    let connection = serde_json::json!({
        "conn_type": "lambda_steps",
        "host": service.url,
        "password": token,
        "extra": {"project": "default"},
    });
    command
        .args(args)
        .env("AIRFLOW_CONN_LAMBDA_STEPS_DEFAULT", connection.to_string())
        .env("LAMBDA_STEPS_IT_FUNCTION", "greeter");
    command
}

/// A runner token for the default project, as an Airflow deployment would hold.
async fn runner_token(service: &TestService) -> String {
    let (status, token) = service
        .post_json(
            "/v1/tokens",
            serde_json::json!({"name": "airflow", "role": "runner", "project": "default"}),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    token["token"].as_str().unwrap().to_string()
}

/// The task's log in `airflow dags test`'s output: its lines from the task's start to its end.
fn task_log<'a>(out: &'a str, task: &str) -> Vec<&'a str> {
    let start = format!("[DAG TEST] starting task_id={task} ");
    let end = format!("[DAG TEST] end task task_id={task} ");
    let lines: Vec<&str> = out.lines().skip_while(|l| !l.contains(&start)).collect();
    let len = lines
        .iter()
        .position(|l| l.contains(&end))
        .unwrap_or_else(|| panic!("no end of {task}:\n{out}"));
    lines[..len].to_vec()
}

fn assert_in_order(log: &[&str], wanted: &[&str], task: &str) {
    let mut rest = log.iter();
    for want in wanted {
        assert!(
            rest.any(|line| line.contains(want)),
            "{task}'s log has {want:?} (after the lines before it):\n{}",
            log.join("\n")
        );
    }
}

#[sqlx::test]
async fn the_operators_run_steps_in_airflow_with_the_log_the_result_and_the_error(db: PgPool) {
    let built = built();
    let service = TestService::start(db, &[]).await;
    let home = airflow_home(built);
    let token = runner_token(&service).await;
    crate::support::create(
        &service.engine.client,
        "greeter",
        "python3.12",
        "lambda_function.lambda_handler",
        &[(
            "lambda_function.py",
            "def lambda_handler(event, context):\n    print('greeting', event['who'], context.client_context.custom)\n    return {'hi': event['who']}\n",
        )],
    )
    .await;

    let hooks = run(
        airflow(home.path(), &service, &token, &["providers", "hooks", "-o", "json"]),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(hooks.code, 0, "{}", hooks.stderr);
    let hooks: Vec<Value> = serde_json::from_str(hooks.stdout.trim()).unwrap();
    let hook = hooks
        .iter()
        .find(|h| h["connection_type"] == "lambda_steps")
        .expect("the connection type");
    assert_eq!(hook["package_name"], "airflow-provider-lambda-steps", "{hook}");

    let started = std::time::Instant::now();
    let test = run(
        airflow(home.path(), &service, &token, &["dags", "test", "lambda_steps_it"]),
        Duration::from_secs(300),
    )
    .await;
    eprintln!("airflow dags test lambda_steps_it: {:?}", started.elapsed());
    let out = &test.stdout;
    assert_ne!(
        test.code, 0,
        "the DAG run fails, as two of its tasks do:\n{out}\n{}",
        test.stderr
    );

    let custom = task_log(out, "custom");
    assert_in_order(
        &custom,
        &[
            "lambda-steps: run ",
            "tick 0",
            "tick 1",
            "tick 2",
            "hello lambda_steps_it",
            "lambda-steps: run succeeded",
        ],
        "custom",
    );
    let invoke = task_log(out, "invoke");
    assert_in_order(
        &invoke,
        &["greeting airflow {'ticket': 'INC-42'}", "succeeded"],
        "invoke",
    );
    let failing = task_log(out, "failing");
    assert_in_order(
        &failing,
        &[
            "about to fail",
            "LambdaStepsRunFailed: RuntimeError: no disk on db-1 (run ",
        ],
        "failing",
    );
    // Deferred: the trigger follows the run and writes its lines; the task ends the same way.
    for (task, wanted) in [
        ("deferred", ["hello triggerer", "LambdaStepsRunTrigger"]),
        ("deferred_failing", ["about to fail", "LambdaStepsRunTrigger"]),
    ] {
        let log = task_log(out, task);
        assert!(
            log.iter().any(|l| l.contains(wanted[0]) && l.contains(wanted[1])),
            "{task}: the trigger wrote {:?}:\n{}",
            wanted[0],
            log.join("\n")
        );
    }
    assert_in_order(
        &task_log(out, "deferred_failing"),
        &["LambdaStepsRunFailed: RuntimeError: no disk on db-2 (run "],
        "deferred_failing",
    );

    // XCom: what the downstream task pulled.
    let pulled: Value = out
        .lines()
        .find_map(|l| l.strip_prefix("xcom "))
        .map(|json| serde_json::from_str(json).unwrap())
        .unwrap_or_else(|| panic!("the results task's line:\n{out}"));
    assert_eq!(
        pulled["custom"],
        serde_json::json!({"greeting": "hello lambda_steps_it"}),
        "{pulled}"
    );
    assert_eq!(pulled["invoke"], serde_json::json!({"hi": "airflow"}), "{pulled}");
    assert_eq!(
        pulled["deferred"],
        serde_json::json!({"greeting": "hello triggerer"}),
        "{pulled}"
    );
    // The step the service ran is the operator's, templates rendered.
    let (_, run_of_custom) = service
        .get(&format!("/v1/runs/{}", pulled["custom_run_id"].as_str().unwrap()))
        .await;
    assert_eq!(
        run_of_custom["step"]["payload"]["who"], "lambda_steps_it",
        "{run_of_custom}"
    );
    assert_eq!(
        run_of_custom["step"]["description"], "airflow custom",
        "{run_of_custom}"
    );
    assert_eq!(run_of_custom["step"]["tags"]["team"], "sre", "{run_of_custom}");

    // The task states Airflow recorded.
    let run_id = out
        .lines()
        .find_map(|l| l.split("DagRun Finished: dag_id=lambda_steps_it, ").nth(1))
        .and_then(|rest| rest.split(", ").find_map(|field| field.strip_prefix("run_id=")))
        .unwrap_or_else(|| panic!("the DAG run's id:\n{out}"));
    let states = run(
        airflow(
            home.path(),
            &service,
            &token,
            &["tasks", "states-for-dag-run", "lambda_steps_it", run_id, "-o", "json"],
        ),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(states.code, 0, "{}", states.stderr);
    let states: Vec<Value> = serde_json::from_str(states.stdout.trim()).unwrap();
    let state = |task: &str| states.iter().find(|s| s["task_id"] == task).map(|s| s["state"].clone());
    for (task, want) in [
        ("custom", "success"),
        ("invoke", "success"),
        ("failing", "failed"),
        ("deferred", "success"),
        ("deferred_failing", "failed"),
        ("results", "success"),
    ] {
        assert_eq!(state(task), Some(Value::from(want)), "{task}: {states:?}");
    }
    service.stop().await;
}

#[sqlx::test]
async fn killing_the_task_cancels_its_run(db: PgPool) {
    let built = built();
    let service = TestService::start(db, &[]).await;
    let home = airflow_home(built);
    let token = runner_token(&service).await;
    let mut command = tokio::process::Command::from(airflow(
        home.path(),
        &service,
        &token,
        &["tasks", "test", "lambda_steps_kill_it", "slow"],
    ));
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().unwrap();

    // Once the function is running, the task is killed as Airflow kills one.
    let id = wait_for_running_function(&service).await;
    let pid = child.id().unwrap() as libc::pid_t;
    // SAFETY: kill has no memory-safety preconditions; pid is our own child's.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the task ends after SIGTERM")
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    let run = service.wait_finished(&id).await;
    assert_eq!(run["status"], "cancelled", "{run}\n{out}");
    assert!(out.contains(&format!("lambda-steps: cancelled run {id}")), "{out}");
    service.stop().await;
}

/// The id of the default project's run once its function printed that it started.
async fn wait_for_running_function(service: &TestService) -> String {
    for _ in 0..1200 {
        let (_, runs) = service.get("/v1/projects/default/runs?status=running").await;
        if let Some(id) = runs["items"][0]["id"].as_str()
            && service.log(id).await.iter().any(|line| line == "started, sleeping")
        {
            return id.to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no running function within 120 s");
}

#[sqlx::test]
async fn the_books_example_dag_runs(db: PgPool) {
    let built = built();
    let service = TestService::start(db, &[]).await;
    let home = airflow_home(built);
    let token = runner_token(&service).await;
    let dags = tempfile::tempdir().unwrap();
    std::fs::write(
        dags.path().join("example.py"),
        book_code("guide/airflow.md", "<!-- book-test:airflow -->", "python"),
    )
    .unwrap();
    let mut command = airflow(home.path(), &service, &token, &["dags", "test", "restart_worker"]);
    command.env("AIRFLOW__CORE__DAGS_FOLDER", dags.path());
    let test = run(command, Duration::from_secs(300)).await;
    assert_eq!(test.code, 0, "{}\n{}", test.stdout, test.stderr);
    assert_in_order(
        &task_log(&test.stdout, "restart"),
        &["restarting w-1", "lambda-steps: run succeeded"],
        "restart",
    );
    service.stop().await;
}
