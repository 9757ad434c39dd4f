//! A run handed straight to an idle worker at its submit (queue/handoff.rs: stored claimed,
//! no claim statement) is traced as a claimed one is: it continues the caller's
//! `traceparent`, has every phase as a span, and its function, calling AWS through the SDK
//! the runtime ships, carries the same trace to what it calls. Every span and attribute of
//! that trace is on the operations guide's tracing page.

use serde_json::{Value, json};
use sqlx::PgPool;

use super::traces::{CALLER_SPAN, child_of, header_noting_lambda, python, replica_env, wait_finished};
use crate::support::otlp::{Collector, ReceivedSpan, named};
use crate::support::runtimes_dir;
use crate::support::service::{ADMIN_TOKEN, ServeProcess, authorized};

/// Calls Lambda through boto3 (at the project's function endpoint, with keys of its own:
/// the project gives it none) and returns the trace header Lambda gave it.
const CALLS_LAMBDA: &str = r#"import os
import boto3

def handler(event, context):
    client = boto3.client("lambda", aws_access_key_id="AKIDTRACED", aws_secret_access_key="traced-secret")
    client.invoke(FunctionName="noted", Payload=b"{}")
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
"#;

/// Whether the submit handed the run over: the submit's own statement stored it claimed,
/// so it started in the transaction that created it (a claim starts it in a later one).
async fn handed_over(db: &PgPool, id: &str) -> bool {
    sqlx::query_scalar("SELECT started_at = created_at FROM runs WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap()
}

/// A trace id of its own for each try.
fn caller_trace(attempt: usize) -> String {
    format!("5ca1ab1e00000000000000000000{attempt:04x}")
}

#[sqlx::test]
async fn a_run_handed_to_an_idle_worker_continues_the_callers_trace_with_every_phase(db: PgPool) {
    let collector = Collector::start().await;
    let (function_endpoint, headers_seen) = header_noting_lambda().await;
    let work = tempfile::tempdir().unwrap();
    let runtimes = runtimes_dir().display().to_string();
    let mut env = replica_env(&collector.url, "http/protobuf", "service.instance.id=idle");
    env.push(("LAMBDA_STEPS_RUNTIMES_DIR", &runtimes));
    let service = ServeProcess::start(&db, work.path(), &[], &env).await;
    let http = authorized(ADMIN_TOKEN);
    let set = http
        .put(format!("{}/v1/projects/default/settings", service.api))
        .json(&json!({"project.aws.function_endpoint_url": function_endpoint}))
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success(), "{}", set.status());

    // The pool hands runs over once its first claim found the queue empty: an idle
    // replica takes the first submit that way, or the next.
    let mut handed = None;
    for attempt in 0..5 {
        let trace = caller_trace(attempt);
        let response = http
            .post(format!("{}/v1/projects/default/runs", service.api))
            .header("traceparent", format!("00-{trace}-{CALLER_SPAN}-01"))
            .json(&json!({"step": python(CALLS_LAMBDA)}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        let submitted: Value = response.json().await.unwrap();
        let id = submitted["id"].as_str().unwrap().to_string();
        let run = wait_finished(&service.api, &id).await;
        assert_eq!(run["status"], "succeeded", "{run}\n{:#?}", service.log(&id).await);
        if handed_over(&db, &id).await {
            handed = Some((trace, run));
            break;
        }
    }
    let (trace, run) = handed.expect("an idle replica hands a submit to a worker");
    assert_eq!(run["trace_id"], trace.as_str(), "the caller's trace continues: {run}");

    let phases = ["claimed", "creating", "invoking", "returned", "cleaned_up"];
    let spans = collector
        .wait_for_trace(&trace, |spans| {
            ["POST", "submit run", "queue wait", "run", "Lambda Invoke"]
                .iter()
                .chain(&phases)
                .all(|n| spans.iter().any(|s| s.name == *n))
        })
        .await;
    let request = named(&spans, "POST");
    assert_eq!(
        request.parent_span_id, CALLER_SPAN,
        "the submit continues the caller's span"
    );
    let submit = child_of(&spans, "submit run", request);
    child_of(&spans, "queue wait", submit);
    let worker_run = child_of(&spans, "run", submit);
    assert_eq!(worker_run.attributes["run.id"], run["id"].as_str().unwrap());
    let mut starts = Vec::new();
    for phase in phases {
        let span = child_of(&spans, phase, worker_run);
        assert_eq!(span.attributes["lambda_steps.phase"], phase);
        starts.push(span.start_unix_nano);
    }
    assert!(starts.is_sorted(), "the phases follow one another");
    let invoke: &ReceivedSpan = child_of(&spans, "Lambda Invoke", named(&spans, "invoking"));

    // The function's trace is the run's, its parent the Invoke; the SDK in it sends it on.
    let function_sees = run["result"]["payload"]["trace"].as_str().unwrap().to_string();
    assert_eq!(
        function_sees,
        format!(
            "Root=1-{}-{};Parent={};Sampled=1",
            &trace[..8],
            &trace[8..],
            invoke.span_id
        ),
        "_X_AMZN_TRACE_ID is the Invoke span in X-Ray's form"
    );
    assert_eq!(
        headers_seen.lock().clone(),
        [function_sees],
        "the function's own AWS call carries its trace header"
    );
    super::traces_documented::assert_on_the_tracing_page(&spans);
}
