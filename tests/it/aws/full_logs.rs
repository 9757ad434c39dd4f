//! When Lambda's 4 KB tail is cut, the run's log has the whole log from CloudWatch Logs
//! where the credentials allow it, and says why not where they do not. Against an endpoint
//! that serves Invoke (with a cut tail) and FilterLogEvents.

use axum::http::HeaderMap;
use base64::Engine as _;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::service::TestService;

const REQUEST: &str = "9d0f4c1e-0000-4000-8000-000000000001";

fn event(stream: &str, at: i64, message: String) -> Value {
    json!({"logStreamName": stream, "timestamp": at, "message": format!("{message}\n"), "ingestionTime": at, "eventId": at.to_string()})
}

async fn cloudwatch(headers: HeaderMap, body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    assert_eq!(
        headers.get("x-amz-target").and_then(|v| v.to_str().ok()),
        Some("Logs_20140328.FilterLogEvents")
    );
    let request: Value = serde_json::from_str(&body).unwrap();
    if request["logGroupName"] == "/aws/lambda/cut-denied" {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.1")],
            json!({"__type": "AccessDeniedException", "message": "not authorized to perform: logs:FilterLogEvents"})
                .to_string(),
        )
            .into_response();
    }
    let stream = "2026/11/23/[$LATEST]0123456789abcdef";
    let mut events = vec![event(
        stream,
        1000,
        format!("START RequestId: {REQUEST} Version: $LATEST"),
    )];
    events.extend((0..100).map(|i| event(stream, 1001 + i, format!("line {i}"))));
    events.push(event(stream, 1200, format!("END RequestId: {REQUEST}")));
    events.push(event(
        stream,
        1201,
        format!("REPORT RequestId: {REQUEST}\tDuration: 1.00 ms"),
    ));
    if request.get("filterPattern").is_some() {
        events.retain(|e| e["message"].as_str().unwrap().contains(REQUEST));
    }
    (
        [("content-type", "application/x-amz-json-1.1")],
        json!({"events": events, "searchedLogStreams": []}).to_string(),
    )
        .into_response()
}

#[sqlx::test]
async fn a_cut_tail_is_completed_from_cloudwatch_logs_or_said_to_be_cut(db: PgPool) {
    let tail =
        format!("line 98\nline 99\nEND RequestId: {REQUEST}\nREPORT RequestId: {REQUEST}\tDuration: 1.00 ms\t\n");
    let tail = base64::engine::general_purpose::STANDARD.encode(tail);
    let router = axum::Router::new()
        .route("/", axum::routing::post(cloudwatch))
        .route(
            "/2015-03-31/functions/{name}/configuration",
            axum::routing::get(|| async { axum::Json(json!({"FunctionName": "f", "Timeout": 3})) }),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(move || {
                let tail = tail.clone();
                async move {
                    (
                        [
                            ("x-amz-executed-version", "$LATEST".to_string()),
                            ("x-amzn-requestid", REQUEST.to_string()),
                            ("x-amz-log-result", tail),
                        ],
                        r#""done""#,
                    )
                }
            }),
        );
    let fake = crate::support::fake_endpoint(router).await;
    let service = TestService::start(db, &["--aws-endpoint-url", &fake]).await;

    let whole = service
        .run(json!({"type": "lambda_invoke", "function_name": "cut-ok"}))
        .await;
    assert_eq!(whole["status"], "succeeded", "{whole}");
    assert_eq!(whole["result"]["log_tail_truncated"], true);
    let log = service.log(whole["id"].as_str().unwrap()).await;
    assert!(
        log.iter()
            .any(|l| l.starts_with("[Lambda's 4 KB log tail was cut; the whole log")),
        "{log:#?}"
    );
    for expected in [
        format!("START RequestId: {REQUEST} Version: $LATEST"),
        "line 0".into(),
        "line 99".into(),
    ] {
        assert!(log.contains(&expected), "{expected} missing: {log:#?}");
    }

    let cut = service
        .run(json!({"type": "lambda_invoke", "function_name": "cut-denied"}))
        .await;
    assert_eq!(
        cut["status"], "succeeded",
        "reading logs is not part of the step: {cut}"
    );
    let log = service.log(cut["id"].as_str().unwrap()).await;
    assert!(
        log.iter()
            .any(|l| l.contains("could not be read from CloudWatch Logs: FilterLogEvents: AccessDeniedException")),
        "{log:#?}"
    );
    assert!(
        log.contains(&"line 99".to_string()) && !log.contains(&"line 0".to_string()),
        "the tail, and only the tail: {log:#?}"
    );
    service.stop().await;
}
