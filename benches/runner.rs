//! Benchmark of the step runner, end to end through HTTP: a `lambda-steps serve` process
//! (release build) on a fresh database, running `lambda_invoke` steps against a null
//! Lambda endpoint of this program's own (it answers at once, or after the delay its
//! function name says). Prints: runs per second end to end; submit-to-invoke latency p50
//! and p99 at idle and under load; the most runs in flight on one replica with a 2 s
//! function, with the replica's peak RSS and database connections; and pgbench's ceiling
//! for insert+claim+complete of one job on the same database, as a ratio. Asserts nothing.
//!
//! Run: `scripts/bench` (it provides Postgres and sets DATABASE_URL), or
//! `DATABASE_URL=postgres://... cargo bench --bench runner`.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde_json::json;
use sqlx::migrate::MigrateDatabase;
use sqlx::{PgPool, Postgres};

const THROUGHPUT_RUNS: usize = 5000;
const IN_FLIGHT_RUNS: usize = 8000;
const IDLE_RUNS: usize = 200;

/// What the null endpoint saw.
#[derive(Default)]
struct Seen {
    invokes: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Milliseconds from submit (stamped in the payload) to the Invoke arriving here.
    latencies: Mutex<Vec<f64>>,
}

#[tokio::main]
async fn main() {
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/bench sets it)");
    let (server, _) = admin.rsplit_once('/').expect("DATABASE_URL ends with /database");
    let database = format!("lambda_steps_bench_{}", std::process::id());
    let url = format!("{server}/{database}");
    Postgres::create_database(&url)
        .await
        .expect("create the bench database");

    let seen = Arc::new(Seen::default());
    let null_url = null_lambda(seen.clone()).await;
    let data = tempfile::tempdir().unwrap();
    let (mut service, api_port) = spawn_service(&url, &null_url, data.path(), 8000);
    let api = format!("http://127.0.0.1:{api_port}");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        "Bearer bench-admin-token".parse().unwrap(),
    );
    let http = reqwest::Client::builder().default_headers(headers).build().unwrap();
    wait_ready(&http, &api).await;
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    println!(
        "lambda-steps runner benchmark: {} cores, null Lambda endpoint, one replica, 20 database connections",
        cores()
    );

    // Idle: one run at a time, each submitted after the previous one was invoked.
    for i in 0..IDLE_RUNS {
        submit(&http, &api, "null-0").await;
        while seen.invokes.load(Ordering::SeqCst) <= i {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    let idle = take(&seen);
    wait_all_finished(&db, IDLE_RUNS).await;

    // Under load: many submitters at once, until every run finished.
    let started = Instant::now();
    submit_many(&http, &api, "null-0", THROUGHPUT_RUNS, 32).await;
    wait_all_finished(&db, IDLE_RUNS + THROUGHPUT_RUNS).await;
    let elapsed = started.elapsed();
    let loaded = take(&seen);
    let runs_per_second = THROUGHPUT_RUNS as f64 / elapsed.as_secs_f64();

    // In flight: the queue is filled through an intake replica with one worker, then the
    // measured replica starts on it, so that what is measured is how many runs one replica
    // holds at once, not how fast this machine's two cores can also submit them.
    let _ = service.kill().await;
    let (mut intake, intake_port) = spawn_service(&url, &null_url, data.path(), 1);
    let intake_api = format!("http://127.0.0.1:{intake_port}");
    wait_ready(&http, &intake_api).await;
    submit_many(&http, &intake_api, "null-2000", IN_FLIGHT_RUNS, 64).await;
    stop(&mut intake).await;
    seen.max_in_flight.store(0, Ordering::SeqCst);
    let (mut service, _) = spawn_service(&url, &null_url, data.path(), 8000);
    let pid = service.id().unwrap();
    let sampler = {
        let (db, seen) = (db.clone(), seen.clone());
        tokio::spawn(async move {
            let (mut rss, mut connections) = (0u64, 0i64);
            loop {
                rss = rss.max(rss_mb(pid));
                let open: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                )
                .fetch_one(&db)
                .await
                .unwrap_or(0);
                connections = connections.max(open);
                let finished: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE finished_at IS NOT NULL")
                    .fetch_one(&db)
                    .await
                    .unwrap_or(0);
                if finished as usize >= IDLE_RUNS + THROUGHPUT_RUNS + IN_FLIGHT_RUNS {
                    return (rss, connections, seen.max_in_flight.load(Ordering::SeqCst));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let (peak_rss, peak_connections, max_in_flight) = sampler.await.unwrap();
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE status <> 'succeeded'")
        .fetch_one(&db)
        .await
        .unwrap();
    let _ = service.kill().await;

    let ceiling = pgbench(&url);
    db.close().await;
    let _ = Postgres::drop_database(&url).await;

    println!();
    println!("| measure | figure |");
    println!("|---|---|");
    println!("| runs/s end to end through HTTP ({THROUGHPUT_RUNS} runs, 32 submitters) | {runs_per_second:.0} |");
    println!(
        "| submit-to-invoke p50 / p99 at idle (ms) | {:.2} / {:.2} |",
        pct(&idle, 0.5),
        pct(&idle, 0.99)
    );
    println!(
        "| submit-to-invoke p50 / p99 under load (ms) | {:.2} / {:.2} |",
        pct(&loaded, 0.5),
        pct(&loaded, 0.99)
    );
    println!("| most runs in flight on one replica, 2 s function ({IN_FLIGHT_RUNS} queued) | {max_in_flight} |");
    println!("| peak RSS of the replica meanwhile (MB) | {peak_rss} |");
    println!("| most database connections of the replica | {peak_connections} |");
    println!("| pgbench insert+claim+complete of one job (tps, 20 clients) | {ceiling:.0} |");
    println!("| ratio runs/s / pgbench ceiling | {:.2} |", runs_per_second / ceiling);
    println!("| runs not succeeded | {failed} |");
}

/// A release `lambda-steps serve` on the bench database against the null endpoint.
fn spawn_service(url: &str, null_url: &str, data: &std::path::Path, workers: usize) -> (tokio::process::Child, u16) {
    let (api_port, engine_port) = (free_port(), free_port());
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{api_port}"),
            "--engine-listen",
            &format!("127.0.0.1:{engine_port}"),
        ])
        .args([
            "--aws-endpoint-url",
            null_url,
            "--workers",
            &workers.to_string(),
            "--db-connections",
            "20",
            "--data-dir",
        ])
        .arg(data)
        .env("DATABASE_URL", url)
        .env("LAMBDA_STEPS_ADMIN_TOKEN", "bench-admin-token")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the service starts");
    (child, api_port)
}

/// SIGTERM, and wait for the graceful stop.
async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    }
    let _ = tokio::time::timeout(Duration::from_secs(60), child.wait()).await;
}

/// A Lambda Invoke endpoint that does nothing: answers `{}` after the delay in the
/// function's name (`null-2000`: 2 s), and notes when each call arrived.
async fn null_lambda(seen: Arc<Seen>) -> String {
    async fn invoke(
        State(seen): State<Arc<Seen>>,
        Path(name): Path<String>,
        body: axum::body::Bytes,
    ) -> impl IntoResponse {
        let now = chrono::Utc::now().timestamp_micros();
        if let Some(sent) = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["sent_at_us"].as_i64())
        {
            seen.latencies.lock().unwrap().push((now - sent) as f64 / 1000.0);
        }
        seen.invokes.fetch_add(1, Ordering::SeqCst);
        let in_flight = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
        let delay: u64 = name.rsplit('-').next().and_then(|d| d.parse().ok()).unwrap_or(0);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        seen.in_flight.fetch_sub(1, Ordering::SeqCst);
        (
            [
                ("x-amz-executed-version", "$LATEST"),
                ("content-type", "application/json"),
            ],
            "{}",
        )
    }
    let router = axum::Router::new()
        .route("/2015-03-31/functions/{name}/invocations", axum::routing::post(invoke))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

async fn submit(http: &reqwest::Client, api: &str, function: &str) {
    let step = json!({"type": "lambda_invoke", "function_name": function,
        "payload": {"sent_at_us": chrono::Utc::now().timestamp_micros()}});
    let response = http
        .post(format!("{api}/v1/projects/default/runs"))
        .json(&json!({"step": step}))
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status().as_u16(), 202);
}

