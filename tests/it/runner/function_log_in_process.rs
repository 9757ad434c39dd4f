//! A service running its embedded engine reads a function's lines back after each Invoke in
//! process (the same FilterLogEvents query on the engine's store), not through the engine's
//! CloudWatch Logs API: the run's log still has every line with its print time, and the
//! service's own `/metrics` count the reads by way.

use serde_json::json;
use sqlx::PgPool;

use crate::support::service::{ADMIN_TOKEN, ServeProcess, authorized, log_entries};
use crate::support::service_client::{metric, metrics};

/// Prints two lines half a second apart, then answers: a time taken from the answer would
/// be off by that much for the first line.
const PRINTER: &str = "import time\ndef handler(e, c):\n    print('first', int(time.time() * 1000))\n    time.sleep(0.5)\n    print('second', int(time.time() * 1000))\n    return 'done'\n";

#[sqlx::test]
async fn the_embedded_engine_s_lines_are_read_in_process_with_their_print_times(db: PgPool) {
    let work = tempfile::tempdir().unwrap();
    let service = ServeProcess::start(&db, work.path(), &[], &[("LAMBDA_STEPS_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let lambda = crate::support::signed_client(&service.engine, service.engine_credentials());
    crate::support::create(&lambda, "printer", "python3.12", "app.handler", &[("app.py", PRINTER)]).await;

    for _ in 0..2 {
        let run = service
            .run(json!({"type": "lambda_invoke", "function_name": "printer", "payload": {}}))
            .await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let entries = log_entries(&authorized(ADMIN_TOKEN), &service.api, run["id"].as_str().unwrap()).await;
        let mut printed = 0;
        for entry in &entries {
            let message = entry["message"].as_str().unwrap();
            let Some(at) = ["first ", "second "]
                .iter()
                .find_map(|p| message.strip_prefix(p)?.parse::<i64>().ok())
            else {
                continue;
            };
            printed += 1;
            let time = chrono::DateTime::parse_from_rfc3339(entry["time"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            assert!((time - at).abs() <= 50, "{message}: its entry says {time}");
        }
        assert_eq!(printed, 2, "{entries:?}");
        assert!(
            entries
                .iter()
                .any(|e| e["message"].as_str().unwrap().starts_with("REPORT RequestId:")),
            "{entries:?}"
        );
    }

    // This process's own counts: every read in process, none through the API.
    let text = metrics(&authorized(ADMIN_TOKEN), &service.api).await;
    let read = |via: &str| {
        metric(
            &text,
            &format!("lambda_steps_function_log_reads_total{{via=\"{via}\"}}"),
        )
    };
    assert!(read("in_process").is_some_and(|n| n >= 2.0), "{text}");
    assert_eq!(read("api"), None, "{text}");
}
