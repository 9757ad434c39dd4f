//! Who may do what: the role x route matrix; revocation; webhooks with good, bad, stale
//! and missing signatures; a project's keys reaching the Lambda client on the wire; and a
//! stored secret absent from every response, run record, run log, function environment
//! and the service's own log.

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

use hmac::Mac;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::service::{ADMIN_TOKEN, ServeProcess, TestService, authorized};
use crate::support::service_client;

/// Creates a token; answers (id, token).
async fn token(service: &TestService, role: &str, project: Option<&str>) -> (String, String) {
    let response = service
        .http
        .post(format!("{}/v1/tokens", service.url))
        .json(&json!({"name": format!("{role} of {project:?}"), "role": role, "project": project}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.unwrap();
    (
        body["id"].as_str().unwrap().to_string(),
        body["token"].as_str().unwrap().to_string(),
    )
}

/// `method` to `url` with `body`: a JSON string is sent as raw text (a secret), any other
/// value as JSON.
fn request(client: &reqwest::Client, method: &str, url: &str, body: Option<Value>) -> reqwest::RequestBuilder {
    let request = client.request(method.parse().expect("an HTTP method"), url);
    match body {
        Some(Value::String(text)) => request.header("content-type", "text/plain").body(text),
        Some(json) => request.json(&json),
        None => request,
    }
}

async fn status_of(client: &reqwest::Client, method: &str, url: &str, body: Option<Value>) -> u16 {
    request(client, method, url, body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[sqlx::test]
async fn every_route_checks_the_caller_and_nothing_leaks_across_projects(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let base = service.url.clone();
    for project in ["alpha", "beta"] {
        assert_eq!(
            status_of(&service.http, "PUT", &format!("{base}/v1/projects/{project}"), None).await,
            201
        );
    }
    let (_, runner) = token(&service, "runner", Some("alpha")).await;
    let (_, reader) = token(&service, "reader", Some("alpha")).await;
    let (_, other) = token(&service, "runner", Some("beta")).await;
    let (revoked_id, revoked) = token(&service, "runner", Some("alpha")).await;
    assert_eq!(
        status_of(&service.http, "DELETE", &format!("{base}/v1/tokens/{revoked_id}"), None).await,
        204
    );

    let dry = json!({"step": {"type": "lambda_invoke", "function_name": "f", "invocation_type": "DryRun"}});
    let (_, run) = service.submit("alpha", dry["step"].clone()).await;
    let run_id = run["id"].as_str().unwrap().to_string();
    service.wait_finished(&run_id).await;

    let clients = [
        ("admin", authorized(ADMIN_TOKEN)),
        ("runner", authorized(&runner)),
        ("reader", authorized(&reader)),
        ("other", authorized(&other)),
        ("revoked", authorized(&revoked)),
        ("none", reqwest::Client::new()),
    ];
    // (method, path, body, expected for admin, runner, reader, other project, revoked, no token)
    let matrix: Vec<(&str, String, Option<Value>, [u16; 6])> = vec![
        (
            "POST",
            "/v1/projects/alpha/runs".into(),
            Some(dry.clone()),
            [202, 202, 403, 404, 401, 401],
        ),
        (
            "GET",
            "/v1/projects/alpha/runs".into(),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        (
            "GET",
            format!("/v1/runs/{run_id}"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        (
            "GET",
            format!("/v1/runs/{run_id}/logs"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        (
            "GET",
            format!("/v1/runs/{run_id}/events"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        (
            "POST",
            format!("/v1/runs/{run_id}/cancel"),
            None,
            [409, 409, 403, 404, 401, 401],
        ),
        (
            "POST",
            format!("/v1/runs/{run_id}/callbacks/cb-1"),
            Some(json!({"result": true})),
            [409, 409, 403, 404, 401, 401],
        ),
        ("GET", "/v1/projects".into(), None, [200, 200, 200, 200, 401, 401]),
        ("PUT", "/v1/projects/gamma".into(), None, [201, 403, 403, 403, 401, 401]),
        (
            "GET",
            "/v1/projects/alpha/settings".into(),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        (
            "PUT",
            "/v1/projects/alpha/settings".into(),
            Some(json!({"project.aws.region": "eu-west-1"})),
            [200, 403, 403, 403, 401, 401],
        ),
        (
            "PUT",
            "/v1/keys/team/alpha/secret".into(),
            Some(Value::String("s3cr3t-value".into())),
            [201, 403, 403, 403, 401, 401],
        ),
        (
            "GET",
            "/v1/keys/team/alpha/secret".into(),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        (
            "GET",
            "/v1/keys?prefix=team".into(),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        (
            "POST",
            "/v1/tokens".into(),
            Some(json!({"name": "x", "role": "admin"})),
            [201, 403, 403, 403, 401, 401],
        ),
        (
            "PUT",
            "/v1/projects/alpha/steps/nightly".into(),
            Some(dry.clone()),
            [201, 200, 403, 404, 401, 401],
        ),
        (
            "GET",
            "/v1/projects/alpha/steps".into(),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        (
            "POST",
            "/v1/projects/alpha/steps/nightly/runs".into(),
            Some(json!({})),
            [202, 202, 403, 404, 401, 401],
        ),
        (
            "POST",
            "/v1/projects/alpha/webhooks".into(),
            Some(json!({"step": "nightly"})),
            [201, 403, 403, 403, 401, 401],
        ),
        (
            "DELETE",
            "/v1/keys/team/alpha/secret".into(),
            None,
            [204, 403, 403, 403, 401, 401],
        ),
        ("GET", "/metrics".into(), None, [200, 403, 403, 403, 401, 401]),
        ("GET", "/healthz".into(), None, [200; 6]),
        ("GET", "/openapi.json".into(), None, [200; 6]),
    ];
    for (method, path, body, expected) in matrix {
        for ((who, client), want) in clients.iter().zip(expected) {
            let got = status_of(client, method, &format!("{base}{path}"), body.clone()).await;
            assert_eq!(got, want, "{who} {method} {path}");
        }
    }
    // The metrics say what happened (the recorder is per process, so these are lower bounds).
    let metrics = service_client::metrics(&service.http, &base).await;
    for name in [
        "lambda_steps_runs_submitted_total{step_type=\"lambda_invoke\"}",
        "lambda_steps_runs_finished_total{status=\"failed\"}",
        "lambda_steps_queue_depth",
        "lambda_steps_runs_in_hand",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics:\n{metrics}");
    }
    // Another project's run and a run that does not exist look the same.
    let other_client = authorized(&other);
    let existing = other_client
        .get(format!("{base}/v1/runs/{run_id}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let missing = other_client
        .get(format!("{base}/v1/runs/00000000-0000-0000-0000-000000000000"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        existing.replace(&run_id, "ID"),
        missing.replace("00000000-0000-0000-0000-000000000000", "ID")
    );
    // A reader of alpha sees only alpha.
    let projects = request(&authorized(&reader), "GET", &format!("{base}/v1/projects"), None);
    let projects: Value = projects.send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> = projects["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["alpha"], "{projects}");
    service.stop().await;
}

fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[sqlx::test]
async fn webhooks_run_their_step_with_the_body_and_check_signatures(db: PgPool) {
    let service = TestService::start(db, &["--max-webhook-bytes", "1000"]).await;
    let base = service.url.clone();
    let step = json!({"step": {"type": "lambda_custom_code", "runtime": "python3.12", "code": "def lambda_handler(e, c):\n    return e\n"}});
    assert_eq!(
        status_of(
            &service.http,
            "PUT",
            &format!("{base}/v1/projects/default/steps/echo"),
            Some(step)
        )
        .await,
        201
    );
    let secret = "a-webhook-secret-of-some-length";
    let (status, signed) = service
        .post_json(
            "/v1/projects/default/webhooks",
            json!({"step": "echo", "secret": secret}),
        )
        .await;
    assert_eq!(status, 201, "{signed}");
    let (status, open) = service
        .post_json("/v1/projects/default/webhooks", json!({"step": "echo"}))
        .await;
    assert_eq!(status, 201, "{open}");
    let hook = |created: &Value| format!("{base}{}", created["url"].as_str().unwrap());
    let anonymous = reqwest::Client::new();
    let body = r#"{"alert": "disk full", "host": "db1"}"#;
    let now = chrono::Utc::now().timestamp();
    let post = |url: String, timestamp: Option<i64>, signature: Option<String>, body: String| {
        let client = anonymous.clone();
        async move {
            let mut request = client.post(url).header("content-type", "application/json").body(body);
            if let Some(t) = timestamp {
                request = request.header("X-Lambda-Steps-Timestamp", t.to_string());
            }
            if let Some(s) = signature {
                request = request.header("X-Lambda-Steps-Signature", s);
            }
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or_default(),
            )
        }
    };
    let (status, run) = post(hook(&signed), Some(now), Some(sign(secret, now, body)), body.into()).await;
    assert_eq!(status, 202, "{run}");
    let done = service.wait_finished(run["id"].as_str().unwrap()).await;
    assert_eq!(
        done["result"]["payload"],
        json!({"alert": "disk full", "host": "db1"}),
        "the body became the event: {done}"
    );

    let stale = now - 3600;
    let nowhere = format!("{base}/v1/hooks/{}", uuid::Uuid::new_v4());
    // (case, hook, timestamp, signature, body, status)
    let calls = [
        (
            "signed with another secret",
            hook(&signed),
            Some(now),
            Some(sign("wrong-secret-wrong-secret", now, body)),
            body.to_string(),
            401,
        ),
        (
            "the signature of another body",
            hook(&signed),
            Some(now),
            Some(sign(secret, now, "{}")),
            body.into(),
            401,
        ),
        ("no signature", hook(&signed), None, None, body.into(), 401),
        (
            "replayed an hour later",
            hook(&signed),
            Some(stale),
            Some(sign(secret, stale, body)),
            body.into(),
            401,
        ),
        (
            "unsigned, to a hook without a secret",
            hook(&open),
            None,
            None,
            body.into(),
            202,
        ),
        (
            "a body over --max-webhook-bytes",
            hook(&open),
            None,
            None,
            "x".repeat(2000),
            413,
        ),
        ("to a hook that does not exist", nowhere, None, None, body.into(), 404),
    ];
    for (case, url, timestamp, signature, body, expected) in calls {
        let (status, answer) = post(url, timestamp, signature, body).await;
        assert_eq!(status, expected, "{case}: {answer}");
    }
    service.stop().await;
}

#[sqlx::test]
async fn a_projects_keys_reach_the_lambda_client_and_the_secret_appears_nowhere(db: PgPool) {
    const SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY";
    // A Lambda endpoint that keeps the Authorization header of each Invoke.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let router = axum::Router::new()
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(
                |axum::extract::State(seen): axum::extract::State<Arc<Mutex<Vec<String>>>>,
                 headers: axum::http::HeaderMap| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    seen.lock().push(auth);
                    ([("x-amz-executed-version", "$LATEST")], r#"{"ok": true}"#)
                },
            ),
        )
        .with_state(seen.clone());
    let fake = crate::support::fake_endpoint(router).await;

    // The real binary, so that its own log output can be searched for the secret.
    let work = tempfile::tempdir().unwrap();
    let env = [("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN), ("RUST_LOG", "debug")];
    let mut service = ServeProcess::start(&db, work.path(), &["--poll-ms", "100"], &env).await;
    let (base, log_path) = (service.api.clone(), service.log.clone());
    let admin = authorized(ADMIN_TOKEN);
    let mut responses = String::new();
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let request = request(&admin, method, &format!("{base}{path}"), body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    for (method, path, body) in [
        ("PUT", "/v1/projects/team-a".to_string(), None),
        (
            "PUT",
            "/v1/keys/team-a/aws/secret_key".to_string(),
            Some(Value::String(SECRET.into())),
        ),
        ("GET", "/v1/keys/team-a/aws/secret_key".to_string(), None),
        ("GET", "/v1/keys?prefix=team-a".to_string(), None),
        (
            "PUT",
            "/v1/projects/team-a/settings".to_string(),
            Some(
                json!({"project.aws.access_key": "AKIDTEAMA", "project.aws.secret_key_path": "team-a/aws/secret_key", "project.aws.endpoint_url": fake}),
            ),
        ),
        ("GET", "/v1/projects/team-a/settings".to_string(), None),
    ] {
        let (status, text) = call(method, path.clone(), body).await;
        assert!(status < 300, "{method} {path}: {status} {text}");
        responses.push_str(&text);
    }
    let settings: Value =
        serde_json::from_str(&call("GET", "/v1/projects/team-a/settings".into(), None).await.1).unwrap();
    assert_eq!(
        settings["project.aws.access_key"],
        json!({"value": "AKIDTEAMA", "source": "project"})
    );
    assert_eq!(settings["project.aws.region"]["source"], "default");

    let (_, submitted) = call(
        "POST",
        "/v1/projects/team-a/runs".into(),
        Some(json!({"step": {"type": "lambda_invoke", "function_name": "any"}})),
    )
    .await;
    let id = serde_json::from_str::<Value>(&submitted).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The default project runs custom code on the embedded engine and prints its environment.
    let (_, printed) = call(
        "POST",
        "/v1/projects/default/runs".into(),
        Some(json!({"step": {"type": "lambda_custom_code", "runtime": "python3.12", "code": "import os\ndef lambda_handler(e, c):\n    print(dict(os.environ))\n    return sorted(os.environ)\n"}})),
    )
    .await;
    let printed_id = serde_json::from_str::<Value>(&printed).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for run in [&id, &printed_id] {
        let mut finished = Value::Null;
        for _ in 0..400 {
            finished = serde_json::from_str(&call("GET", format!("/v1/runs/{run}"), None).await.1).unwrap();
            if !matches!(finished["status"].as_str(), Some("queued" | "running")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(finished["status"], "succeeded", "{finished}");
        responses.push_str(&finished.to_string());
        responses.push_str(&call("GET", format!("/v1/runs/{run}/logs?limit=5000"), None).await.1);
    }
    let auth = seen.lock().clone();
    assert_eq!(auth.len(), 1);
    assert!(
        auth[0].contains("Credential=AKIDTEAMA/"),
        "the project's access key signed the Invoke: {}",
        auth[0]
    );

    let _ = service.child.kill().await;
    let service_log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        service_log.contains("secret stored"),
        "the log was captured:\n{}",
        &service_log[..service_log.len().min(3000)]
    );
    let stored_runs: String = sqlx::query_scalar(
        "SELECT string_agg(step::text || coalesce(result::text, '') || coalesce(error::text, ''), '') FROM runs",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let stored_logs: String = sqlx::query_scalar("SELECT string_agg(message, '') FROM run_logs")
        .fetch_one(&db)
        .await
        .unwrap();
    for (place, text) in [
        ("responses", &responses),
        ("service log", &service_log),
        ("run records", &stored_runs),
        ("run logs", &stored_logs),
    ] {
        assert!(!text.contains(SECRET), "the secret appears in the {place}");
    }
    assert!(
        stored_logs.contains("AWS_LAMBDA_FUNCTION_NAME"),
        "the function printed its environment"
    );
}
