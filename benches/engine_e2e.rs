//! Benchmark of the whole product on its embedded engine: a release `lambda-steps serve` on
//! a fresh database, running `lambda_invoke` steps of a Python echo function on the engine it
//! starts. Prints, measured in the same run with the same client concurrency: the engine's
//! direct invoke rate (aws-sdk-lambda, 32 at once), runs per second end to end (32
//! submitters over HTTP), their ratio, and submit -> succeeded p50 / p99 for one run at a
//! time. `history` mode instead compares runs per second over 1,000 runs before and after
//! 100,000 more invocations of the same function (its log group grows by 300,000 events) and
//! 100,000 more finished runs in the database. Asserts nothing.
//!
//! Run: `scripts/bench engine-e2e` or `scripts/bench engine-e2e history`.

// Benchmark code: an unwrap that fails stops the measure with its reason.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use serde_json::Value;
use sqlx::PgPool;

use support::cpu_split::{self, CpuSnapshot};
use support::{BenchDatabase, Service, admin_http, pct, submit, submit_many};

const FUNCTION: &str = "echo";
const CONCURRENCY: usize = 32;
const E2E_RUNS: usize = 3000;
const SERIAL_RUNS: usize = 300;
const DIRECT_WINDOW: Duration = Duration::from_secs(4);
const HISTORY_RUNS: usize = 100_000;
const HISTORY_SAMPLE: usize = 1000;

