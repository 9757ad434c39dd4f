//! The follower's fallbacks, on the wire: behind a proxy in front of the engine that
//! refuses StartLiveTail (AccessDenied without `logs:StartLiveTail`, LimitExceeded past the
//! account's concurrent sessions), cuts a Live Tail session short, or refuses
//! FilterLogEvents too, the run's log says once how the function's output is followed (or
//! why it comes only with Lambda's answer), and every printed line is there once, in order.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;
use sqlx::PgPool;

use crate::support::service::TestService;
use crate::support::{TestEngine, fake_endpoint};

/// What the proxy does to CloudWatch Logs calls; everything else reaches the engine.
#[derive(Clone)]
struct Faults {
    engine: String,
    /// Operations answered with this AWS error type instead.
    refused: &'static [(&'static str, &'static str)],
    /// A Live Tail session is cut once it has pushed a line with this text.
    cut_live_tail_after: Option<&'static str>,
    /// The CloudWatch Logs operations asked for, in order.
    asked: Arc<Mutex<Vec<String>>>,
}

impl Faults {
    fn new(
        engine: String,
        refused: &'static [(&'static str, &'static str)],
        cut_live_tail_after: Option<&'static str>,
    ) -> Self {
        Self {
            engine,
            refused,
            cut_live_tail_after,
            asked: Arc::default(),
        }
    }
}

async fn proxy(State(faults): State<Faults>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_string();
    faults.asked.lock().push(operation.clone());
    if let Some((_, kind)) = faults.refused.iter().find(|(op, _)| *op == operation) {
        let message = format!("User is not authorized to perform: logs:{operation}");
        return (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.1")],
            json!({"__type": kind, "message": message}).to_string(),
        )
            .into_response();
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forwarded = reqwest::Client::new()
        .request(parts.method, format!("{}{path}", faults.engine))
        .body(body);
    // The Host header too: it is signed, and the engine checks the signature.
    for (name, value) in &parts.headers {
        if name != "content-length" {
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
    // Streamed through (a Live Tail session is a body that does not end), each frame as
    // the engine sends it; a session to cut ends right after the frame with the line.
    let cut = faults.cut_live_tail_after.filter(|_| operation == "StartLiveTail");
    let frames = answer.bytes_stream().scan(false, move |done, chunk| {
        if *done {
            return futures::future::ready(None);
        }
        if let (Some(text), Ok(bytes)) = (cut, &chunk) {
            *done = String::from_utf8_lossy(bytes).contains(text);
        }
        futures::future::ready(Some(chunk))
    });
    *response.body_mut() = axum::body::Body::from_stream(frames);
    response
}

const PRINTER: &str = "import time\ndef lambda_handler(e, c):\n    for i in range(10):\n        print('step', i)\n        time.sleep(0.15)\n    return 'done'\n";

/// Runs the printer behind the proxy and returns the run's log and the CloudWatch Logs
/// operations asked for; checks that every line is there once, in order.
async fn run_behind(
    db: PgPool,
    refused: &'static [(&'static str, &'static str)],
    cut_live_tail_after: Option<&'static str>,
) -> (Vec<String>, Vec<String>) {
    let data = tempfile::tempdir().unwrap();
    let engine = TestEngine::start(&data.path().join("engine"), &[]).await;
    let faults = Faults::new(engine.url.clone(), refused, cut_live_tail_after);
    let asked = faults.asked.clone();
    let proxy_url = fake_endpoint(axum::Router::new().fallback(proxy).with_state(faults)).await;
    let service = TestService::start_with_engine(db, engine, data, &["--aws-endpoint-url", &proxy_url]).await;
    let run = service
        .run(json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": PRINTER}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let log = service.log(run["id"].as_str().unwrap()).await;
    let steps: Vec<&str> = log
        .iter()
        .filter(|l| l.starts_with("step "))
        .map(String::as_str)
        .collect();
    let expected: Vec<String> = (0..10).map(|i| format!("step {i}")).collect();
    assert_eq!(steps, expected, "every line once, in order: {log:#?}");
    service.stop().await;
    let asked = asked.lock().clone();
    (log, asked)
}

/// The one line of the log that starts with `prefix`.
fn said_once<'a>(log: &'a [String], prefix: &str) -> &'a str {
    let said: Vec<&String> = log.iter().filter(|l| l.starts_with(prefix)).collect();
    assert_eq!(said.len(), 1, "said once, {prefix:?}: {log:#?}");
    said[0]
}

#[sqlx::test]
async fn a_refused_live_tail_is_followed_by_polling(db: PgPool) {
    let (log, _) = run_behind(db, &[("StartLiveTail", "AccessDeniedException")], None).await;
    let how = said_once(
        &log,
        "following the function's log by polling CloudWatch Logs FilterLogEvents every 100 ms",
    );
    assert!(how.contains("StartLiveTail: AccessDeniedException"), "{how}");
    assert!(
        !log.iter().any(|l| l.contains("(CloudWatch Logs StartLiveTail)")),
        "{log:#?}"
    );
}

#[sqlx::test]
async fn live_tail_past_the_accounts_sessions_is_followed_by_polling(db: PgPool) {
    let (log, asked) = run_behind(db, &[("StartLiveTail", "LimitExceededException")], None).await;
    let how = said_once(&log, "following the function's log by polling");
    assert!(how.contains("LimitExceededException"), "{how}");
    // Not retried with backoff as throttling: polling starts at once.
    let sessions = asked.iter().filter(|op| *op == "StartLiveTail").count();
    assert_eq!(sessions, 1, "{asked:?}");
}

#[sqlx::test]
async fn a_live_tail_session_that_ends_early_is_followed_on_by_polling_without_a_line_twice(db: PgPool) {
    let (log, _) = run_behind(db, &[], Some("step 2")).await;
    said_once(
        &log,
        "following the function's log live (CloudWatch Logs StartLiveTail)",
    );
    let ended = said_once(&log, "the Live Tail session ended early");
    assert!(
        ended.contains("following on by polling FilterLogEvents every 100 ms"),
        "{ended}"
    );
    // Lines 0 to 2 came live, before the cut; the rest by polling, after it.
    let at = |line: &str| log.iter().position(|l| l == line).unwrap();
    assert!(at("step 2") < at(ended) && at(ended) < at("step 9"), "{log:#?}");
}

#[sqlx::test]
async fn with_neither_live_tail_nor_filter_log_events_the_log_says_output_comes_with_the_answer(db: PgPool) {
    let refused = &[
        ("StartLiveTail", "AccessDeniedException"),
        ("FilterLogEvents", "AccessDeniedException"),
    ];
    let (log, _) = run_behind(db, refused, None).await;
    let why = said_once(&log, "the function's output will come only with Lambda's answer");
    assert!(why.contains("FilterLogEvents: AccessDeniedException"), "{why}");
}
