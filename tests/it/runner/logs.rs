//! The log by poll and by SSE: ordered, complete, and resumable without a gap or a
//! duplicate across reconnects.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;

use crate::support::service::TestService;
use crate::support::service_client::{StreamedEvent, read_run_events};

const CHATTY: &str = "import time\ndef lambda_handler(e, c):\n    for i in range(40):\n        print('line', i)\n    time.sleep(1)\n    return 'done'\n";

/// Reads SSE events until `stop_after` log events or the `end` event; answers the
/// (event, id, data) triples.
async fn read_events(
    service: &TestService,
    id: &str,
    last_event_id: Option<i64>,
    stop_after: Option<usize>,
) -> Vec<(String, Option<i64>, String)> {
    let enough = |events: &[StreamedEvent]| {
        let logs = events.iter().filter(|e| e.event.event == "log").count();
        stop_after.is_some_and(|n| logs >= n)
    };
    let patience = Duration::from_secs(60);
    let events = read_run_events(&service.http, &service.url, id, last_event_id, patience, enough).await;
    events
        .into_iter()
        .map(|e| (e.event.event, e.event.id.parse().ok(), e.event.data))
        .collect()
}

#[sqlx::test]
async fn sse_resumes_after_a_reconnect_without_a_gap_or_a_duplicate(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let (_, run) = service
        .submit(
            "default",
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": CHATTY}),
        )
        .await;
    let id = run["id"].as_str().unwrap();

    let first = read_events(&service, id, None, Some(3)).await;
    let first_ids: Vec<i64> = first.iter().filter(|e| e.0 == "log").filter_map(|e| e.1).collect();
    assert_eq!(first_ids, [1, 2, 3]);
    let rest = read_events(&service, id, Some(3), None).await;
    let rest_ids: Vec<i64> = rest.iter().filter(|e| e.0 == "log").filter_map(|e| e.1).collect();
    assert_eq!(
        rest.last().unwrap().0,
        "end",
        "the stream ends once the run is finished"
    );
    assert!(rest.iter().any(|e| e.0 == "status" && e.2.contains("succeeded")));

    let all: Vec<i64> = first_ids.iter().chain(&rest_ids).copied().collect();
    let expected: Vec<i64> = (1..=all.len() as i64).collect();
    assert_eq!(all, expected, "every seq exactly once, in order");
    let messages: Vec<String> = rest
        .iter()
        .filter(|e| e.0 == "log")
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.2).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for i in 0..40 {
        assert!(messages.contains(&format!("line {i}")), "line {i} missing");
    }

    // Polling agrees with the stream, and says when nothing is left.
    let (_, page) = service.get(&format!("/v1/runs/{id}/logs?after=0&limit=5000")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), all.len());
    assert_eq!(page["completed"], true);
    assert_eq!(page["next_after"], *all.last().unwrap());
    // Each entry says who wrote it: what the function printed is `function`, the
    // service's own lines (the Invoke, the result) are `runner`.
    let items = page["items"].as_array().unwrap();
    let source_of = |wanted: &str| {
        items
            .iter()
            .find(|e| e["message"].as_str().is_some_and(|m| m.starts_with(wanted)))
            .unwrap_or_else(|| panic!("no line starting {wanted:?} in {items:#?}"))["source"]
            .clone()
    };
    assert_eq!(source_of("line 7"), "function");
    assert_eq!(source_of("START RequestId:"), "function");
    assert_eq!(source_of("REPORT RequestId:"), "function");
    assert_eq!(source_of("invoking "), "runner");
    assert_eq!(source_of("result:"), "runner");
    for item in items {
        assert!(item["source"] == "runner" || item["source"] == "function", "{item}");
    }
    let (_, partial) = service.get(&format!("/v1/runs/{id}/logs?after=0&limit=2")).await;
    assert_eq!(
        (partial["completed"].as_bool(), partial["next_after"].as_i64()),
        (Some(false), Some(2))
    );
    service.stop().await;
}

const TICKING: &str = "import time\ndef lambda_handler(e, c):\n    for i in range(30):\n        print('tick', i)\n        time.sleep(0.05)\n    return 'done'\n";
/// SSE readers of one run on one replica.
const SSE_READERS: usize = 40;

