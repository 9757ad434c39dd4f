//! What the runner and engine-e2e benchmarks share: a release `lambda-steps serve` on a
//! fresh database, submitting over HTTP, pgbench's ceilings on the same database, the
//! database's own counters of statements and rows, and percentiles.

#![allow(dead_code)] // each benchmark uses its own part of it

// The echo function, shared with the engine crate's own benchmark.
#[path = "../../crates/lambda-engine/benches/support/echo.rs"]
mod echo;
#[allow(unused_imports)] // the runner benchmark has no engine
pub use echo::create_echo;

pub mod cpu_split;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::migrate::MigrateDatabase;
use sqlx::{PgPool, Postgres};

pub const TOKEN: &str = "bench-admin-token";

/// A fresh database of its own, beside `DATABASE_URL`'s.
pub struct BenchDatabase {
    pub url: String,
}

impl BenchDatabase {
    pub async fn create(name: &str) -> Self {
        let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/bench sets it)");
        let (server, _) = admin.rsplit_once('/').expect("DATABASE_URL ends with /database");
        let url = format!("{server}/lambda_steps_bench_{name}_{}", std::process::id());
        Postgres::create_database(&url)
            .await
            .expect("create the bench database");
        Self { url }
    }

    /// One connection of the benchmark's own, for its counts.
    pub async fn connect(&self) -> PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .expect("connect to the bench database")
    }

    pub async fn drop(self) {
        let _ = Postgres::drop_database(&self.url).await;
    }
}

/// A release `lambda-steps serve` on the bench database: the API on `api_port`, the engine
/// on `engine_port`, against `endpoint` (None: the embedded engine, the default).
pub struct Service {
    pub child: tokio::process::Child,
    pub api: String,
    pub engine: String,
}

impl Service {
    pub fn spawn(url: &str, endpoint: Option<&str>, data: &std::path::Path, workers: usize) -> Self {
        let (api_port, engine_port) = (free_port(), free_port());
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lambda-steps"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{api_port}")])
            .args(["--engine-listen", &format!("127.0.0.1:{engine_port}")])
            .args([
                "--workers",
                &workers.to_string(),
                "--db-connections",
                "20",
                "--data-dir",
            ])
            .arg(data);
        if let Some(endpoint) = endpoint {
            command.args(["--aws-endpoint-url", endpoint]);
        }
        let child = command
            .env("DATABASE_URL", url)
            .env("LAMBDA_STEPS_ADMIN_TOKEN", TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the service starts");
        Self {
            child,
            api: format!("http://127.0.0.1:{api_port}"),
            engine: format!("http://127.0.0.1:{engine_port}"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the service runs")
    }

    /// SIGTERM, and wait for the graceful stop.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        let _ = tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await;
    }
}

/// An HTTP client that signs in as the bench's admin.
pub fn admin_http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {TOKEN}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(256)
        .build()
        .unwrap()
}

pub async fn wait_ready(http: &reqwest::Client, api: &str) {
    for _ in 0..1200 {
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

/// Submits one `lambda_invoke` step; the run's id. The payload carries the submit time.
pub async fn submit(http: &reqwest::Client, api: &str, function: &str) -> String {
    let step = json!({"type": "lambda_invoke", "function_name": function,
        "payload": {"sent_at_us": chrono::Utc::now().timestamp_micros()}});
    let response = http
        .post(format!("{api}/v1/projects/default/runs"))
        .json(&json!({"step": step}))
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status().as_u16(), 202);
    let run: Value = response.json().await.expect("a run");
    run["id"].as_str().expect("the run's id").to_string()
}

/// `total` submits from `connections` loops at once.
pub async fn submit_many(http: &reqwest::Client, api: &str, function: &str, total: usize, connections: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let loops: Vec<_> = (0..connections)
        .map(|_| {
            let (http, api, function, next) = (http.clone(), api.to_string(), function.to_string(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::SeqCst) < total {
                    submit(&http, &api, &function).await;
                }
            })
        })
        .collect();
    for l in loops {
        l.await.unwrap();
    }
}

