//! Approvals (issue 27 item 3): a durable function waiting for a callback runs as a step;
//! the callback id is read from the run's log and the callback completed through
//! `POST /v1/runs/{id}/callbacks/{callback_id}` (or `lambda-steps approve` / `reject`)
//! with a runner token. The run ends with the function's result (or its error), the log
//! names the token that answered, `GET /v1/runs/{id}/callbacks` lists the callback with
//! its state and who answered, a reader token is refused, and Lambda's refusal of an
//! already completed callback is a 409 naming Lambda's error.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::service::{ADMIN_TOKEN, TestService, authorized};

/// The service on its own engine, with the approver function created on it; the engine's
/// data is in the directory answered.
async fn stage(db: PgPool) -> (TestService, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let engine = super::durable_step::engine(dir.path()).await;
    super::durable_step::boto3(&engine, &["create-approver", "approver"]).await;
    let service = TestService::start_with_engine(db, engine, tempfile::tempdir().unwrap(), &[]).await;
    (service, dir)
}

/// A token of `role` for the default project, named `name`.
async fn token(service: &TestService, name: &str, role: &str) -> (String, String) {
    let (status, created) = service
        .post_json("/v1/tokens", json!({"name": name, "role": role, "project": "default"}))
        .await;
    assert_eq!(status, 201, "{created}");
    (
        created["token"].as_str().unwrap().to_string(),
        created["id"].as_str().unwrap().to_string(),
    )
}

/// Submits the approver and waits for its callback: the run's id and the callback id.
async fn waiting_run(service: &TestService) -> (String, String) {
    waiting_run_with(service, json!({"change": "failover"})).await
}