/// Many SSE streams of one live run, from its submit on, and one resuming from a
/// `Last-Event-ID` midway: each gets every seq once, in order, then `end`, through the run's
/// one shared feed.
#[sqlx::test]
async fn many_sse_readers_of_one_live_run_each_get_every_line_once_in_order(db: PgPool) {
    let service = TestService::start(db, &[]).await;
    let (_, run) = service
        .submit(
            "default",
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": TICKING}),
        )
        .await;
    let id = run["id"].as_str().unwrap().to_string();
    let mut readers = Vec::new();
    for i in 0..=SSE_READERS {
        let (http, url, id) = (service.http.clone(), service.url.clone(), id.clone());
        // The last one resumes after seq 5, as a browser reconnecting does.
        let resume = (i == SSE_READERS).then_some(5);
        readers.push(tokio::spawn(async move {
            let events = read_run_events(&http, &url, &id, resume, Duration::from_secs(60), |_| false).await;
            (resume, events)
        }));
    }
    let mut seqs_of_first = None;
    for reader in readers {
        let (resume, events) = reader.await.unwrap();
        assert_eq!(events.last().unwrap().event.event, "end");
        let seqs: Vec<i64> = events
            .iter()
            .filter(|e| e.event.event == "log")
            .map(|e| e.event.id.parse().unwrap())
            .collect();
        let last = *seqs.last().unwrap();
        let from = resume.unwrap_or(0) + 1;
        assert_eq!(seqs, (from..=last).collect::<Vec<_>>(), "every seq once, in order");
        assert_eq!(events.last().unwrap().json()["last_seq"], last);
        let ticks = events
            .iter()
            .filter(|e| e.event.event == "log" && e.json()["message"].as_str().unwrap().starts_with("tick "))
            .count();
        if resume.is_none() {
            assert_eq!(ticks, 30, "every tick");
            assert_eq!(
                *seqs_of_first.get_or_insert(last),
                last,
                "every reader reads to the same end"
            );
        }
    }
    // The reads are counted where operators look (the test binary's services share one
    // recorder, so only that the feed's count is there is certain here).
    let metrics = crate::support::service_client::metrics(&service.http, &service.url).await;
    let feed_reads = crate::support::service_client::metric(&metrics, "lambda_steps_log_reads_total{by=\"feed\"}");
    assert!(feed_reads.is_some_and(|n| n > 0.0), "{metrics}");
    service.stop().await;
}

/// Readers on a replica that does not run the step: the other replica's log batches reach
/// them through the cross-replica path (its coalesced NOTIFY, the feed's slow timer behind
/// it), each line once, in order, then `end`.
#[sqlx::test]
async fn sse_readers_on_another_replica_get_every_line_once_in_order(db: PgPool) {
    let writer = TestService::start(db.clone(), &[]).await;
    let (_, run) = writer
        .submit(
            "default",
            json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": TICKING}),
        )
        .await;
    let id = run["id"].as_str().unwrap().to_string();
    // Started once the writer holds the run, so the writer runs it.
    writer.wait_for(&id, |run| run["status"] != "queued").await;
    let reader = TestService::start(db.clone(), &["--poll-ms", "60000"]).await;
    let mut readers = Vec::new();
    for _ in 0..10 {
        let (http, url, id) = (reader.http.clone(), reader.url.clone(), id.clone());
        readers.push(tokio::spawn(async move {
            read_run_events(&http, &url, &id, None, Duration::from_secs(60), |_| false).await
        }));
    }
    for events in readers {
        let events = events.await.unwrap();
        assert_eq!(events.last().unwrap().json()["status"], "succeeded");
        let seqs: Vec<i64> = events
            .iter()
            .filter(|e| e.event.event == "log")
            .map(|e| e.event.id.parse().unwrap())
            .collect();
        assert_eq!(seqs, (1..=*seqs.last().unwrap()).collect::<Vec<_>>());
        let ticks: Vec<String> = events
            .iter()
            .filter(|e| e.event.event == "log")
            .map(|e| e.json()["message"].as_str().unwrap().to_string())
            .filter(|m| m.starts_with("tick "))
            .collect();
        assert_eq!(ticks, (0..30).map(|i| format!("tick {i}")).collect::<Vec<_>>());
    }
    // The writer ran it, in its one attempt.
    let attempt: i32 = sqlx::query_scalar("SELECT attempt FROM runs WHERE id = $1::uuid")
        .bind(&id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(attempt, 1);
    reader.stop().await;
    writer.stop().await;
}
