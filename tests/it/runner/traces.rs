//! OpenTelemetry traces, received by a collector written here on the OTLP protobuf
//! definitions: a run submitted on one replica and run on another is one trace, continuing
//! the caller's `traceparent`, with a span per phase; the Invoke carries the trace into the
//! function (`_X_AMZN_TRACE_ID` on the engine, `X-Amzn-Trace-Id` on the wire); and a
//! collector that cannot be reached changes nothing in a run.

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::browser::Browser;
use crate::support::otlp::{Collector, ReceivedSpan, named};
use crate::support::service::{ADMIN_TOKEN, ServeProcess, authorized};

/// The caller's trace, as an orchestrator would send it.
pub(super) const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(super) const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// Returns the trace header Lambda gave it.
const TRACE_ID_FUNCTION: &str =
    "import os\n\ndef handler(event, context):\n    return {'trace': os.environ.get('_X_AMZN_TRACE_ID')}\n";

/// Holds its worker for a minute (cancelled at the end).
const SLEEPER: &str = "import time\n\ndef handler(event, context):\n    time.sleep(60)\n";

pub(super) fn python(code: &str) -> Value {
    json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": code,
           "handler": "lambda_function.handler", "timeout_seconds": 90})
}

/// A Lambda endpoint that notes each Invoke's `X-Amzn-Trace-Id`.
pub(super) async fn header_noting_lambda() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let noted = seen.clone();
    let router = axum::Router::new().route(
        "/2015-03-31/functions/{name}/invocations",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let noted = noted.clone();
            async move {
                let header = headers
                    .get("x-amzn-trace-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                noted.lock().push(header.to_string());
                // A tail without its START line: the service reads the whole log (and this
                // endpoint has no CloudWatch Logs to give it).
                let tail = base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    "the end of a long log\nREPORT RequestId: fake-request-1\tDuration: 1.00 ms\n",
                );
                (
                    [
                        ("x-amz-executed-version", "$LATEST".to_string()),
                        ("x-amzn-requestid", "fake-request-1".to_string()),
                        ("x-amz-log-result", tail),
                    ],
                    "{\"ok\":true}",
                )
            }
        }),
    );
    (crate::support::fake_endpoint(router).await, seen)
}

pub(super) fn replica_env<'a>(collector: &'a str, protocol: &'a str, instance: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_RESOURCE_ATTRIBUTES", instance),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ]
}

