//! Benchmark of live function output: `lambda_steps::serve` in this process with its
//! embedded engine (the default endpoint), on a fresh database, running Python
//! `lambda_custom_code` steps that print lines stamped with the epoch millisecond they were
//! printed, read back over each run's SSE stream. Prints print -> SSE lag p50 / p99 for one
//! run at a time and for 100 runs at once, and lines per second from one function printing
//! 100,000 lines. Asserts that every one of those lines is stored exactly once, in order.
//! `readers` mode instead has 1,000 SSE readers follow 50 live runs (20 readers each) and
//! prints the print -> SSE lag over every line every reader received.
//!
//! Run: `scripts/bench live [readers]` (it provides Postgres and sets DATABASE_URL), or
//! `DATABASE_URL=postgres://... cargo bench --bench live [-- readers]`.

// Benchmark code: an unwrap that fails stops the measure with its reason.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::migrate::MigrateDatabase;
use sqlx::{PgPool, Postgres};
use tokio_util::sync::CancellationToken;

/// The tests' own client code (submit, the event stream, metrics), so the benchmark
/// measures what the tests check.
#[path = "../tests/it/support/service_client.rs"]
mod service_client;

const TOKEN: &str = "bench-admin-token";
/// One run at a time: this many runs, one after another, each printing `ONE_LINES` lines
/// every `ONE_EVERY` seconds.
const ONE_RUNS: usize = 3;
const ONE_LINES: usize = 100;
const ONE_EVERY: f64 = 0.05;
/// Runs at once, each printing `MANY_LINES` lines every `MANY_EVERY` seconds.
const MANY_RUNS: usize = 100;
const MANY_LINES: usize = 20;
const MANY_EVERY: f64 = 0.25;
/// Lines of the long print.
const LONG_LINES: usize = 100_000;
/// `readers` mode: runs at once, each followed by `READERS_PER_RUN` SSE readers from its
/// submit on, each printing `READERS_LINES` lines every `READERS_EVERY` seconds.
const READERS_RUNS: usize = 50;
const READERS_PER_RUN: usize = 20;
const READERS_LINES: usize = 40;
const READERS_EVERY: f64 = 0.25;

const TICKER: &str = "import time\ndef lambda_handler(event, context):\n    for i in range(event['lines']):\n        print('tick', i, int(time.time() * 1000))\n        time.sleep(event['every'])\n    return 'done'\n";

#[derive(Clone)]
struct Service {
    api: String,
    http: reqwest::Client,
    db: PgPool,
}

