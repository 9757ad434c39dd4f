//! Hostile and careless input: what cannot be stored and read back is refused at the edge
//! and creates nothing; every rejection answers the one error shape; a row that cannot be
//! read (stored before the edge refused it) fails its own run and stalls nothing.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::service::TestService;

/// The largest double: jsonb keeps it, and prints it back as a 309-digit integer.
const HUGE: &str = "1.7976931348623157e308";

async fn run_count(db: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(db)
        .await
        .unwrap()
}

/// Sends a request with a raw body and content type; answers the status, headers and body.
async fn send(
    service: &TestService,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = service
        .http
        .request(method, format!("{}{path}", service.url))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path} answered {status} without JSON: {text:?}"));
    (status, headers, body)
}

async fn post_raw(service: &TestService, path: &str, body: &str) -> (u16, Value) {
    let (status, _, body) = send(
        service,
        reqwest::Method::POST,
        path,
        Some("application/json"),
        body.to_string(),
    )
    .await;
    (status, body)
}

/// An error answer in the one shape, in a user's words.
fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str, want_field: Option<&str>) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {body}"));
    assert!(!message.is_empty());
    for rust in ["struct ", "enum ", "::", "u32", "i64"] {
        assert!(!message.contains(rust), "a Rust type in {message:?}");
    }
    if let Some(field) = want_field {
        assert_eq!(body["error"]["field"], field, "{body}");
    }
}

