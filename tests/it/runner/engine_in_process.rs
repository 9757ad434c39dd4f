//! A service running its embedded engine calls it through the AWS SDK with no socket: the
//! same serialized, signed requests go to the engine's router as calls. A custom-code step
//! (CreateFunction with its zip, the Invoke, the delete) and an Invoke of an existing
//! function run as they do over HTTP, and `/metrics` counts the calls.

use serde_json::json;
use sqlx::PgPool;

use crate::support::service::{ADMIN_TOKEN, ServeProcess, authorized, log_messages};
use crate::support::service_client::{metric, metrics};

#[sqlx::test]
async fn the_embedded_engine_is_called_in_process(db: PgPool) {
    let work = tempfile::tempdir().unwrap();
    let service = ServeProcess::start(&db, work.path(), &[], &[("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let http = authorized(ADMIN_TOKEN);
    let calls = |text: &str| metric(text, "lambda_steps_engine_calls_in_process_total").unwrap_or(0.0);
    let before = calls(&metrics(&http, &service.api).await);

    let run = service
        .run(json!({"type": "lambda_custom_code", "runtime": "python3.12",
                    "code": "def lambda_handler(event, context):\n    print('hello', event['name'])\n    return {'greeting': 'hello ' + event['name']}\n",
                    "payload": {"name": "sre"}}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"]["payload"], json!({"greeting": "hello sre"}), "{run}");
    let messages = log_messages(&http, &service.api, run["id"].as_str().unwrap()).await;
    assert!(messages.iter().any(|m| m == "hello sre"), "{messages:?}");
    assert!(
        messages.iter().any(|m| m.starts_with("deleted function")),
        "{messages:?}"
    );

    // An existing function, created from outside over the engine's listener.
    let lambda = crate::support::signed_client(&service.engine, service.engine_credentials());
    crate::support::create(
        &lambda,
        "echo",
        "python3.12",
        "app.handler",
        &[("app.py", "def handler(e, c):\n    return e\n")],
    )
    .await;
    let run = service
        .run(json!({"type": "lambda_invoke", "function_name": "echo", "payload": {"n": 7}}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"]["payload"], json!({"n": 7}), "{run}");

    // At least CreateFunction, the two Invokes and DeleteFunction went in as calls.
    let after = calls(&metrics(&http, &service.api).await);
    assert!(after - before >= 4.0, "{before} -> {after}");
}