/// Submits per second from `connections` loops at once over `window` (after a short warm-up).
pub async fn submits_per_second(
    http: &reqwest::Client,
    api: &str,
    function: &str,
    connections: usize,
    window: Duration,
) -> f64 {
    let run = |window: Duration| {
        let deadline = Instant::now() + window;
        let loops: Vec<_> = (0..connections)
            .map(|_| {
                let (http, api, function) = (http.clone(), api.to_string(), function.to_string());
                tokio::spawn(async move {
                    let mut done = 0usize;
                    while Instant::now() < deadline {
                        submit(&http, &api, &function).await;
                        done += 1;
                    }
                    done
                })
            })
            .collect::<Vec<_>>();
        async move {
            let mut total = 0;
            for l in loops {
                total += l.await.unwrap();
            }
            total
        }
    };
    run(Duration::from_millis(500)).await;
    let started = Instant::now();
    let done = run(window).await;
    done as f64 / started.elapsed().as_secs_f64()
}

pub async fn finished_count(db: &PgPool) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM runs WHERE finished_at IS NOT NULL")
        .fetch_one(db)
        .await
        .unwrap() as usize
}

pub async fn wait_finished(db: &PgPool, total: usize) {
    while finished_count(db).await < total {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The database's counters: transactions committed, rows inserted, rows updated.
#[derive(Debug, Clone, Copy, Default)]
pub struct DbCounters {
    pub commits: i64,
    pub inserted: i64,
    pub updated: i64,
}

/// Reads the counters (statistics reach them within about a second of each transaction,
/// so wait that long after the work to count).
pub async fn db_counters(db: &PgPool) -> DbCounters {
    let _ = sqlx::query("SELECT pg_stat_clear_snapshot()").execute(db).await;
    let (commits, inserted, updated): (i64, i64, i64) = sqlx::query_as(
        "SELECT xact_commit, tup_inserted, tup_updated FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(db)
    .await
    .unwrap();
    DbCounters {
        commits,
        inserted,
        updated,
    }
}

/// pgbench on the bench database: `script` (in benches/) from `clients` clients for `seconds`.
pub fn pgbench(url: &str, script: &str, clients: usize, seconds: u32) -> f64 {
    pgbench_counted(url, script, clients, seconds).0
}

/// pgbench's transactions per second and how many transactions it processed.
pub fn pgbench_counted(url: &str, script: &str, clients: usize, seconds: u32) -> (f64, usize) {
    let script = format!("{}/benches/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2", "-c", &clients.to_string()])
        .args(["-T", &seconds.to_string(), "-f", &script, url])
        .output()
        .expect("pgbench runs (apt-get install postgresql-client)");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    match (field("tps = "), field("number of transactions actually processed: ")) {
        (Some(tps), Some(done)) => (tps, done as usize),
        _ => panic!(
            "pgbench printed no tps:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The value at quantile `q` (0..1) of the samples.
pub fn pct(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The machine's 1-minute load average: how many others shared the cores meanwhile.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// CPU time the process has used so far, user and system, in milliseconds (/proc's
/// clock ticks): a cost per run that other processes on the cores inflate far less than
/// they do wall-clock throughput.
pub fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and
    // 13th of them (14th and 15th of the line).
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let ticks: f64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks * 1000.0 / per_second
}

pub fn rss_mb(pid: u32) -> u64 {
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

/// `perf record` of `pid` while the guard lives, when `LAMBDA_STEPS_BENCH_PERF` names the
/// file to write (call graphs unwound from DWARF: the release build keeps `.eh_frame`), at
/// 99 samples a second or `LAMBDA_STEPS_BENCH_PERF_HZ`.
pub struct Profile(Option<std::process::Child>);

impl Profile {
    pub fn start(pid: u32, phase: &str) -> Self {
        let Some(out) = std::env::var_os("LAMBDA_STEPS_BENCH_PERF") else {
            return Self(None);
        };
        let out = format!("{}.{phase}", out.to_string_lossy());
        let child = std::process::Command::new("perf")
            .args([
                "record",
                "-q",
                "-F",
                &std::env::var("LAMBDA_STEPS_BENCH_PERF_HZ").unwrap_or_else(|_| "99".into()),
            ])
            .args(["--call-graph", "dwarf,8192", "-p"])
            .arg(pid.to_string())
            .args(["-o", &out])
            .stdout(Stdio::null())
            .spawn()
            .expect("perf runs (apt-get install linux-perf)");
        println!("profiling {phase} into {out}: perf report -i {out} --no-children --stdio");
        Self(Some(child))
    }

    pub fn stop(mut self) {
        if let Some(mut child) = self.0.take() {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let _ = child.wait();
        }
    }
}
