//! Live function output: what a custom-code function prints reaches the run's log (and an
//! SSE reader) while it runs, each line once, in order, with the time it was printed and
//! `source: function`; a long print and a timeout lose nothing.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::service::TestService;
use crate::support::service_client::{self, read_run_events};

const PYTHON: &str = "import time\ndef lambda_handler(e, c):\n    for i in range(12):\n        print('tick', i, int(time.time() * 1000))\n        time.sleep(0.25)\n    return 'done'\n";
const NODE: &str = "export const handler = async () => {\n  for (let i = 0; i < 12; i++) {\n    console.log('tick', i, Date.now());\n    await new Promise((r) => setTimeout(r, 250));\n  }\n  return 'done';\n};\n";
const RUBY: &str = "def lambda_handler(event:, context:)\n  12.times do |i|\n    puts \"tick #{i} #{(Time.now.to_f * 1000).to_i}\"\n    sleep 0.25\n  end\n  'done'\nend\n";

/// Every `log` event of a run's SSE stream with the epoch ms it arrived, until `end`;
/// and the ms the `end` event arrived.
async fn follow_sse(service: &TestService, id: &str) -> (Vec<(i64, Value)>, i64) {
    let patience = Duration::from_secs(60);
    let events = read_run_events(&service.http, &service.url, id, None, patience, |_| false).await;
    let logs = events
        .iter()
        .filter(|e| e.event.event == "log")
        .map(|e| (e.arrived_ms, e.json()))
        .collect();
    (logs, events.last().unwrap().arrived_ms)
}