#[tokio::main]
async fn main() {
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/bench sets it)");
    let (server, _) = admin.rsplit_once('/').expect("DATABASE_URL ends with /database");
    let url = format!("{server}/lambda_steps_bench_live_{}", std::process::id());
    let db = lambda_steps::db::connect(Some(&url), 40, Duration::from_secs(30))
        .await
        .expect("the bench database");
    let data = tempfile::tempdir().unwrap();
    let settings = lambda_steps::config::ServeSettings::from_args([
        "--data-dir".to_string(),
        data.path().display().to_string(),
        "--engine-listen".into(),
        "127.0.0.1:0".into(),
        "--admin-token".into(),
        TOKEN.into(),
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let served = tokio::spawn(lambda_steps::serve(listener, settings, db.clone(), shutdown.clone()));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {TOKEN}").parse().unwrap(),
    );
    let http = reqwest::Client::builder().default_headers(headers).build().unwrap();
    let service = Service { api, http, db };
    wait_ready(&service).await;
    println!(
        "lambda-steps live output benchmark: {} cores, serve + embedded engine in one process, Python 3.12 functions",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // Warm the engine's runtime once, so the first measured run is not also a first start.
    ticks(&service, 1, 2, 0.01).await;

    if std::env::args().skip(1).any(|a| a == "readers") {
        let before = Stored::scrape(&service).await;
        let started = Instant::now();
        let lags = ticks_read_by(&service, READERS_RUNS, READERS_PER_RUN, READERS_LINES, READERS_EVERY).await;
        let took = started.elapsed().as_secs_f64();
        let after = Stored::scrape(&service).await;
        shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(60), served).await;
        service.db.close().await;
        let _ = Postgres::drop_database(&url).await;
        println!();
        println!("| measure | figure |");
        println!("|---|---|");
        println!(
            "| print -> SSE lag, {} readers on one replica ({READERS_RUNS} runs at once x {READERS_PER_RUN} readers each, {READERS_LINES} lines a run, one every {} ms): p50 / p99 / max (ms; target p99 <= 250) | {:.0} / {:.0} / {:.0} |",
            READERS_RUNS * READERS_PER_RUN,
            READERS_EVERY * 1000.0,
            pct(&lags, 0.5),
            pct(&lags, 0.99),
            pct(&lags, 1.0)
        );
        println!(
            "| lines received, every reader every line once, in order | {} in {took:.1} s |",
            lags.len()
        );
        println!(
            "| print -> stored (the service's lambda_steps_function_line_lag_seconds) | {} |",
            after.since(before)
        );
        return;
    }

    let before_one = Stored::scrape(&service).await;
    let mut one = Vec::new();
    for _ in 0..ONE_RUNS {
        one.extend(ticks(&service, 1, ONE_LINES, ONE_EVERY).await);
    }
    let before_many = Stored::scrape(&service).await;
    let many = ticks(&service, MANY_RUNS, MANY_LINES, MANY_EVERY).await;
    let before_long = Stored::scrape(&service).await;
    let long = long_print(&service).await;
    let after_long = Stored::scrape(&service).await;

    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(60), served).await;
    service.db.close().await;
    let _ = Postgres::drop_database(&url).await;

    println!();
    println!("| measure | figure |");
    println!("|---|---|");
    println!(
        "| print -> SSE lag, one run at a time ({ONE_RUNS} runs x {ONE_LINES} lines, one every {} ms): p50 / p99 / max (ms) | {:.0} / {:.0} / {:.0} |",
        ONE_EVERY * 1000.0,
        pct(&one, 0.5),
        pct(&one, 0.99),
        pct(&one, 1.0)
    );
    println!(
        "| print -> SSE lag, {MANY_RUNS} runs at once ({MANY_LINES} lines each, one every {} ms): p50 / p99 / max (ms) | {:.0} / {:.0} / {:.0} |",
        MANY_EVERY * 1000.0,
        pct(&many, 0.5),
        pct(&many, 0.99),
        pct(&many, 1.0)
    );
    println!(
        "| {LONG_LINES} lines printed in a loop: printed in (s) / stored in (s, from the first print to the run's end) / lines stored per s | {:.1} / {:.1} / {:.0} |",
        long.printing_s,
        long.stored_s,
        LONG_LINES as f64 / long.stored_s
    );
    println!("| ... each of them stored exactly once, in print order | yes |");
    println!(
        "| print -> stored (the service's lambda_steps_function_line_lag_seconds): one run / {MANY_RUNS} at once / the long print | {} / {} / {} |",
        before_many.since(before_one),
        before_long.since(before_many),
        after_long.since(before_long)
    );
}

/// Starts `runs` ticker runs at once and answers every tick's print -> SSE lag (ms).
async fn ticks(service: &Service, runs: usize, lines: usize, every: f64) -> Vec<f64> {
    // Each run is watched from its submit on, as a user following it would.
    let mut watchers = Vec::new();
    for _ in 0..runs {
        let id = submit(service, json!({"lines": lines, "every": every}), TICKER).await;
        let service = service.clone();
        watchers.push(tokio::spawn(async move {
            let ticks = follow(&service, &id).await;
            (id, ticks)
        }));
    }
    let mut lags = Vec::new();
    for watcher in watchers {
        let (id, ticks) = watcher.await.unwrap();
        let indexes: Vec<usize> = ticks.iter().map(|t| t.0).collect();
        assert_eq!(
            indexes,
            (0..lines).collect::<Vec<_>>(),
            "run {id}: every tick once, in order"
        );
        lags.extend(ticks.iter().map(|t| t.1));
    }
    lags
}

/// Starts `runs` ticker runs at once, each followed by `readers` SSE readers from its
/// submit on; answers every tick's print -> SSE lag (ms) at every reader, each of which
/// must see every tick once, in order.
async fn ticks_read_by(service: &Service, runs: usize, readers: usize, lines: usize, every: f64) -> Vec<f64> {
    let mut watchers = Vec::new();
    for _ in 0..runs {
        let id = submit(service, json!({"lines": lines, "every": every}), TICKER).await;
        for _ in 0..readers {
            let (service, id) = (service.clone(), id.clone());
            watchers.push(tokio::spawn(async move {
                let ticks = follow(&service, &id).await;
                (id, ticks)
            }));
        }
    }
    let mut lags = Vec::new();
    for watcher in watchers {
        let (id, ticks) = watcher.await.unwrap();
        let indexes: Vec<usize> = ticks.iter().map(|t| t.0).collect();
        assert_eq!(
            indexes,
            (0..lines).collect::<Vec<_>>(),
            "run {id}: every tick once, in order, at every reader"
        );
        lags.extend(ticks.iter().map(|t| t.1));
    }
    lags
}