async fn submit_many(http: &reqwest::Client, api: &str, function: &str, total: usize, submitters: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..submitters)
        .map(|_| {
            let (http, api, function, next) = (http.clone(), api.to_string(), function.to_string(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::SeqCst) < total {
                    submit(&http, &api, &function).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

async fn wait_all_finished(db: &PgPool, total: usize) {
    loop {
        let finished: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE finished_at IS NOT NULL")
            .fetch_one(db)
            .await
            .unwrap();
        if finished as usize >= total {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// pgbench on the same database: the job statements of benches/pgbench_job.sql.
fn pgbench(url: &str) -> f64 {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pgbench_job.sql");
    let out = std::process::Command::new("pgbench")
        .args([
            "-n", "-M", "extended", "-c", "20", "-j", "2", "-T", "10", "-f", script, url,
        ])
        .output()
        .expect("pgbench runs (apt-get install postgresql-client)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "pgbench printed no tps:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

fn take(seen: &Seen) -> Vec<f64> {
    std::mem::take(&mut *seen.latencies.lock().unwrap())
}

fn pct(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

fn rss_mb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .map(|v| v.trim().trim_end_matches("kB").trim().to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

async fn wait_ready(http: &reqwest::Client, api: &str) {
    for _ in 0..600 {
        if http
            .get(format!("{api}/readyz"))
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
