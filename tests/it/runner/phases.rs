//! Every line the runner writes carries its phase, as a field of the log entry and of the
//! SSE `log` event, in the order a run passes them; the function's own lines carry none.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::service::TestService;
use crate::support::service_client::read_run_events;

#[sqlx::test]
async fn each_runner_line_carries_its_phase_in_the_log_and_in_the_event_stream(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let run = service
        .run(json!({"type": "lambda_custom_code", "runtime": "python3.12",
                    "code": "def lambda_handler(event, context):\n    print('printed')\n    return 1\n"}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let id = run["id"].as_str().unwrap();
    let (_, page) = service.get(&format!("/v1/runs/{id}/logs?limit=5000")).await;
    let entries = page["items"].as_array().unwrap().clone();
    let runner_phases = |entries: &[Value]| -> Vec<String> {
        let mut phases: Vec<String> = Vec::new();
        for entry in entries.iter().filter(|e| e["source"] == "runner") {
            let phase = entry["phase"]
                .as_str()
                .unwrap_or_else(|| panic!("a runner line without its phase: {entry}"));
            if phases.last().map(String::as_str) != Some(phase) {
                phases.push(phase.to_string());
            }
        }
        phases
    };
    assert_eq!(
        runner_phases(&entries),
        [
            "queued",
            "claimed",
            "creating",
            "invoking",
            "returned",
            "cleaned_up",
            "finished"
        ],
        "{entries:#?}"
    );
    let printed = entries
        .iter()
        .find(|e| e["message"] == "printed")
        .expect("the function's line");
    assert_eq!(printed["source"], "function");
    assert!(printed.get("phase").is_none_or(Value::is_null), "{printed}");
    // The event stream sends the same entries.
    let events = read_run_events(
        &service.http,
        &service.url,
        id,
        Some(0),
        Duration::from_secs(30),
        |_| false,
    )
    .await;
    let streamed: Vec<Value> = events
        .iter()
        .filter(|e| e.event.event == "log")
        .map(|e| e.json())
        .collect();
    assert_eq!(runner_phases(&streamed), runner_phases(&entries));
    service.stop().await;
}
