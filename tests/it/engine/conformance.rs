//! Conformance with AWS's own clients: the official `awslambdaric` runtime client runs a
//! handler against the engine's Runtime API, and boto3 drives the Lambda API from Python.

use serde_json::json;

use crate::support::{TestEngine, create, data_dir, invoke, run_python_check, venv};

#[tokio::test(flavor = "multi_thread")]
async fn awslambdaric_runs_a_handler_against_the_runtime_api() {
    let venv = venv();
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let bootstrap = format!(
        "#!/bin/sh\ncd \"$LAMBDA_TASK_ROOT\"\nexec {} -m awslambdaric \"$_HANDLER\"\n",
        venv.join("bin/python").display()
    );
    let code = "def handler(event, context):\n    print('ric says hi')\n    if event.get('fail'):\n        raise KeyError('missing')\n    return {'doubled': event['n'] * 2, 'fn': context.function_name}\n";
    create(
        &engine.client,
        "ric",
        "provided.al2023",
        "app.handler",
        &[("bootstrap", &bootstrap), ("app.py", code)],
    )
    .await;
    let out = invoke(&engine.client, "ric", json!({"n": 4})).await;
    assert_eq!(out.function_error, None, "{:?}\n{}", out.payload, out.log);
    assert_eq!(out.payload, json!({"doubled": 8, "fn": "ric"}));
    assert!(out.log.contains("ric says hi"), "{}", out.log);

    let failed = invoke(&engine.client, "ric", json!({"fail": true})).await;
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(failed.payload["errorType"], "KeyError");
    assert!(failed.payload["stackTrace"].as_array().is_some_and(|t| !t.is_empty()));

    create(
        &engine.client,
        "ric-missing",
        "provided.al2023",
        "app.nothere",
        &[("bootstrap", &bootstrap), ("app.py", code)],
    )
    .await;
    let init = invoke(&engine.client, "ric-missing", json!({})).await;
    assert_eq!(init.payload["errorType"], "Runtime.HandlerNotFound", "{}", init.payload);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_creates_invokes_and_deletes_functions_in_all_three_languages() {
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    let [(_, id), (_, secret)] = engine.key_env();
    run_python_check(
        "boto3_engine.py",
        &[engine.url.as_ref(), id.as_ref(), secret.as_ref()],
        "boto3 conformance: ok",
    )
    .await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_engine_is_reachable_by_function_name_arn_after_sdk_create() {
    // A small cross-check that the Rust SDK and the engine agree on ARNs.
    let dir = data_dir();
    let engine = TestEngine::start(dir.path(), &[]).await;
    create(
        &engine.client,
        "arn-check",
        "python3.12",
        "app.handler",
        &[("app.py", "def handler(e, c):\n    return c.invoked_function_arn\n")],
    )
    .await;
    let conf = engine
        .client
        .get_function()
        .function_name("arn-check")
        .send()
        .await
        .unwrap();
    let arn = conf.configuration().unwrap().function_arn().unwrap().to_string();
    let out = invoke(&engine.client, &arn, json!({})).await;
    assert_eq!(out.payload, json!(arn));
    engine.stop().await;
}
