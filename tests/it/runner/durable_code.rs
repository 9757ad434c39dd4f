//! A `lambda_custom_code` step with `durable: true`: its function is created with a
//! `DurableConfig` and its execution followed as an Invoke step on a durable function is
//! (the operations in the run's log, its result the run's), the function deleted once the
//! execution ended; a run given back while the execution waits re-attaches to the same
//! execution; Ruby is refused at submit, and Node.js by the engine, saying why.

use serde_json::{Value, json};
use sqlx::PgPool;

use super::durable_step::{cancel, engine, executions, re_attached_and_succeeded, submit_until};
use crate::support::function_of;
use crate::support::service::TestService;

/// A step "add" that prints what it adds, then a wait "pause" of the payload's `wait`
/// seconds.
const ADDER: &str = r#"
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

def add(event):
    print(f"adding {event['a']} and {event['b']}")
    return event["a"] + event["b"]

@durable_execution
def lambda_handler(event, context: DurableContext):
    total = context.step(lambda _: add(event), name="add")
    context.wait(Duration.from_seconds(event["wait"]), name="pause")
    return {"total": total}
"#;

fn durable_step(wait: u32) -> Value {
    json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": ADDER, "durable": true,
           "durable_config": {"execution_timeout": 600}, "payload": {"a": 2, "b": 3, "wait": wait}})
}

/// The step's one print, as many times as the run's log has it (once: a step runs once,
/// however often the execution's invocations replay it).
fn printed(log: &[String]) -> usize {
    log.iter().filter(|l| l.ends_with("adding 2 and 3")).count()
}

/// Asserts `expected` are lines of `log` (each the start of one), in this order.
fn assert_in_order(log: &[String], expected: &[&str]) {
    let mut at = 0;
    for line in expected {
        let found = log[at..].iter().position(|l| l.starts_with(line));
        at += found.unwrap_or_else(|| panic!("{line:?} missing, or out of order: {log:#?}")) + 1;
    }
}

#[sqlx::test]
async fn a_durable_custom_code_step_follows_its_execution_then_deletes_the_function(db: PgPool) {
    let service = TestService::start_durable(db, &[]).await;

    let (run, log) = service.run_successfully("default", durable_step(2)).await;
    let id = run["id"].as_str().unwrap();
    let function = function_of(&run);
    assert_eq!(run["result"]["payload"], json!({"total": 5}), "{run}");
    assert_eq!(printed(&log), 1, "the function's print, once: {log:#?}");
    let arn = run["result"]["durable_execution_arn"].as_str().unwrap_or_default();
    assert!(
        arn.contains(&format!("function:{function}:$LATEST/durable-execution/{id}/")),
        "{run}"
    );
    assert_in_order(
        &log,
        &[
            "as a durable function: its execution may last 600 s, its history is kept 1 day(s)",
            &format!("function {function} is Active"),
            &format!("{function} is a durable function: starting (or re-attaching to) its execution named {id}"),
            "durable: execution started",
            "durable: step \"add\" succeeded (attempt 1): 5",
            "durable: wait \"pause\" started (2 s)",
            "durable: wait \"pause\" succeeded (2 s)",
            "durable: execution succeeded",
            "the durable execution ended SUCCEEDED",
            &format!("deleted function {function}"),
        ],
    );
    eprintln!("run started {} finished {}", run["started_at"], run["finished_at"]);
    let gone = service
        .engine
        .client
        .get_function()
        .function_name(&function)
        .send()
        .await;
    assert!(gone.is_err(), "the function is deleted: {gone:?}");
    service.stop().await;
}

#[sqlx::test]
async fn a_durable_custom_code_run_given_back_while_it_waits_re_attaches_to_its_execution(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let first =
        TestService::start_with_engine(db.clone(), engine(dir.path()).await, tempfile::tempdir().unwrap(), &[]).await;
    // Kept, so that its executions can be listed once the run is over.
    let mut step = durable_step(4);
    step["keep_function"] = json!(true);
    let id = submit_until(&first, step, "durable: wait \"pause\" started").await;

    let engine = first.stop_keeping_engine().await;
    let second = TestService::start_with_engine(db, engine, tempfile::tempdir().unwrap(), &[]).await;
    let run = re_attached_and_succeeded(&second, &id).await;
    let function = function_of(&run);
    let log = second.log(&id).await;
    // Printed during the first attempt, read by one of the two attempts, written once.
    assert_eq!(
        printed(&log),
        1,
        "the function's print, once over both attempts: {log:#?}"
    );
    assert_in_order(
        &log,
        &[
            &format!("function {function} is kept while its durable execution may run"),
            &format!("function {function} exists: an earlier attempt of this run created it"),
            "durable: execution succeeded",
            &format!("kept function {function}"),
        ],
    );
    assert_eq!(
        executions(&second.engine, &function).await,
        ["SUCCEEDED"],
        "one execution, not two"
    );
    second.stop().await;
}

#[sqlx::test]
async fn cancelling_a_durable_custom_code_run_stops_the_execution_and_deletes_the_function(db: PgPool) {
    let service = TestService::start_durable(db, &[]).await;
    let id = submit_until(&service, durable_step(120), "durable: wait \"pause\" started").await;
    let function = function_of(&cancel(&service, &id).await);
    assert_in_order(
        &service.log(&id).await,
        &["stopped durable execution", &format!("deleted function {function}")],
    );
    service.stop().await;
}

#[sqlx::test]
async fn ruby_is_refused_at_submit_and_nodejs_by_the_engine(db: PgPool) {
    let service = TestService::start_durable(db, &[]).await;
    let ruby = json!({"type": "lambda_custom_code", "runtime": "ruby3.3", "durable": true,
                      "code": "def lambda_handler(event:, context:) = 1"});
    let (status, body) = service.submit("default", ruby).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "step.durable", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("do not support Ruby"),
        "{body}"
    );
    let stray = json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": "x",
                       "durable_config": {"execution_timeout": 60}});
    let (status, body) = service.submit("default", stray).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("step.durable_config")),
        "{body}"
    );

    // AWS runs durable Node.js functions; the engine's runtimes carry only the Python SDK.
    let node = json!({"type": "lambda_custom_code", "runtime": "nodejs22.x", "durable": true,
                      "code": "export const handler = async () => 1;"});
    let run = service.run(node).await;
    assert_eq!(run["status"], "failed", "{run}");
    let message = run["error"]["message"].as_str().unwrap_or_default();
    // One line, as the guide quotes it: Lambda's code and message, not the SDK's dump.
    assert!(
        message.starts_with(
            "CreateFunction failed: InvalidParameterValueException: The embedded Lambda engine runs durable functions on Python runtimes only"
        ),
        "{run}"
    );
    service.stop().await;
}
