//! The follower's permanent-refusal fallback: behind an endpoint that serves Lambda but
//! refuses CloudWatch Logs `FilterLogEvents` (AccessDenied, as credentials without
//! `logs:FilterLogEvents` get on AWS), the run's log says once why the function's output
//! comes only with Lambda's answer, and every printed line is still there once, in order.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sqlx::PgPool;

use crate::support::service::TestService;
use crate::support::{TestEngine, fake_endpoint};

/// Forwards every request to the engine at `engine`, except FilterLogEvents: refused.
async fn refusing_proxy(State(engine): State<String>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target.ends_with(".FilterLogEvents") {
        return (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.1")],
            r#"{"__type":"AccessDeniedException","message":"User is not authorized to perform: logs:FilterLogEvents"}"#,
        )
            .into_response();
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forwarded = reqwest::Client::new()
        .request(parts.method, format!("{engine}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            forwarded = forwarded.header(name, value);
        }
    }
    let answer = forwarded.send().await.unwrap();
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = answer.status();
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response.headers_mut().insert(name, value.clone());
        }
    }
    *response.body_mut() = axum::body::Body::from(answer.bytes().await.unwrap());
    response
}

#[sqlx::test]
async fn a_refused_filter_log_events_says_why_output_comes_with_the_answer_and_loses_no_line(db: PgPool) {
    let data = tempfile::tempdir().unwrap();
    let engine = TestEngine::start(&data.path().join("engine"), &[]).await;
    let proxy = fake_endpoint(
        axum::Router::new()
            .fallback(refusing_proxy)
            .with_state(engine.url.clone()),
    )
    .await;
    let service = TestService::start_with_engine(db, engine, data, &["--aws-endpoint-url", &proxy]).await;
    let run = service
        .run(json!({"type": "lambda_custom_code", "runtime": "python3.12",
                    "code": "import time\ndef lambda_handler(e, c):\n    for i in range(5):\n        print('step', i)\n        time.sleep(0.2)\n    return 'done'\n"}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let log = service.log(run["id"].as_str().unwrap()).await;
    let why: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("the function's output will come only with Lambda's answer"))
        .collect();
    assert_eq!(why.len(), 1, "said once: {log:#?}");
    assert!(why[0].contains("AccessDeniedException"), "{log:#?}");
    let steps: Vec<&str> = log
        .iter()
        .filter(|l| l.starts_with("step "))
        .map(String::as_str)
        .collect();
    assert_eq!(steps, ["step 0", "step 1", "step 2", "step 3", "step 4"], "{log:#?}");
    service.stop().await;
}