async fn setup_saved_step_and_hook(service: &TestService, secret: Option<&str>) -> String {
    let status = service
        .put_json(
            "/v1/projects/default/steps/hello",
            &json!({"step": {"type": "lambda_invoke", "function_name": "hello"}}),
        )
        .await;
    assert!(status == 201 || status == 200);
    let (status, hook) = service
        .post_json(
            "/v1/projects/default/webhooks",
            json!({"step": "hello", "secret": secret}),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    hook["url"].as_str().unwrap().to_string()
}

#[sqlx::test]
async fn values_that_cannot_be_stored_are_refused_and_create_nothing(db: PgPool) {
    let service = TestService::start(db.clone(), &["--workers", "1"]).await;
    let hook = setup_saved_step_and_hook(&service, None).await;

    // The number that poisoned the queue, on each of the three ways in.
    let step = format!(r#"{{"step": {{"type": "lambda_invoke", "function_name": "f", "payload": {{"x": {HUGE}}}}}}}"#);
    let (status, body) = post_raw(&service, "/v1/projects/default/runs", &step).await;
    assert_error(status, &body, 422, "invalid_field", Some("step.payload.x"));
    let (status, body) = post_raw(&service, &hook, &format!(r#"{{"x": {HUGE}}}"#)).await;
    assert_error(status, &body, 422, "invalid_field", Some("body.x"));
    let (status, body) = post_raw(
        &service,
        "/v1/projects/default/steps/hello/runs",
        &format!(r#"{{"payload": [1, {HUGE}]}}"#),
    )
    .await;
    assert_error(status, &body, 422, "invalid_field", Some("payload[1]"));
    let context = format!(
        r#"{{"step": {{"type": "lambda_invoke", "function_name": "f", "client_context": {{"custom": {{"n": -{HUGE}}}}}}}}}"#
    );
    let (status, body) = post_raw(&service, "/v1/projects/default/runs", &context).await;
    assert_error(
        status,
        &body,
        422,
        "invalid_field",
        Some("step.client_context.custom.n"),
    );

    // NUL characters, which neither jsonb nor text columns hold.
    let (status, body) = service
        .submit(
            "default",
            json!({"type": "lambda_invoke", "function_name": "f", "payload": {"a": "x\u{0}y"}}),
        )
        .await;
    assert_error(status, &body, 422, "invalid_field", Some("step.payload.a"));
    let (status, body) = service
        .submit(
            "default",
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": "def lambda_handler(e, c):\u{0}\n  return 1"}),
        )
        .await;
    assert_error(status, &body, 422, "invalid_field", Some("step.code"));
    let (status, _, body) = send(
        &service,
        reqwest::Method::PUT,
        "/v1/projects/default/settings",
        Some("application/json"),
        json!({"project.aws.region": "eu-west-1\u{0}"}).to_string(),
    )
    .await;
    assert_error(status, &body, 422, "invalid_field", Some("project.aws.region"));
    let (status, body) = service
        .post_json("/v1/tokens", json!({"name": "ci\u{0}", "role": "admin"}))
        .await;
    assert_error(status, &body, 422, "invalid_field", Some("name"));
    let (status, body) = post_raw(&service, &hook, "\u{0}").await;
    assert_error(status, &body, 422, "invalid_field", Some("body"));
    let (status, body) = service.get("/v1/keys/a%00b").await;
    assert_error(status, &body, 400, "bad_request", None);
    let (status, body) = service.get("/v1/keys?prefix=a%00").await;
    assert_error(status, &body, 422, "invalid_field", Some("prefix"));
    let (status, body) = service.get("/v1/projects/def%00ault/runs").await;
    assert_error(status, &body, 400, "bad_request", None);

    // Nesting deeper than the bound.
    let deep = format!("{}1{}", "[".repeat(70), "]".repeat(70));
    let step = format!(r#"{{"step": {{"type": "lambda_invoke", "function_name": "f", "payload": {deep}}}}}"#);
    let (status, body) = post_raw(&service, "/v1/projects/default/runs", &step).await;
    assert_error(status, &body, 422, "invalid_field", None);
    assert!(body["error"]["message"].as_str().unwrap().contains("deeper"), "{body}");

    assert_eq!(run_count(&db).await, 0, "nothing refused was stored");
    // What can be stored still is.
    let (status, body) = post_raw(&service, &hook, r#"{"x": 1e300, "y": 0.1}"#).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["step"]["payload"]["y"], 0.1);
    service.stop().await;
}

#[sqlx::test]
async fn every_rejection_answers_the_one_error_shape(db: PgPool) {
    let service = TestService::start(db.clone(), &["--workers", "1"]).await;
    let hook = setup_saved_step_and_hook(&service, Some("a-secret-of-16-chars")).await;
    let put = reqwest::Method::PUT;
    let post = reqwest::Method::POST;
    let json = Some("application/json");

    let (status, _, body) = send(&service, put.clone(), "/v1/projects/default/steps/x", json, "{").await;
    assert_error(status, &body, 400, "bad_request", None);
    let (status, _, body) = send(
        &service,
        put.clone(),
        "/v1/projects/default/steps/x",
        json,
        r#"{"step": 5}"#,
    )
    .await;
    assert_error(status, &body, 422, "invalid_field", Some("step"));
    let (status, _, body) = send(&service, put.clone(), "/v1/projects/default/settings", json, "[1]").await;
    assert_error(status, &body, 422, "invalid_field", Some("body"));
    let (status, _, body) = send(&service, post.clone(), "/v1/tokens", json, "{}").await;
    assert_error(status, &body, 422, "invalid_field", Some("body"));
    assert!(body["error"]["message"].as_str().unwrap().contains("name"), "{body}");
    let (status, _, body) = send(
        &service,
        post.clone(),
        "/v1/projects/default/webhooks",
        json,
        r#"{"step": 1}"#,
    )
    .await;
    assert_error(status, &body, 422, "invalid_field", Some("step"));
    let (status, _, body) = send(
        &service,
        post.clone(),
        "/v1/projects/default/steps/hello/runs",
        json,
        r#""x""#,
    )
    .await;
    assert_error(status, &body, 422, "invalid_field", Some("body"));
    let (status, _, body) = send(
        &service,
        post.clone(),
        "/v1/projects/default/steps/hello/runs",
        json,
        r#"{"step_payload": 1}"#,
    )
    .await;
    assert_error(status, &body, 422, "invalid_field", None);
    let (status, _, body) = send(
        &service,
        put.clone(),
        "/v1/projects/default/settings",
        json,
        r#"{"": null}"#,
    )
    .await;
    assert_error(status, &body, 422, "invalid_field", Some(""));
    // serde reads a struct from an array of its fields too; the API takes objects only.
    let (status, _, body) = send(
        &service,
        post.clone(),
        "/v1/projects/default/steps/hello/runs",
        json,
        "[[]]",
    )
    .await;
    assert_error(status, &body, 422, "invalid_field", Some("body"));

    for path in [
        "/v1/projects/default/runs?limit=abc",
        "/v1/runs/00000000-0000-0000-0000-000000000000/logs?after=x",
        "/v1/runs/00000000-0000-0000-0000-000000000000/events?after=x",
    ] {
        let (status, body) = service.get(path).await;
        let field = if path.contains("limit") { "limit" } else { "after" };
        assert_error(status, &body, 422, "invalid_field", Some(field));
    }
    let (status, body) = service.get("/v1/runs/%FF").await;
    assert_error(status, &body, 400, "bad_request", None);
    let (status, body) = service.get("/v2/nothing").await;
    assert_error(status, &body, 404, "not_found", None);
    let (status, headers, body) = send(&service, reqwest::Method::DELETE, "/v1/projects", None, "").await;
    assert_error(status, &body, 405, "method_not_allowed", None);
    assert!(headers["allow"].to_str().unwrap().contains("GET"), "{headers:?}");

    let step = json!({"step": {"type": "lambda_invoke", "function_name": "f"}}).to_string();
    let (status, _, body) = send(
        &service,
        post.clone(),
        "/v1/projects/default/runs",
        Some("text/plain"),
        step.clone(),
    )
    .await;
    assert_error(status, &body, 415, "unsupported_media_type", None);
    let (status, _, body) = send(&service, post.clone(), "/v1/projects/default/runs", None, step).await;
    assert_error(status, &body, 415, "unsupported_media_type", None);
    let big = format!(
        r#"{{"step": {{"type": "lambda_invoke", "function_name": "f", "payload": "{}"}}}}"#,
        "x".repeat(17 << 20)
    );
    let (status, _, body) = send(&service, post.clone(), "/v1/projects/default/runs", json, big).await;
    assert_error(status, &body, 413, "too_large", None);

    // A hook's signature: what was wrong with it, and no call for a bearer token.
    let (status, headers, body) = send(&service, post.clone(), &hook, json, "{}").await;
    assert_error(status, &body, 401, "bad_signature", None);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("Timestamp"),
        "{body}"
    );
    assert!(!headers.contains_key("www-authenticate"), "{headers:?}");
    let now = chrono::Utc::now().timestamp().to_string();
    let response = reqwest::Client::new()
        .post(format!("{}{hook}", service.url))
        .header("content-type", "application/json")
        .header("x-lambda-steps-timestamp", &now)
        .header("x-lambda-steps-signature", format!("sha256={}", "00".repeat(32)))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert!(!response.headers().contains_key("www-authenticate"));
    let body: Value = response.json().await.unwrap();
    assert_error(401, &body, 401, "bad_signature", None);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("does not match"),
        "{body}"
    );

    assert_eq!(run_count(&db).await, 0, "nothing refused was stored");
    service.stop().await;
}

#[sqlx::test]
async fn a_row_that_cannot_be_read_fails_alone_and_stalls_nothing(db: PgPool) {
    // Put there directly, as a release before the edge checks would have: a number jsonb
    // prints back unreadable, and nesting past serde_json's limit.
    let huge = format!(r#"{{"type": "lambda_invoke", "function_name": "f", "payload": {{"x": {HUGE}}}}}"#);
    let deep = format!(
        r#"{{"type": "lambda_invoke", "function_name": "f", "payload": {}1{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let good = json!({"type": "lambda_custom_code", "runtime": "python3.12",
        "code": "def lambda_handler(event, context):\n    return {'ok': True}\n"})
    .to_string();
    let mut ids = Vec::new();
    for (i, step) in [&good, &huge, &deep, &good].into_iter().enumerate() {
        let id = uuid::Uuid::new_v4();
        sqlx::query(
            "INSERT INTO runs (id, project, status, step, created_at)
             VALUES ($1, 'default', 'queued', $2::jsonb, now() + make_interval(secs => $3))",
        )
        .bind(id)
        .bind(step)
        .bind(i as f64 / 1000.0)
        .execute(&db)
        .await
        .unwrap();
        ids.push(id.to_string());
    }
    // One claim takes all four: the two unreadable ones must not spoil it.
    let service = TestService::start(db.clone(), &["--workers", "4", "--claim-batch", "4"]).await;
    let (status, page) = service.get("/v1/projects/default/runs").await;
    assert_eq!(status, 200, "the list answers while they wait: {page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    let outcomes: Vec<Value> = futures::future::join_all(ids.iter().map(|id| service.wait_finished(id))).await;
    assert_eq!(outcomes[0]["status"], "succeeded", "{}", outcomes[0]);
    assert_eq!(outcomes[3]["status"], "succeeded", "{}", outcomes[3]);
    for bad in &outcomes[1..3] {
        assert_eq!(bad["status"], "failed", "{bad}");
        assert_eq!(bad["error"]["code"], "invalid_step", "{bad}");
        assert!(
            bad["error"]["message"].as_str().unwrap().contains("cannot be read"),
            "{bad}"
        );
        assert!(bad["step"].as_str().unwrap().contains("cannot be read"), "{bad}");
        assert_eq!(bad["attempt"], 1, "failed once, not cycled: {bad}");
    }
    let (status, page) = service.get("/v1/projects/default/runs").await;
    assert_eq!(status, 200, "{page}");
    let (status, _) = service.post(&format!("/v1/runs/{}/cancel", ids[1])).await;
    assert_eq!(status, 409, "cancel of the finished unreadable run answers, not 500");
    service.stop().await;
}