/// Submits the approver with `payload` and waits for its callback.
async fn waiting_run_with(service: &TestService, payload: Value) -> (String, String) {
    let step = json!({"type": "lambda_invoke", "function_name": "approver",
                      "invocation_type": "RequestResponse", "payload": payload});
    let (status, run) = service.submit("default", step).await;
    assert!(status == 201 || status == 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    for _ in 0..600 {
        let callback = service.log(&id).await.iter().find_map(|l| {
            l.strip_prefix("durable: callback \"approval\" started: callback id ")
                .map(|rest| rest.split(',').next().unwrap().to_string())
        });
        if let Some(callback) = callback {
            return (id, callback);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {id} never created its callback: {:#?}", service.log(&id).await);
}

/// POSTs `body` to the callback with `token`; answers the status and body.
async fn answer(service: &TestService, token: &str, id: &str, callback: &str, body: Value) -> (u16, Value) {
    let response = authorized(token)
        .post(format!("{}/v1/runs/{id}/callbacks/{callback}", service.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The run's callbacks as `GET /v1/runs/{id}/callbacks` lists them to `token`.
async fn callbacks_of(service: &TestService, token: &str, id: &str) -> Value {
    let response = authorized(token)
        .get(format!("{}/v1/runs/{id}/callbacks", service.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["items"].clone()
}

#[sqlx::test]
async fn an_approval_through_the_api_completes_the_callback_and_the_log_names_who_gave_it(db: PgPool) {
    let (service, _engine_data) = stage(db).await;
    let (runner, runner_id) = token(&service, "oncall-alice", "runner").await;
    let (reader, _) = token(&service, "dashboard", "reader").await;
    let (id, callback) = waiting_run(&service).await;

    let (status, said) = answer(&service, &reader, &id, &callback, json!({"result": {"ok": true}})).await;
    assert_eq!(status, 403, "a reader may not approve: {said}");
    let (status, said) = answer(
        &service,
        &runner,
        &id,
        &callback,
        json!({"result": 1, "error": {"message": "x"}}),
    )
    .await;
    assert_eq!(
        (status, said["error"]["field"].as_str()),
        (422, Some("error")),
        "{said}"
    );
    let (status, said) = answer(
        &service,
        &runner,
        &id,
        "not-a-callback-of-this-run",
        json!({"result": 1}),
    )
    .await;
    assert_eq!(status, 404, "{said}");

    // Any token that may read the run lists its callbacks.
    let listed = callbacks_of(&service, &reader, &id).await;
    assert_eq!(
        (
            listed[0]["callback_id"].as_str(),
            listed[0]["name"].as_str(),
            listed[0]["state"].as_str()
        ),
        (Some(callback.as_str()), Some("approval"), Some("waiting")),
        "{listed}"
    );
    assert!(
        listed[0]["created_at"].is_string() && listed[0]["answered_by"].is_null(),
        "{listed}"
    );

    let (status, said) = answer(
        &service,
        &runner,
        &id,
        &callback,
        json!({"result": {"by": "alice", "ok": true}}),
    )
    .await;
    assert_eq!(status, 200, "{said}");
    assert_eq!(said["outcome"], "approved", "{said}");

    let run = service.wait_finished(&id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        run["result"]["payload"],
        json!({"approval": {"by": "alice", "ok": true}, "applied": "applied failover"}),
        "{run}"
    );
    let log = service.log(&id).await;
    let named =
        format!("callback {callback} was approved by token \"oncall-alice\" (runner, id {runner_id}) through the API");
    assert!(log.contains(&named), "{named:?} missing: {log:#?}");
    let listed = callbacks_of(&service, &reader, &id).await;
    assert_eq!(listed[0]["state"], "approved", "{listed}");
    assert_eq!(
        listed[0]["answered_by"],
        format!("token \"oncall-alice\" (runner, id {runner_id})"),
        "{listed}"
    );

    // Lambda's own refusal once the callback is completed (the run has ended: 409 from us).
    let (status, said) = answer(&service, &runner, &id, &callback, json!({"result": 2})).await;
    assert_eq!(status, 409, "{said}");
    service.stop().await;
}

#[sqlx::test]
async fn a_second_answer_is_refused_naming_who_answered_first_or_lambdas_error(db: PgPool) {
    let (service, engine_data) = stage(db).await;
    let (runner, _) = token(&service, "oncall-carol", "runner").await;

    // Two answers through the API: the second is refused before Lambda is asked, and the
    // first one's "who" line is not lost.
    let (id, callback) = waiting_run_with(&service, json!({"change": "failover", "linger": 3})).await;
    let (status, said) = answer(&service, &runner, &id, &callback, json!({"result": "yes"})).await;
    assert_eq!(status, 200, "{said}");
    let (status, said) = answer(
        &service,
        ADMIN_TOKEN,
        &id,
        &callback,
        json!({"error": {"message": "no"}}),
    )
    .await;
    assert_eq!(status, 409, "{said}");
    let message = said["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("already approved by token \"oncall-carol\""), "{said}");
    let run = service.wait_finished(&id).await;
    assert_eq!(run["result"]["payload"]["approval"], "yes", "{run}");
    let log = service.log(&id).await;
    assert!(
        log.iter()
            .any(|l| l.starts_with(&format!("callback {callback} was approved by token \"oncall-carol\""))),
        "{log:#?}"
    );

    // Answered straight through Lambda first: Lambda's refusal is a 409 naming its error.
    let (id, callback) = waiting_run_with(&service, json!({"change": "failover", "linger": 5})).await;
    super::durable_step::boto3(&service.engine, &["approve", "approver", &callback]).await;
    let (status, said) = answer(&service, &runner, &id, &callback, json!({"result": "late"})).await;
    assert_eq!(status, 409, "{said}");
    let message = said["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("InvalidParameterValueException"), "{said}");
    let run = service.wait_finished(&id).await;
    assert_eq!(run["result"]["payload"]["approval"], "straight to Lambda", "{run}");
    assert!(
        !service.log(&id).await.iter().any(|l| l.contains("through the API")),
        "Lambda refused the API's answer: no one is named"
    );
    let listed = callbacks_of(&service, ADMIN_TOKEN, &id).await;
    assert_eq!(
        (listed[0]["state"].as_str(), listed[0]["answered_by"].as_str()),
        (Some("succeeded"), None),
        "completed straight through Lambda: {listed}"
    );
    service.stop().await;
    drop(engine_data);
}

#[sqlx::test]
async fn a_rejection_fails_the_run_with_its_message(db: PgPool) {
    let (service, _engine_data) = stage(db).await;
    let (runner, _) = token(&service, "oncall-bob", "runner").await;
    let (id, callback) = waiting_run(&service).await;
    let (status, said) = answer(
        &service,
        &runner,
        &id,
        &callback,
        json!({"error": {"type": "Rejected", "message": "the replica is too far behind"}}),
    )
    .await;
    assert_eq!((status, said["outcome"].as_str()), (200, Some("rejected")), "{said}");
    let run = service.wait_finished(&id).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("the replica is too far behind")),
        "{run}"
    );
    let log = service.log(&id).await;
    assert!(
        log.iter()
            .any(|l| l.starts_with(&format!("callback {callback} was rejected by token \"oncall-bob\""))),
        "{log:#?}"
    );
    service.stop().await;
}

#[sqlx::test]
async fn the_cli_approves_and_rejects(db: PgPool) {
    let (service, _engine_data) = stage(db).await;
    let (runner, _) = token(&service, "cli", "runner").await;
    let cli = |args: Vec<String>| {
        let runner = runner.clone();
        let url = service.url.clone();
        async move {
            let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"))
                .args(&args)
                .args(["--url", &url])
                .env("LAMBDA_STEPS_TOKEN", runner)
                .output()
                .await
                .unwrap();
            (
                output.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        }
    };
    let (id, callback) = waiting_run(&service).await;
    let said = cli(vec![
        "approve".into(),
        id.clone(),
        callback.clone(),
        "--result".into(),
        "{oops".into(),
    ])
    .await;
    assert_eq!(said.0, 2, "unreadable JSON is a usage error: {said:?}");
    let said = cli(vec![
        "approve".into(),
        id.clone(),
        callback.clone(),
        "--result".into(),
        r#"{"ok": true}"#.into(),
    ])
    .await;
    assert_eq!(said.0, 0, "{said:?}");
    assert!(
        said.1
            .contains(&format!("callback {callback} of run {id} approved by token \"cli\"")),
        "{said:?}"
    );
    let run = service.wait_finished(&id).await;
    assert_eq!(run["result"]["payload"]["approval"], json!({"ok": true}), "{run}");
    // The run has ended: the service refuses, exit 6.
    let said = cli(vec![
        "reject".into(),
        id.clone(),
        callback.clone(),
        "--message".into(),
        "late".into(),
    ])
    .await;
    assert_eq!(said.0, 6, "{said:?}");
    assert!(said.2.contains("409"), "{said:?}");

    let (id, callback) = waiting_run(&service).await;
    let said = cli(vec![
        "reject".into(),
        id.clone(),
        callback,
        "--message".into(),
        "not now".into(),
    ])
    .await;
    assert_eq!(said.0, 0, "{said:?}");
    let run = service.wait_finished(&id).await;
    assert_eq!(run["status"], "failed", "{run}");
    service.stop().await;
}

#[sqlx::test]
async fn lambda_out_of_reach_is_a_502_and_the_same_answer_can_be_given_again(db: PgPool) {
    let (service, _engine_data) = stage(db).await;
    let (runner, _) = token(&service, "oncall-dan", "runner").await;
    let (id, callback) = waiting_run(&service).await;

    // The project's Lambda moves to where nothing listens: the answer cannot reach it.
    let nowhere = format!("http://127.0.0.1:{}", crate::support::free_port());
    let settings = "/v1/projects/default/settings";
    assert_eq!(
        service
            .put_json(settings, &json!({"project.aws.endpoint_url": nowhere}))
            .await,
        200
    );
    let (status, said) = answer(&service, &runner, &id, &callback, json!({"result": "go"})).await;
    assert_eq!(
        (status, said["error"]["code"].as_str()),
        (502, Some("bad_gateway")),
        "{said}"
    );
    let message = said["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("was not completed, try again"), "{said}");

    // Back on the engine, the same answer goes through: the failed one was not kept.
    assert_eq!(service.put_json(settings, &json!({})).await, 200);
    let (status, said) = answer(&service, &runner, &id, &callback, json!({"result": "go"})).await;
    assert_eq!((status, said["outcome"].as_str()), (200, Some("approved")), "{said}");
    let run = service.wait_finished(&id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    service.stop().await;
}
