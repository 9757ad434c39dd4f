//! The function's side of a run's trace, with no caller's trace to continue: the trace the
//! service starts at the submit is the one the function on the embedded engine finds in
//! `_X_AMZN_TRACE_ID`, the run's `trace_id`, and the trace of every span of the run.

use serde_json::Value;
use sqlx::PgPool;

use super::traces::{child_of, python, replica_env};
use crate::support::otlp::{Collector, named};
use crate::support::service::ServeProcess;

/// Returns the trace header Lambda gave it, as the X-Ray SDK and boto3 read it.
const RETURNS_TRACE: &str = "import os\n\ndef handler(event, context):\n    return os.environ['_X_AMZN_TRACE_ID']\n";

/// The W3C trace id and the parent span of an X-Ray `Root=1-XXXXXXXX-YYYY...;Parent=...`.
fn xray_trace_and_parent(header: &str) -> (String, String) {
    let field = |name: &str| {
        header
            .split(';')
            .find_map(|f| f.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {header:?}"))
            .to_string()
    };
    let root = field("Root=1-");
    (root.replace('-', ""), field("Parent="))
}

#[sqlx::test]
async fn a_function_on_the_embedded_engine_finds_the_trace_of_its_runs_spans(db: PgPool) {
    let collector = Collector::start().await;
    let work = tempfile::tempdir().unwrap();
    let env = replica_env(&collector.url, "grpc", "service.instance.id=alone");
    let service = ServeProcess::start(&db, work.path(), &[], &env).await;

    let run: Value = service.run(python(RETURNS_TRACE)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let id = run["id"].as_str().unwrap();
    let (function_trace, function_parent) = xray_trace_and_parent(run["result"]["payload"].as_str().unwrap());

    // The run's spans, found by the run's id, not by the trace the test expects.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let trace = loop {
        let worker_run = collector
            .spans()
            .into_iter()
            .find(|s| s.name == "run" && s.attributes.get("run.id").map(String::as_str) == Some(id));
        if let Some(span) = worker_run {
            break span.trace_id;
        }
        assert!(std::time::Instant::now() < deadline, "no span of run {id} came");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let spans = collector
        .wait_for_trace(&trace, |spans| {
            ["POST", "submit run", "run", "invoking", "Lambda Invoke", "cleaned_up"]
                .iter()
                .all(|n| spans.iter().any(|s| s.name == *n))
        })
        .await;
    assert_eq!(
        named(&spans, "POST").parent_span_id,
        "",
        "a trace of its own, begun at the submit"
    );
    assert_eq!(run["trace_id"], trace.as_str(), "the run names its spans' trace");
    assert_eq!(function_trace, trace, "the function finds its run's trace");
    let invoke = child_of(&spans, "Lambda Invoke", named(&spans, "invoking"));
    assert_eq!(function_parent, invoke.span_id, "its parent is the Invoke's span");
}