#[tokio::main]
async fn main() {
    let history = std::env::args().skip(1).any(|a| a == "history");
    let database = BenchDatabase::create("e2e").await;
    let data = tempfile::tempdir().unwrap();
    let workers = std::env::var("LAMBDA_STEPS_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2048);
    let service = Service::spawn(&database.url, None, data.path(), workers);
    let http = admin_http();
    support::wait_ready(&http, &service.api).await;
    let db = database.connect().await;
    let lambda = engine_client(&service.engine, data.path());
    support::create_echo(&lambda, FUNCTION).await;
    println!(
        "lambda-steps engine-e2e benchmark: {} cores (load average {} at the start), Python echo on the embedded engine, one replica",
        support::cores(),
        support::load_average()
    );
    // Warm environments up, both ways.
    direct_rate(&lambda, Duration::from_secs(1)).await;
    submit_many(&http, &service.api, FUNCTION, 200, CONCURRENCY).await;
    support::wait_finished(&db, 200).await;

    if history {
        history_mode(&service, &http, &db, &lambda).await;
    } else {
        let before = CpuSnapshot::take(service.pid());
        let (direct, invokes) = direct_rate(&lambda, DIRECT_WINDOW).await;
        let direct_cpu = CpuSnapshot::take(service.pid()).since(&before, invokes);
        let profile = support::Profile::start(service.pid(), "engine-e2e");
        let before = CpuSnapshot::take(service.pid());
        let e2e = runs_per_second(&service, &http, &db, E2E_RUNS).await;
        let e2e_cpu = CpuSnapshot::take(service.pid()).since(&before, E2E_RUNS);
        profile.stop();
        let (direct_after, _) = direct_rate(&lambda, DIRECT_WINDOW).await;
        let latencies = one_at_a_time(&service, &http, &db).await;
        println!();
        println!("| measure | figure |");
        println!("|---|---|");
        println!(
            "| engine direct invokes/s, {CONCURRENCY} at once (before / after) | {direct:.0} / {direct_after:.0} |"
        );
        println!("| runs/s end to end, {E2E_RUNS} runs from {CONCURRENCY} submitters | {e2e:.0} |");
        let cold: i64 =
            sqlx::query_scalar("SELECT count(*) FROM run_logs WHERE message LIKE 'REPORT RequestId%Init Duration%'")
                .fetch_one(&db)
                .await
                .unwrap();
        println!("| cold starts of the function's environments over every run | {cold} |");
        println!(
            "| ratio runs/s / direct invokes/s, mean of before and after (target >= 0.8) | {:.2} |",
            e2e / ((direct + direct_after) / 2.0)
        );
        println!(
            "| submit -> succeeded p50 / p99, one run at a time (ms; target <= 10 / 25) | {:.1} / {:.1} |",
            pct(&latencies, 0.5),
            pct(&latencies, 0.99)
        );
        // On cores that Postgres shares, a run costs at least a direct invoke plus the
        // Postgres work the run needs: the most the ratio can be, however little the
        // service's queue costs.
        let direct_total: f64 = direct_cpu.iter().sum();
        println!(
            "| best ratio these CPU figures allow: a direct invoke / (a direct invoke + a run's Postgres work) | {:.2} |",
            direct_total / (direct_total + e2e_cpu[2])
        );
        print_end(&db).await;
        cpu_split::print_table(
            "CPU per invoke or run (ms), by process, from /proc (the client is this benchmark):",
            &[("direct invoke", direct_cpu), ("run end to end", e2e_cpu)],
        );
    }
    if history {
        print_end(&db).await;
    }
    service.stop().await;
    db.close().await;
    database.drop().await;
}

/// The engine's client, as a user's program builds it, signing with the engine's own key
/// (the shared credentials file the service wrote into its data directory at start).
fn engine_client(url: &str, data: &std::path::Path) -> Client {
    let file = std::fs::read_to_string(data.join("engine-credentials")).expect("the engine's credentials file");
    let value = |name: &str| {
        file.lines()
            .find_map(|l| {
                l.strip_prefix(name)?
                    .trim_start()
                    .strip_prefix('=')
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("{name} in the engine's credentials file"))
    };
    let (id, secret) = (value("aws_access_key_id"), value("aws_secret_access_key"));
    Client::from_conf(
        aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(id, secret, None, None, "bench"))
            .endpoint_url(url)
            .build(),
    )
}

/// Direct invokes per second, `CONCURRENCY` at once, with the payload a run sends, and
/// how many were made.
async fn direct_rate(lambda: &Client, window: Duration) -> (f64, usize) {
    let started = Instant::now();
    let done = invoke_many(lambda, usize::MAX, started + window).await;
    (done as f64 / started.elapsed().as_secs_f64(), done)
}

/// Invokes from `CONCURRENCY` loops until `total` were sent or `deadline` passed.
async fn invoke_many(lambda: &Client, total: usize, deadline: Instant) -> usize {
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let loops: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (lambda, sent) = (lambda.clone(), sent.clone());
            tokio::spawn(async move {
                let mut done = 0;
                while Instant::now() < deadline && sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < total {
                    let payload = format!(r#"{{"sent_at_us":{}}}"#, chrono::Utc::now().timestamp_micros());
                    let out = lambda
                        .invoke()
                        .function_name(FUNCTION)
                        .log_type(aws_sdk_lambda::types::LogType::Tail)
                        .payload(Blob::new(payload))
                        .send()
                        .await
                        .expect("invoke");
                    assert!(out.function_error().is_none(), "function error {:?}", out.payload());
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for l in loops {
        total += l.await.unwrap();
    }
    total
}

/// Runs per second end to end: `runs` submitted from `CONCURRENCY` connections, from the
/// first submit to the last finish.
async fn runs_per_second(service: &Service, http: &reqwest::Client, db: &PgPool, runs: usize) -> f64 {
    // The sample's own runs are counted, found through the project's index from the
    // sample's start: a count over the whole table every 20 ms (100,000 runs of history in
    // `history` mode) was itself half of Postgres's CPU per run after the history.
    let since: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()").fetch_one(db).await.unwrap();
    let started = Instant::now();
    submit_many(http, &service.api, FUNCTION, runs, CONCURRENCY).await;
    while finished_since(db, since).await < runs as i64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runs as f64 / started.elapsed().as_secs_f64()
}

/// Runs of the default project created at or after `since` that have finished.
async fn finished_since(db: &PgPool, since: chrono::DateTime<chrono::Utc>) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM runs WHERE project = 'default' AND created_at >= $1 AND finished_at IS NOT NULL",
    )
    .bind(since)
    .fetch_one(db)
    .await
    .unwrap()
}

/// Submit -> succeeded, one run at a time (ms), as the database stamped them (created_at to
/// finished_at: the client's own polling adds nothing).
async fn one_at_a_time(service: &Service, http: &reqwest::Client, db: &PgPool) -> Vec<f64> {
    let mut ids = Vec::new();
    for _ in 0..SERIAL_RUNS {
        let id = submit(http, &service.api, FUNCTION).await;
        loop {
            let run: Value = http
                .get(format!("{}/v1/runs/{id}", service.api))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if run["finished_at"].is_string() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        ids.push(uuid::Uuid::parse_str(&id).unwrap());
    }
    sqlx::query_scalar::<_, f64>(
        "SELECT (extract(epoch FROM finished_at - created_at) * 1000)::float8 FROM runs WHERE id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(db)
    .await
    .unwrap()
}

/// Runs/s over `HISTORY_SAMPLE` runs, then again after `HISTORY_RUNS` more invocations of
/// the function and as many finished runs in the database.
async fn history_mode(service: &Service, http: &reqwest::Client, db: &PgPool, lambda: &Client) {
    let before = CpuSnapshot::take(service.pid());
    let first = runs_per_second(service, http, db, HISTORY_SAMPLE).await;
    let first_cpu = CpuSnapshot::take(service.pid()).since(&before, HISTORY_SAMPLE);
    let started = Instant::now();
    // The function's log: every invocation writes its START, END and REPORT lines.
    let invoked = invoke_many(lambda, HISTORY_RUNS, Instant::now() + Duration::from_secs(3600)).await;
    // The database: finished runs of the same function, each with the log a run leaves.
    sqlx::query(
        "WITH runs AS (
             INSERT INTO runs (id, project, status, step, attempt, created_at, started_at, finished_at, invoke_sent, result)
             SELECT gen_random_uuid(), 'default', 'succeeded',
                 jsonb_build_object('type', 'lambda_invoke', 'function_name', $2::text, 'payload', jsonb_build_object('i', i)),
                 1, now(), now(), now(), true, '{\"payload\": {}}'
             FROM generate_series(1, $1) AS i RETURNING id
         )
         INSERT INTO run_logs (run_id, seq, time, level, source, message)
         SELECT id, seq, now(), 'info', CASE WHEN seq IN (4, 5, 6) THEN 'function' ELSE 'runner' END, 'line ' || seq
         FROM runs, generate_series(1, 8) AS seq",
    )
    .bind(HISTORY_RUNS as i64)
    .bind(FUNCTION)
    .execute(db)
    .await
    .expect("the history runs");
    let _ = sqlx::query("VACUUM ANALYZE runs").execute(db).await;
    let _ = sqlx::query("VACUUM ANALYZE run_logs").execute(db).await;
    let _ = sqlx::query("CHECKPOINT").execute(db).await;
    let seeded = started.elapsed().as_secs_f64();
    let before = CpuSnapshot::take(service.pid());
    let later = runs_per_second(service, http, db, HISTORY_SAMPLE).await;
    let later_cpu = CpuSnapshot::take(service.pid()).since(&before, HISTORY_SAMPLE);
    println!();
    println!("| measure | figure |");
    println!("|---|---|");
    println!("| runs/s over the first {HISTORY_SAMPLE} runs | {first:.0} |");
    println!(
        "| history added: direct invocations of the function / finished runs in the database | {invoked} / {HISTORY_RUNS} (in {seeded:.0} s) |"
    );
    println!("| runs/s over {HISTORY_SAMPLE} runs after that | {later:.0} |");
    println!("| ratio after / first (target >= 0.9) | {:.2} |", later / first);
    cpu_split::print_table(
        "CPU per run (ms), by process, from /proc (the client is this benchmark):",
        &[("the first runs", first_cpu), ("the runs after the history", later_cpu)],
    );
    println!();
    println!("| measure | figure |");
    println!("|---|---|");
}

/// The last rows of the figures table: runs that did not succeed, and the load.
async fn print_end(db: &PgPool) {
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE status <> 'succeeded'")
        .fetch_one(db)
        .await
        .unwrap();
    println!("| runs not succeeded | {failed} |");
    println!("| load average at the end | {} |", support::load_average());
}