/// `tick <i> <printed ms>` anywhere in a line (Node's runtime puts a prefix before it).
fn tick(message: &str) -> Option<(u32, i64)> {
    let at = message.find("tick ")?;
    let mut words = message[at + 5..].split_whitespace();
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

#[sqlx::test]
async fn python_node_and_ruby_output_is_streamed_while_the_function_runs(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let mut runs = Vec::new();
    for (runtime, code) in [("python3.12", PYTHON), ("nodejs20.x", NODE), ("ruby3.3", RUBY)] {
        let (status, run) = service
            .submit(
                "default",
                json!({"type": "lambda_custom_code", "runtime": runtime, "code": code}),
            )
            .await;
        assert_eq!(status, 202, "{run}");
        runs.push((runtime, run["id"].as_str().unwrap().to_string()));
    }
    let streams = futures::future::join_all(runs.iter().map(|(_, id)| follow_sse(&service, id))).await;
    let mut worst_lag = 0;
    for ((runtime, id), (logs, ended)) in runs.iter().zip(streams) {
        let finished = service.wait_finished(id).await;
        assert_eq!(finished["status"], "succeeded", "{runtime}: {finished}");
        let ticks: Vec<(u32, i64, i64, &Value)> = logs
            .iter()
            .filter_map(|(arrived, entry)| {
                let (i, printed) = tick(entry["message"].as_str()?)?;
                Some((i, printed, *arrived, entry))
            })
            .collect();
        let order: Vec<u32> = ticks.iter().map(|t| t.0).collect();
        assert_eq!(
            order,
            (0..12).collect::<Vec<u32>>(),
            "{runtime}: every line once, in order: {logs:#?}"
        );
        let first_arrived = ticks[0].2;
        assert!(
            ended - first_arrived >= 2_000,
            "{runtime}: the first line came {} ms before the run ended",
            ended - first_arrived
        );
        for (i, printed, arrived, entry) in &ticks {
            assert_eq!(entry["source"], "function", "{runtime}: {entry}");
            let time = chrono::DateTime::parse_from_rfc3339(entry["time"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            assert!(
                (time - printed).abs() <= 100,
                "{runtime}: tick {i} printed at {printed}, its entry says {time}"
            );
            worst_lag = worst_lag.max(arrived - printed);
        }
        let by_message: HashMap<&str, &Value> = logs
            .iter()
            .filter_map(|(_, e)| Some((e["message"].as_str()?, e)))
            .collect();
        let runner_line = |prefix: &str| {
            by_message
                .iter()
                .find(|(m, _)| m.starts_with(prefix))
                .unwrap_or_else(|| panic!("{runtime}: no line {prefix:?}"))
                .1["source"]
                .clone()
        };
        assert_eq!(runner_line("invoking "), "runner");
        assert_eq!(
            runner_line("following the function's log live (CloudWatch Logs StartLiveTail)"),
            "runner"
        );
        assert_eq!(runner_line("START RequestId:"), "function");
        assert_eq!(runner_line("REPORT RequestId:"), "function");
        let reports = logs
            .iter()
            .filter(|(_, e)| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("REPORT RequestId:"))
            })
            .count();
        assert_eq!(reports, 1, "{runtime}: the tail's lines are not written again");
    }
    eprintln!("worst print -> SSE lag: {worst_lag} ms");
    // The service measures the same lag up to the store, as a histogram.
    let metrics = service_client::metrics(&service.http, &service.url).await;
    let count = service_client::metric(&metrics, "lambda_steps_function_line_lag_seconds_count")
        .unwrap_or_else(|| panic!("no lag histogram in /metrics: {metrics}"));
    assert!(count >= 36.0, "every tick's lag was measured: {count}");
    assert!(
        service_client::metric(&metrics, "lambda_steps_function_line_lag_seconds_bucket{le=\"0.25\"}").is_some(),
        "{metrics}"
    );
    service.stop().await;
}

/// Every log message of a run, over as many pages as it takes.
async fn whole_log(service: &TestService, id: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut after = 0;
    loop {
        let (_, page) = service
            .get(&format!("/v1/runs/{id}/logs?after={after}&limit=5000"))
            .await;
        let items = page["items"].as_array().unwrap();
        lines.extend(items.iter().map(|e| e["message"].as_str().unwrap().to_string()));
        if items.is_empty() || page["completed"] == true {
            return lines;
        }
        after = page["next_after"].as_i64().unwrap();
    }
}

#[sqlx::test]
async fn a_long_print_and_a_timeout_lose_no_line(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let (_, long) = service
        .submit(
            "default",
            json!({"type": "lambda_custom_code", "runtime": "python3.12",
                   "code": "def lambda_handler(e, c):\n    for i in range(20000):\n        print('row', i)\n    return 'done'\n"}),
        )
        .await;
    let (_, timing_out) = service
        .submit(
            "default",
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "timeout_seconds": 2,
                   "code": "import time\ndef lambda_handler(e, c):\n    i = 0\n    while True:\n        print('beat', i)\n        i += 1\n        time.sleep(0.1)\n"}),
        )
        .await;
    let long = service.wait_finished(long["id"].as_str().unwrap()).await;
    assert_eq!(long["status"], "succeeded", "{long}");
    let lines = whole_log(&service, long["id"].as_str().unwrap()).await;
    let rows: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("row "))
        .map(String::as_str)
        .collect();
    let expected: Vec<String> = (0..20000).map(|i| format!("row {i}")).collect();
    assert_eq!(rows.len(), 20000, "every printed line, once");
    assert!(rows.iter().zip(&expected).all(|(a, b)| a == b), "in print order");
    assert!(
        !lines.iter().any(|l| l.contains("4 KB")),
        "no fallback to the tail: {:?}",
        &lines[..5]
    );
    // Past 500 lines an update Live Tail samples; polling read every line instead.
    let sampled = lines
        .iter()
        .filter(|l| l.starts_with("Live Tail sampled the function's output"))
        .count();
    assert_eq!(sampled, 1, "said once: {:?}", &lines[..8]);

    // Invoke of an existing function: its lines come with the answer, but whole (not only
    // the last 4 KB) and with their print times, read from the engine's log by request id.
    let lambda = &service.engine.client;
    // One cut tail (3,000 lines), one whole tail read again for its times (100 lines, then
    // half a second before the answer, so a time taken from the answer would be off).
    for (name, lines, pause) in [("long-printer", 3000, 0.0), ("short-printer", 100, 0.5)] {
        crate::support::create(
            lambda,
            name,
            "python3.12",
            "app.handler",
            &[(
                "app.py",
                &format!(
                    "import time\ndef handler(e, c):\n    for i in range({lines}):\n        print('at', i, int(time.time() * 1000))\n    time.sleep({pause})\n    return 'done'\n"
                ),
            )],
        )
        .await;
        let invoked = service
            .run(json!({"type": "lambda_invoke", "function_name": name, "payload": {}}))
            .await;
        assert_eq!(invoked["status"], "succeeded", "{invoked}");
        let id = invoked["id"].as_str().unwrap();
        let mut entries = Vec::new();
        let mut after = 0;
        loop {
            let (_, page) = service
                .get(&format!("/v1/runs/{id}/logs?after={after}&limit=5000"))
                .await;
            entries.extend(page["items"].as_array().unwrap().iter().cloned());
            if page["completed"] == true {
                break;
            }
            after = page["next_after"].as_i64().unwrap();
        }
        let printed: Vec<(u32, i64, &Value)> = entries
            .iter()
            .filter_map(|e| {
                let mut words = e["message"].as_str()?.strip_prefix("at ")?.split_whitespace();
                Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?, e))
            })
            .collect();
        let order: Vec<u32> = printed.iter().map(|p| p.0).collect();
        assert_eq!(
            order,
            (0..lines).collect::<Vec<u32>>(),
            "{name}: the whole log, once, in order"
        );
        for (i, at, entry) in &printed {
            assert_eq!(entry["source"], "function");
            let time = chrono::DateTime::parse_from_rfc3339(entry["time"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            assert!(
                (time - at).abs() <= 100,
                "{name}: line {i} printed at {at}, its entry says {time}"
            );
        }
    }

    let id = timing_out["id"].as_str().unwrap();
    let timed_out = service.wait_finished(id).await;
    assert_eq!(timed_out["status"], "timed_out", "{timed_out}");
    let lines = whole_log(&service, id).await;
    let beats: Vec<u32> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("beat ")?.parse().ok())
        .collect();
    assert!(beats.len() >= 10, "{lines:?}");
    assert_eq!(
        beats,
        (0..beats.len() as u32).collect::<Vec<_>>(),
        "every beat once, in order"
    );
    service.stop().await;
}
