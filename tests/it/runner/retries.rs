//! At most once against a Lambda endpoint that misbehaves on purpose: a 429 with
//! Retry-After is retried and then answered; a connection dropped after the request went
//! out ends `outcome_unknown` with no second request. And the sweeper deletes a function
//! no live run owns.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sqlx::PgPool;

use crate::support::service::TestService;
use crate::support::{TestEngine, create};

/// Invoke calls per function name; `throttled-N` answers 429 (Retry-After: 1) N times.
#[derive(Default)]
struct Calls(parking_lot::Mutex<std::collections::HashMap<String, usize>>);

async fn fake_invoke(State(calls): State<Arc<Calls>>, Path(name): Path<String>) -> Response {
    let count = {
        let mut calls = calls.0.lock();
        let count = calls.entry(name.clone()).or_default();
        *count += 1;
        *count
    };
    let throttles: usize = name
        .strip_prefix("throttled-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if count <= throttles {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("x-amzn-errortype", "TooManyRequestsException"), ("retry-after", "1")],
            r#"{"Type":"User","message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}"#,
        )
            .into_response();
    }
    ([("x-amz-executed-version", "$LATEST")], r#"{"attempt": "ok"}"#).into_response()
}

#[sqlx::test]
async fn throttling_is_retried_after_retry_after_and_nothing_else_is(db: PgPool) {
    let calls = Arc::new(Calls::default());
    let router = axum::Router::new()
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(fake_invoke),
        )
        .with_state(calls.clone());
    let fake = crate::support::fake_endpoint(router).await;

    // A connection that reads the request and closes without an answer.
    let dropper = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dropper_url = format!("http://{}", dropper.local_addr().unwrap());
    let dropped = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let dropped = dropped.clone();
        async move {
            loop {
                let Ok((mut socket, _)) = dropper.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 65536];
                let n = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await.unwrap_or(0);
                // Count Invokes only (the function's configuration is asked for first).
                if String::from_utf8_lossy(&buf[..n]).starts_with("POST /2015-03-31/functions/anything/invocations") {
                    dropped.fetch_add(1, Ordering::SeqCst);
                }
                drop(socket);
            }
        }
    });

    let service = TestService::start(db.clone(), &["--aws-endpoint-url", &fake]).await;
    let started = Instant::now();
    let run = service
        .run(json!({"type": "lambda_invoke", "function_name": "throttled-2"}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(calls.0.lock()["throttled-2"], 3, "two 429s, then the answer");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "each retry waited the Retry-After second"
    );
    let log = service.log(run["id"].as_str().unwrap()).await;
    assert_eq!(
        log.iter()
            .filter(|l| l.starts_with("Lambda throttled the call"))
            .count(),
        2,
        "{log:#?}"
    );
    service.stop().await;

    let service = TestService::start(db, &["--aws-endpoint-url", &dropper_url]).await;
    let lost = service
        .run(json!({"type": "lambda_invoke", "function_name": "anything"}))
        .await;
    assert_eq!(lost["status"], "failed", "{lost}");
    assert_eq!(lost["error"]["code"], "outcome_unknown");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "the Invoke was not sent again");
    service.stop().await;
}

#[sqlx::test]
async fn the_sweeper_deletes_expired_strays_and_leaves_the_rest(db: PgPool) {
    let data = tempfile::tempdir().unwrap();
    let engine = TestEngine::start(&data.path().join("engine"), &[]).await;
    // Functions of runs this database does not know (another deployment's, say): one past
    // its expiry tag, one still within it; and a function that is not this service's.
    let expired = format!("lambda-steps-{}", uuid::Uuid::new_v4().simple());
    let young = format!("lambda-steps-{}", uuid::Uuid::new_v4().simple());
    for (name, expires) in [
        (&expired, "2020-01-01T00:00:00+00:00"),
        (&young, "2999-01-01T00:00:00+00:00"),
    ] {
        let code = crate::support::zip(&[("app.py", "x = 1\n")]);
        crate::support::create_request(&engine.client, name, "python3.12", "app.handler", code)
            .tags("lambda-steps:expires-at", expires)
            .send()
            .await
            .unwrap();
    }
    create(
        &engine.client,
        "someone-elses",
        "python3.12",
        "app.handler",
        &[("app.py", "x = 1\n")],
    )
    .await;
    let service = TestService::start_with_engine(db, engine, data, &["--sweep-seconds", "1"]).await;
    let mut names = Vec::new();
    for _ in 0..100 {
        let listed = service.engine.client.list_functions().send().await.unwrap();
        names = listed
            .functions()
            .iter()
            .filter_map(|f| f.function_name().map(str::to_string))
            .collect();
        if names.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    names.sort();
    let mut expected = vec![young, "someone-elses".to_string()];
    expected.sort();
    assert_eq!(
        names, expected,
        "the expired stray is gone; the unexpired one and others stay"
    );
    service.stop().await;
}

#[sqlx::test]
async fn the_wait_for_an_answer_follows_the_functions_own_timeout(db: PgPool) {
    let invokes = Arc::new(AtomicUsize::new(0));
    let router = axum::Router::new()
        .route(
            "/2015-03-31/functions/{name}/configuration",
            axum::routing::get(|Path(name): Path<String>| async move {
                axum::Json(json!({"FunctionName": name, "Timeout": 1, "State": "Active"}))
            }),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(|State(invokes): State<Arc<AtomicUsize>>| async move {
                invokes.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(60)).await;
                "{}"
            }),
        )
        .with_state(invokes.clone());
    let fake = crate::support::fake_endpoint(router).await;

    let service = TestService::start(
        db,
        &["--aws-endpoint-url", &fake, "--invoke-timeout-margin-seconds", "1"],
    )
    .await;
    let started = Instant::now();
    let run = service
        .run(json!({"type": "lambda_invoke", "function_name": "hangs"}))
        .await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "outcome_unknown");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "waited {:?}, not the function's 1 s plus 1 s",
        started.elapsed()
    );
    assert_eq!(invokes.load(Ordering::SeqCst), 1, "not sent again");
    service.stop().await;
}