/// Submits a Python custom-code step; answers its id.
async fn submit(service: &Service, payload: Value, code: &str) -> String {
    let step = json!({"type": "lambda_custom_code", "runtime": "python3.12", "code": code,
                      "payload": payload, "timeout_seconds": 600});
    let (status, run) = service_client::submit(&service.http, &service.api, "default", &step, None).await;
    assert_eq!(status, 202, "{run}");
    run["id"].as_str().unwrap().to_string()
}

/// Reads a run's SSE stream to its end: each tick's index and print -> arrival lag (ms).
async fn follow(service: &Service, id: &str) -> Vec<(usize, f64)> {
    let patience = Duration::from_secs(600);
    let events = service_client::read_run_events(&service.http, &service.api, id, None, patience, |_| false).await;
    let mut ticks = Vec::new();
    for streamed in &events {
        match streamed.event.event.as_str() {
            "log" => {
                let entry = streamed.json();
                let mut words = entry["message"].as_str().unwrap_or_default().split_whitespace();
                if words.next() == Some("tick")
                    && let (Some(Ok(i)), Some(Ok(printed))) = (
                        words.next().map(str::parse::<usize>),
                        words.next().map(str::parse::<i64>),
                    )
                {
                    ticks.push((i, (streamed.arrived_ms - printed) as f64));
                }
            }
            "end" => assert_eq!(streamed.json()["status"], "succeeded", "run {id}"),
            _ => {}
        }
    }
    ticks
}

struct LongPrint {
    /// From the first line printed to the last.
    printing_s: f64,
    /// From the first line printed to the run's end (every line stored by then).
    stored_s: f64,
}

/// One function printing `LONG_LINES` lines as fast as it can; checks that each is stored
/// exactly once, in print order.
async fn long_print(service: &Service) -> LongPrint {
    let code = format!(
        "def lambda_handler(event, context):\n    for i in range({LONG_LINES}):\n        print('row', i)\n    return 'done'\n"
    );
    let started = Instant::now();
    let id = submit(service, json!({}), &code).await;
    let run: uuid::Uuid = id.parse().unwrap();
    loop {
        let finished: Option<String> =
            sqlx::query_scalar("SELECT status FROM runs WHERE id = $1 AND finished_at IS NOT NULL")
                .bind(run)
                .fetch_optional(&service.db)
                .await
                .unwrap();
        match finished.as_deref() {
            Some("succeeded") => break,
            Some(other) => panic!("the long print ended {other}"),
            None if started.elapsed() > Duration::from_secs(600) => panic!("the long print did not end in 10 minutes"),
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let rows: Vec<(String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT message, time FROM run_logs WHERE run_id = $1 AND source = 'function' AND message LIKE 'row %' ORDER BY seq",
    )
    .bind(run)
    .fetch_all(&service.db)
    .await
    .unwrap();
    assert_eq!(rows.len(), LONG_LINES, "every printed line stored, and once");
    for (i, (message, _)) in rows.iter().enumerate() {
        assert_eq!(message, &format!("row {i}"), "in print order");
    }
    let (first, last) = (rows[0].1, rows[rows.len() - 1].1);
    let finished: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT finished_at FROM runs WHERE id = $1")
        .bind(run)
        .fetch_one(&service.db)
        .await
        .unwrap();
    LongPrint {
        printing_s: (last - first).as_seconds_f64(),
        stored_s: (finished - first).as_seconds_f64(),
    }
}

/// The service's own print -> stored histogram: count, sum (s), and lines within 250 ms.
#[derive(Clone, Copy, Default)]
struct Stored {
    count: f64,
    sum: f64,
    within: f64,
}

impl Stored {
    async fn scrape(service: &Service) -> Self {
        let text = service_client::metrics(&service.http, &service.api).await;
        let value = |name: &str| service_client::metric(&text, name).unwrap_or(0.0);
        Self {
            count: value("lambda_steps_function_line_lag_seconds_count"),
            sum: value("lambda_steps_function_line_lag_seconds_sum"),
            within: value("lambda_steps_function_line_lag_seconds_bucket{le=\"0.25\"}"),
        }
    }

    /// What was recorded since `before`, as "mean X ms, Y% within 250 ms".
    fn since(self, before: Self) -> String {
        let (count, sum, within) = (
            self.count - before.count,
            self.sum - before.sum,
            self.within - before.within,
        );
        format!(
            "mean {:.0} ms, {:.1}% within 250 ms",
            sum / count * 1000.0,
            within / count * 100.0
        )
    }
}

async fn wait_ready(service: &Service) {
    for _ in 0..600 {
        if service
            .http
            .get(format!("{}/readyz", service.api))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the service did not become ready");
}

fn pct(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}