async fn submit_traced(api: &str, project: &str, step: Value) -> Value {
    let response = authorized(ADMIN_TOKEN)
        .post(format!("{api}/v1/projects/{project}/runs"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .json(&json!({"step": step}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    response.json().await.unwrap()
}

pub(super) async fn wait_finished(api: &str, id: &str) -> Value {
    let http = authorized(ADMIN_TOKEN);
    for _ in 0..1200 {
        let run: Value = http
            .get(format!("{api}/v1/runs/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !matches!(run["status"].as_str(), Some("queued" | "running")) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} did not finish");
}

pub(super) fn child_of<'a>(spans: &'a [ReceivedSpan], name: &str, parent: &ReceivedSpan) -> &'a ReceivedSpan {
    let span = named(spans, name);
    assert_eq!(
        span.parent_span_id, parent.span_id,
        "{name} is a child of {}: {span:#?}",
        parent.name
    );
    span
}

#[sqlx::test]
async fn runs_submitted_on_one_replica_and_run_on_another_are_one_trace_continuing_the_callers(db: PgPool) {
    let collector = Collector::start().await;
    let (fake_lambda, headers_seen) = header_noting_lambda().await;
    let work = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    // The submitting replica exports over gRPC, the running one over HTTP/protobuf.
    let env_a = replica_env(&collector.url, "grpc", "service.instance.id=replica-a");
    let a = ServeProcess::start(&db, work[0].path(), &["--workers", "1"], &env_a).await;
    // Replica A's one worker is kept busy, so the runs it takes the submits of run on B.
    let blocker = a.submit(python(SLEEPER)).await;
    let http = authorized(ADMIN_TOKEN);
    for _ in 0..600 {
        let run: Value = http
            .get(format!("{}/v1/runs/{blocker}", a.api))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if run["status"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let env_b = replica_env(&collector.url, "http/protobuf", "service.instance.id=replica-b");
    let b = ServeProcess::start(&db, work[1].path(), &[], &env_b).await;
    for (method, path, body) in [
        ("PUT", "/v1/projects/fake", json!({})),
        (
            "PUT",
            "/v1/projects/fake/settings",
            json!({"project.aws.endpoint_url": fake_lambda}),
        ),
    ] {
        let request = http
            .request(method.parse().unwrap(), format!("{}{path}", a.api))
            .json(&body);
        let status = request.send().await.unwrap().status();
        assert!(status.is_success(), "{method} {path}: {status}");
    }

    // A custom-code run: its function reads the trace Lambda gives it.
    let submitted = submit_traced(&a.api, "default", python(TRACE_ID_FUNCTION)).await;
    assert_eq!(
        submitted["trace_id"], CALLER_TRACE,
        "the caller's trace continues: {submitted}"
    );
    let custom_code_run = submitted["id"].as_str().unwrap().to_string();
    let run = wait_finished(&a.api, &custom_code_run).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["trace_id"], CALLER_TRACE);
    let function_sees = run["result"]["payload"]["trace"].as_str().unwrap().to_string();
    assert!(
        function_sees.starts_with(&format!("Root=1-{}-{};Parent=", &CALLER_TRACE[..8], &CALLER_TRACE[8..])),
        "_X_AMZN_TRACE_ID names the run's trace: {function_sees}"
    );
    let spans = collector
        .wait_for_trace(CALLER_TRACE, |spans| {
            [
                "POST",
                "submit run",
                "queue wait",
                "run",
                "claimed",
                "creating",
                "invoking",
                "Lambda Invoke",
                "returned",
                "cleaned_up",
            ]
            .iter()
            .all(|n| spans.iter().any(|s| s.name == *n))
        })
        .await;
    let instance = |span: &ReceivedSpan| span.resource.get("service.instance.id").cloned().unwrap_or_default();
    let request = named(&spans, "POST");
    assert_eq!(
        request.parent_span_id, CALLER_SPAN,
        "the submit continues the caller's span"
    );
    assert_eq!((request.kind, instance(request).as_str()), (2, "replica-a"));
    assert_eq!(request.resource["service.name"], "lambda-steps");
    let submit = child_of(&spans, "submit run", request);
    assert_eq!(submit.attributes["project"], "default");
    let wait = child_of(&spans, "queue wait", submit);
    let worker_run = child_of(&spans, "run", submit);
    assert_eq!(
        instance(worker_run),
        "replica-b",
        "the run's spans come from the replica that ran it"
    );
    assert_eq!(worker_run.attributes["run.id"], run["id"].as_str().unwrap());
    assert_eq!(worker_run.attributes["step.type"], "lambda_custom_code");
    assert!(
        wait.end_unix_nano <= worker_run.start_unix_nano + 50_000_000,
        "the wait ends at the claim"
    );
    let mut phases = Vec::new();
    for phase in ["claimed", "creating", "invoking", "returned", "cleaned_up"] {
        let span = child_of(&spans, phase, worker_run);
        assert_eq!(span.attributes["lambda_steps.phase"], phase);
        phases.push(span.start_unix_nano);
    }
    assert!(phases.is_sorted(), "the phases follow one another");
    let invoke = child_of(&spans, "Lambda Invoke", named(&spans, "invoking"));
    assert_eq!(invoke.kind, 3, "a client span");
    assert_eq!(
        invoke.attributes["faas.invoked_name"],
        run["function_name"].as_str().unwrap()
    );
    assert_eq!(invoke.attributes["faas.invoked_provider"], "aws");
    assert_eq!(
        invoke.attributes["aws.request_id"],
        run["result"]["request_id"].as_str().unwrap()
    );
    assert_eq!(invoke.attributes["http.response.status_code"], "200");
    assert!(
        function_sees.contains(&format!("Parent={}", invoke.span_id)),
        "the function's parent is the Invoke's span: {function_sees}"
    );

    // An Invoke run, to a Lambda endpoint that notes the trace header it is sent.
    let submitted = submit_traced(
        &a.api,
        "fake",
        json!({"type": "lambda_invoke", "function_name": "noted"}),
    )
    .await;
    let run = wait_finished(&a.api, submitted["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let invoke_run = collector
        .wait_for_trace(CALLER_TRACE, |spans| {
            ["returned", "run", "invoking", "claimed", "Lambda Invoke"]
                .iter()
                .all(|n| spans.iter().filter(|s| s.name == *n).count() == 2)
                && spans.iter().any(|s| s.name == "log fetch")
        })
        .await;
    let worker_run = invoke_run
        .iter()
        .find(|s| s.name == "run" && s.attributes.get("step.type").map(String::as_str) == Some("lambda_invoke"))
        .expect("the Invoke run's span");
    assert_eq!(instance(worker_run), "replica-b");
    let of_run: Vec<ReceivedSpan> = invoke_run
        .iter()
        .filter(|s| s.parent_span_id == worker_run.span_id)
        .cloned()
        .collect();
    let names: Vec<&str> = of_run.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| ["claimed", "invoking", "returned"].contains(n))
            .count(),
        3,
        "{names:?}"
    );
    assert!(
        !names.contains(&"creating") && !names.contains(&"cleaned_up"),
        "{names:?}"
    );
    let invoke = invoke_run
        .iter()
        .find(|s| s.name == "Lambda Invoke" && s.parent_span_id == named(&of_run, "invoking").span_id)
        .expect("the Invoke's span under invoking");
    assert_eq!(invoke.attributes["faas.invoked_name"], "noted");
    assert_eq!(invoke.attributes["aws.request_id"], "fake-request-1");
    let fetch = invoke_run
        .iter()
        .find(|s| s.name == "log fetch" && s.parent_span_id == named(&of_run, "returned").span_id)
        .expect("the whole log's fetch under returned");
    assert_eq!(fetch.attributes["aws.request_id"], "fake-request-1");
    let sent = headers_seen.lock().clone();
    assert_eq!(
        sent,
        [format!(
            "Root=1-{}-{};Parent={};Sampled=1",
            &CALLER_TRACE[..8],
            &CALLER_TRACE[8..],
            invoke.span_id
        )],
        "X-Amzn-Trace-Id is the Invoke span in X-Ray's form"
    );
    super::traces_documented::assert_on_the_tracing_page(&invoke_run);

    // The phase histograms are on /metrics.
    let metrics = crate::support::service_client::metrics(&http, &b.api).await;
    for phase in ["queued", "claimed", "creating", "invoking", "returned", "cleaned_up"] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("lambda_steps_run_phase_seconds_count{")
                    && l.contains(&format!("phase=\"{phase}\""))),
            "{phase}: {metrics}"
        );
    }

    // The console's run page shows the trace id.
    let browser = Browser::open(&a.api).await;
    browser.goto("/runs").await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.goto(&format!("/runs/{custom_code_run}")).await;
    assert_eq!(browser.wait_text("#trace-id", |t| !t.is_empty()).await, CALLER_TRACE);
    browser.finish(ADMIN_TOKEN, &[]).await;
    let _ = http.post(format!("{}/v1/runs/{blocker}/cancel", a.api)).send().await;
}

#[sqlx::test]
async fn a_collector_that_cannot_be_reached_changes_nothing_in_a_run_and_is_said_once(db: PgPool) {
    // A port that takes connections and never answers, and one that refuses them.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let refused_url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let (fake_lambda, _) = header_noting_lambda().await;
    for (endpoint, protocol) in [(&silent_url, "grpc"), (&refused_url, "http/protobuf")] {
        let work = tempfile::tempdir().unwrap();
        let env = [
            ("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ];
        let service = ServeProcess::start(&db, work.path(), &["--aws-endpoint-url", &fake_lambda], &env).await;
        for _ in 0..5 {
            let run = service
                .run(json!({"type": "lambda_invoke", "function_name": "noted"}))
                .await;
            assert_eq!(run["status"], "succeeded", "{protocol}: {run}");
            assert!(run["trace_id"].is_string(), "the run still has its trace id: {run}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let log = std::fs::read_to_string(&service.log).unwrap();
        assert_eq!(
            log.matches("the trace collector cannot be reached").count(),
            1,
            "{protocol}: said once:\n{log}"
        );
        drop(service);
    }
    drop(silent);
}