/// Counts of each kind of call the endpoint below answered.
#[derive(Default)]
struct Seen {
    creates: AtomicUsize,
    configurations: AtomicUsize,
    invokes: AtomicUsize,
    deletes: AtomicUsize,
}

#[sqlx::test]
async fn custom_code_waits_out_role_propagation_pending_functions_and_not_ready_answers(db: PgPool) {
    let seen = Arc::new(Seen::default());
    let router = axum::Router::new()
        .route(
            "/2015-03-31/functions",
            axum::routing::post(|State(seen): State<Arc<Seen>>| async move {
                // As AWS answers while a new role propagates.
                if seen.creates.fetch_add(1, Ordering::SeqCst) < 2 {
                    return (
                        StatusCode::BAD_REQUEST,
                        [("x-amzn-errortype", "InvalidParameterValueException")],
                        r#"{"Type":"User","message":"The role defined for the function cannot be assumed by Lambda."}"#
                            .to_string(),
                    )
                        .into_response();
                }
                (
                    StatusCode::CREATED,
                    axum::Json(json!({"FunctionName": "f", "State": "Pending", "StateReasonCode": "Creating"})),
                )
                    .into_response()
            }),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            axum::routing::get(|State(seen): State<Arc<Seen>>| async move {
                let state = if seen.configurations.fetch_add(1, Ordering::SeqCst) < 1 {
                    "Pending"
                } else {
                    "Active"
                };
                axum::Json(json!({"FunctionName": "f", "State": state, "LastUpdateStatus": "Successful", "Timeout": 3}))
            }),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(|State(seen): State<Arc<Seen>>| async move {
                if seen.invokes.fetch_add(1, Ordering::SeqCst) < 1 {
                    return (
                        StatusCode::BAD_GATEWAY,
                        [("x-amzn-errortype", "ResourceNotReadyException")],
                        r#"{"Type":"User","message":"Functions are currently being created."}"#.to_string(),
                    )
                        .into_response();
                }
                (
                    [("x-amz-executed-version", "$LATEST")],
                    r#"{"created": true}"#.to_string(),
                )
                    .into_response()
            }),
        )
        .route(
            "/2015-03-31/functions/{name}",
            axum::routing::delete(|State(seen): State<Arc<Seen>>| async move {
                seen.deletes.fetch_add(1, Ordering::SeqCst);
                StatusCode::NO_CONTENT
            })
            // The SDK's Active waiter polls GetFunction: Pending once, then Active.
            .get(|State(seen): State<Arc<Seen>>| async move {
                let state = if seen.configurations.fetch_add(1, Ordering::SeqCst) < 1 { "Pending" } else { "Active" };
                axum::Json(json!({"Configuration": {"FunctionName": "f", "State": state, "LastUpdateStatus": "Successful", "Timeout": 3}}))
            }),
        )
        .with_state(seen.clone());
    let fake = crate::support::fake_endpoint(router).await;

    let service = TestService::start(db, &["--aws-endpoint-url", &fake]).await;
    let run = service
        .run(json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": "def lambda_handler(e, c):\n    return 1\n",
            "role_arn": "arn:aws:iam::123456789012:role/new-role"}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"]["payload"], json!({"created": true}));
    let log = service.log(run["id"].as_str().unwrap()).await;
    assert_eq!(
        log.iter().filter(|l| l.starts_with("waiting for the role")).count(),
        1,
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("waiting for lambda-steps-") && l.ends_with("to become Active (it is Pending)")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("the function is not ready (502 ResourceNotReadyException")),
        "{log:#?}"
    );
    assert_eq!(seen.creates.load(Ordering::SeqCst), 3, "created after two refusals");
    assert_eq!(
        seen.invokes.load(Ordering::SeqCst),
        2,
        "a 502 ResourceNotReady is retried: the function did not start"
    );
    assert_eq!(seen.deletes.load(Ordering::SeqCst), 1, "and cleaned up");
    service.stop().await;
}
