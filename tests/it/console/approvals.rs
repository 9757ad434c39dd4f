//! Issue 27's "How we will know", in a browser: a runbook written with AWS's durable
//! execution SDK for Python (a step, a 10-second wait, then `wait_for_callback`) runs as one
//! Invoke step on the embedded engine; the run page shows the wait, then the callback with
//! Approve / Reject; a click on Approve completes it and the run succeeds with the
//! function's result, the page naming who approved. Reject needs a message and fails the
//! run with it; the API's refusal of an answer is shown on the page. With
//! `UPDATE_SCREENSHOTS=1` the first test writes the book's `docs/src/images/console-approval.png`
//! (1,280 × 800) while the callback waits.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::browser::Browser;
use crate::support::service::TestService;
use crate::support::{TestEngine, run_python_check, runtimes_dir};

/// The service on its own engine with the runbook function created on it (through boto3,
/// as a user would); the engine's data is in the directory answered.
async fn stage(db: PgPool) -> (TestService, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let runtimes = runtimes_dir().display().to_string();
    let engine = TestEngine::start(&dir.path().join("engine"), &["--runtimes-dir", &runtimes]).await;
    let [(_, id), (_, secret)] = engine.key_env();
    let args = [
        engine.url.as_str(),
        id.as_str(),
        secret.as_str(),
        "create-runbook",
        "failover",
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    run_python_check("boto3_durable_step.py", &args, "durable-step create-runbook: ok").await;
    let service = TestService::start_with_engine(db, engine, tempfile::tempdir().unwrap(), &[]).await;
    (service, dir)
}

/// A runner token of the default project named `name`.
async fn runner_token(service: &TestService, name: &str) -> String {
    let (status, created) = service
        .post_json(
            "/v1/tokens",
            json!({"name": name, "role": "runner", "project": "default"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().unwrap().to_string()
}

/// Submits the runbook (its wait `wait` seconds long); answers the run's id.
async fn submit(service: &TestService, wait: u64) -> String {
    let step = json!({"type": "lambda_invoke", "function_name": "failover",
                      "invocation_type": "RequestResponse", "payload": {"replica": "db-2", "wait": wait}});
    let (status, run) = service.submit("default", step).await;
    assert!(status == 201 || status == 202, "{run}");
    run["id"].as_str().unwrap().to_string()
}

/// The run's callbacks as the API lists them.
async fn callbacks(service: &TestService, id: &str) -> Value {
    let (status, page) = service.get(&format!("/v1/runs/{id}/callbacks")).await;
    assert_eq!(status, 200, "{page}");
    page["items"].clone()
}

const WAITING: &str = ".callback[data-state=waiting]";

#[sqlx::test]
async fn a_runbook_waits_then_the_approve_button_completes_its_callback_and_the_run_succeeds(db: PgPool) {
    let (service, _engine_data) = stage(db).await;
    let token = runner_token(&service, "oncall-alice").await;
    let browser = Browser::open_sized(&service.url, 1280, 800).await;
    // The window's size counts the browser's own frame; the picture is the page: 1,280 × 800.
    let frame = browser
        .js("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]")
        .await;
    let (dw, dh) = (frame[0].as_u64().unwrap() as u32, frame[1].as_u64().unwrap() as u32);
    browser.client.set_window_size(1280 + dw, 800 + dh).await.unwrap();
    browser.goto("/runs").await;
    browser.sign_in(&token).await;

    let id = submit(&service, 10).await;
    browser.goto(&format!("/runs/{id}")).await;
    // The wait, while it waits: under the phases, with no button yet.
    let wait = browser
        .wait_text("#durable-ops li[data-op=wait][data-state=waiting]", |t| {
            t.contains("wait \"catch-up\" (10 s)")
        })
        .await;
    assert!(wait.contains("waiting since"), "{wait}");
    assert!(!browser.has("#approvals button.approve").await, "no callback yet");

    // Then the callback, named as the function named it, with its buttons.
    browser.wait_for(&format!("{WAITING} button.approve")).await;
    let card = browser.text(WAITING).await;
    assert!(
        card.contains("approval") && card.contains("waiting for an answer"),
        "{card}"
    );
    let listed = callbacks(&service, &id).await;
    let callback_id = listed[0]["callback_id"].as_str().unwrap().to_string();
    assert_eq!(
        (listed[0]["name"].as_str(), listed[0]["state"].as_str()),
        (Some("approval"), Some("waiting")),
        "{listed}"
    );
    assert!(card.contains(&callback_id), "the card shows the id: {card}");
    assert_eq!(
        browser.text("#durable-ops li[data-op=wait]").await,
        browser
            .text("#durable-ops li[data-op=wait][data-state=succeeded]")
            .await,
        "the wait has ended"
    );
    assert!(
        browser
            .text("#durable-ops li[data-op=callback][data-state=waiting]")
            .await
            .contains("callback \"approval\""),
        "the timeline shows the callback waiting"
    );

    if std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/images");
        browser.screenshot(&docs.join("console-approval.png")).await;
    }
    browser.click(&format!("{WAITING} button.approve")).await;
    let who = browser
        .wait_text(".callback .answered-by", |t| t.contains("approved by"))
        .await;
    assert!(who.contains("token \"oncall-alice\" (runner"), "{who}");
    browser.wait_text("#run-status", |t| t == "succeeded").await;
    let result = browser
        .wait_text("#result-payload", |t| t.contains("promoted db-2"))
        .await;
    let result: Value = serde_json::from_str(&result).unwrap();
    assert_eq!(
        result,
        json!({"checked": {"replica": "db-2", "lag_s": 42}, "approval": {"approved": true}, "failover": "promoted db-2"})
    );
    browser
        .wait_for(&format!(
            ".callback[data-callback-id='{callback_id}'][data-state=approved]"
        ))
        .await;
    assert!(!browser.has("#approvals button").await, "no buttons once answered");

    let listed = callbacks(&service, &id).await;
    assert_eq!(listed[0]["state"], "approved", "{listed}");
    assert!(
        listed[0]["answered_by"]
            .as_str()
            .is_some_and(|w| w.starts_with("token \"oncall-alice\"")),
        "{listed}"
    );
    assert!(listed[0]["ended_at"].is_string(), "{listed}");
    browser.finish(&token, &[]).await;
    service.stop().await;
}

#[sqlx::test]
async fn reject_needs_a_message_and_fails_the_run_with_it_and_the_apis_refusal_is_shown(db: PgPool) {
    let (service, _engine_data) = stage(db).await;
    let token = runner_token(&service, "oncall-bob").await;
    let browser = Browser::open(&service.url).await;
    browser.goto("/runs").await;
    browser.sign_in(&token).await;

    let id = submit(&service, 1).await;
    browser.goto(&format!("/runs/{id}")).await;
    browser.wait_for(&format!("{WAITING} button.reject")).await;

    // A result the API refuses (nested deeper than it keeps): its words on the page.
    let deep = format!("{}{}", "[".repeat(70), "]".repeat(70));
    browser
        .js(&format!(
            "const f = document.querySelector('{WAITING} .callback-result');
             f.value = {}; f.dispatchEvent(new Event('input')); return null",
            json!(deep)
        ))
        .await;
    browser.click(&format!("{WAITING} button.approve")).await;
    let refused = browser.wait_text(".callback-error", |t| !t.is_empty()).await;
    assert!(
        refused.starts_with("result[0]") && refused.contains("deeper than 64"),
        "the API's 422, naming the field: {refused}"
    );

    // Reject with no message: asked for one, nothing sent.
    browser.click(&format!("{WAITING} button.reject")).await;
    browser.wait_text(".callback-error", |t| t.contains("Say why")).await;
    assert_eq!(callbacks(&service, &id).await[0]["answered_by"], Value::Null);

    browser
        .type_into(&format!("{WAITING} .callback-message"), "the replica is 42 s behind")
        .await;
    browser.click(&format!("{WAITING} button.reject")).await;
    browser.wait_text("#run-status", |t| t == "failed").await;
    browser
        .wait_text("#run-error", |t| t.contains("the replica is 42 s behind"))
        .await;
    let card = browser
        .wait_text(".callback[data-state=rejected] .answered-by", |t| {
            t.contains("rejected by token \"oncall-bob\"")
        })
        .await;
    assert!(!card.is_empty());
    browser
        .finish(&token, &["the server responded with a status of 422"])
        .await;
    service.stop().await;
}
