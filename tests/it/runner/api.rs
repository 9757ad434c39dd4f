//! The REST API's contract: bad input is refused naming the field and creates nothing;
//! idempotency; listing runs and saved steps with filters and cursors; projects; 404s; the committed spec.

use serde_json::json;
use sqlx::PgPool;

use crate::support::service::TestService;

async fn run_count(db: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn bad_input_gets_a_4xx_naming_the_field_and_creates_no_run(db: PgPool) {
    let service = TestService::start(db.clone(), &["--workers", "1"]).await;
    let big = "x".repeat(6 * 1024 * 1024 + 1);
    let cases = [
        (
            json!({"type": "lambda_invoke", "function_name": "has spaces"}),
            "step.function_name",
        ),
        (
            json!({"type": "lambda_invoke", "function_name": "f", "qualifier": "no/slash"}),
            "step.qualifier",
        ),
        (
            json!({"type": "lambda_invoke", "function_name": "f", "payload": big}),
            "step.payload",
        ),
        (
            json!({"type": "lambda_invoke", "function_name": "f", "invocation_type": "Event", "client_context": {"custom": {}}}),
            "step.client_context",
        ),
        (
            json!({"type": "lambda_invoke", "function_name": "f", "client_context": {"custom": "x".repeat(4000)}}),
            "step.client_context",
        ),
        (
            json!({"type": "lambda_custom_code", "runtime": "cobol", "code": "x"}),
            "step.runtime",
        ),
        (
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": "x", "timeout_seconds": 0}),
            "step.timeout_seconds",
        ),
        (
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": "x", "memory_mb": 20000}),
            "step.memory_mb",
        ),
        (json!({"type": "lambda_invoke"}), "step"),
        (json!({"type": "teleport"}), "step.type"),
    ];
    for (step, field) in cases {
        let (status, body) = service.submit("default", step).await;
        assert_eq!(status, 422, "{field}: {body}");
        assert_eq!(body["error"]["code"], "invalid_field");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let response = service
        .http
        .post(format!("{}/v1/projects/default/runs", service.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let (status, body) = service
        .submit("nope", json!({"type": "lambda_invoke", "function_name": "f"}))
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    assert_eq!(run_count(&db).await, 0, "no bad request created a run");
    service.stop().await;
}

#[sqlx::test]
async fn the_same_idempotency_key_returns_the_first_run(db: PgPool) {
    let service = TestService::start(db.clone(), &[]).await;
    let step = json!({"type": "lambda_invoke", "function_name": "whatever", "invocation_type": "DryRun"});
    let (first_status, first) = service
        .submit_with_key("default", step.clone(), Some("deploy-42"))
        .await;
    let (again_status, again) = service
        .submit_with_key("default", step.clone(), Some("deploy-42"))
        .await;
    assert_eq!((first_status, again_status), (202, 200));
    assert_eq!(first["id"], again["id"]);
    let (_, other) = service.submit_with_key("default", step, Some("deploy-43")).await;
    assert_ne!(other["id"], first["id"]);
    assert_eq!(run_count(&db).await, 2);
    service.stop().await;
}

#[sqlx::test]
async fn runs_are_listed_newest_first_with_a_status_filter_and_a_cursor(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let (status, _) = service
        .http
        .put(format!("{}/v1/projects/ops", service.url))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 201);
    let again = service
        .http
        .put(format!("{}/v1/projects/ops", service.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status().as_u16(),
        200,
        "an existing project is found, not created again"
    );
    let body: serde_json::Value = again.json().await.unwrap();
    assert_eq!(body["name"], "ops");
    assert!(body["created_at"].is_string());
    let mut ids = Vec::new();
    for i in 0..5 {
        let (_, run) = service
            .submit(
                "ops",
                json!({"type": "lambda_invoke", "function_name": format!("f{i}"), "invocation_type": "DryRun"}),
            )
            .await;
        ids.push(run["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        service.wait_finished(id).await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/projects/ops/runs?limit=2".to_string();
    loop {
        let (status, page) = service.get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/projects/ops/runs?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, every run once");
    // DryRun of a missing function is refused by Lambda: all five failed.
    let (_, failed) = service.get("/v1/projects/ops/runs?status=failed").await;
    assert_eq!(failed["items"].as_array().unwrap().len(), 5);
    let (_, none) = service.get("/v1/projects/ops/runs?status=succeeded").await;
    assert!(none["items"].as_array().unwrap().is_empty());
    let (status, body) = service.get("/v1/projects/ops/runs?status=sleeping").await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("status")));
    let (_, projects) = service.get("/v1/projects").await;
    let names: Vec<_> = projects["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "ops"]);
    service.stop().await;
}

#[sqlx::test]
async fn saved_steps_are_listed_by_name_a_page_at_a_time(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let step =
        |n: u32| json!({"step": {"type": "lambda_invoke", "function_name": format!("fn-{n}"), "payload": {"n": n}}});
    for (i, name) in ["charlie", "alpha", "bravo"].iter().enumerate() {
        let status = service
            .put_json(&format!("/v1/projects/default/steps/{name}"), &step(i as u32))
            .await;
        assert_eq!(status, 201);
    }
    let (status, first) = service.get("/v1/projects/default/steps?limit=2").await;
    assert_eq!(status, 200, "{first}");
    let names: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "bravo"]);
    assert_eq!(first["items"][0]["project"], "default");
    assert_eq!(first["items"][0]["step"]["function_name"], "fn-1");
    assert_eq!(first["items"][0]["step"]["payload"], json!({"n": 1}));
    let cursor = first["next_cursor"].as_str().unwrap();
    let (status, second) = service
        .get(&format!("/v1/projects/default/steps?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["name"], "charlie");
    assert!(second["next_cursor"].is_null(), "{second}");
    let (status, body) = service.get("/v1/projects/default/steps?limit=0").await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("limit")));
    let (status, body) = service.get("/v1/projects/default/steps?cursor=a%20b").await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("cursor")));
    let (status, _) = service.get("/v1/projects/nowhere/steps").await;
    assert_eq!(status, 404);
    service.stop().await;
}

#[sqlx::test]
async fn unknown_runs_are_404_and_health_answers(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    for path in [
        "/v1/runs/00000000-0000-0000-0000-000000000000",
        "/v1/runs/not-a-uuid",
        "/v1/runs/00000000-0000-0000-0000-000000000000/logs",
    ] {
        let (status, body) = service.get(path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    assert_eq!(service.get("/healthz").await.0, 200);
    assert_eq!(service.get("/readyz").await.0, 200);
    let (status, spec) = service.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(spec["paths"]["/v1/projects/{project}/runs"]["post"].is_object());
    service.stop().await;
}

/// The spec and the router come from one route list: each operation the spec documents
/// is served at its path and method (a handler answers, not the router's "no such route"
/// 404 or its 405), the key storage's many-segment path included.
#[sqlx::test]
async fn every_operation_in_the_spec_is_served(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let (status, spec) = service.get("/openapi.json").await;
    assert_eq!(status, 200);
    let mut operations = 0;
    for (template, item) in spec["paths"].as_object().unwrap() {
        // Values of the right form that name nothing: a handler answers 404 for them.
        let path = template
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{project}", "no-such-project")
            .replace("{name}", "no-such-step")
            .replace("{callback_id}", "no-such-callback")
            .replace("{path}", "no/such/key");
        assert!(
            !path.contains('{'),
            "{template} has a parameter this test does not fill"
        );
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = service
                .http
                .request(method.clone(), format!("{}{path}", service.url))
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            let body: serde_json::Value = answer.json().await.unwrap_or_default();
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(
                status != 405 && !message.contains("no such route"),
                "{method} {template}: {status} {body}"
            );
            operations += 1;
        }
    }
    assert!(operations >= 29, "the spec lists {operations} operations");
    service.stop().await;
}

/// The committed spec is what the code generates (`UPDATE_OPENAPI=1 cargo test` rewrites it).
#[test]
fn the_committed_openapi_spec_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let generated = lambda_steps::http::openapi_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run UPDATE_OPENAPI=1 cargo test --test it the_committed_openapi_spec_is_current"
    );
}
