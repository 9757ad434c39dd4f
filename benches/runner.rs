//! Benchmark of the step runner, end to end through HTTP: a `lambda-steps serve` process
//! (release build) on a fresh database, running `lambda_invoke` steps against a null
//! Lambda endpoint of this program's own (it answers at once, or after the delay its
//! function name says). Prints, measured in the same run: runs per second end to end;
//! submits per second at 1 and 32 connections; submit-to-invoke latency p50 and p99 at
//! idle and under load; the transactions and rows each run costs in Postgres; the most runs
//! in flight on one replica with a 2 s function, with the replica's peak RSS and database
//! connections; and pgbench's ceilings on the same database (plain insert at 1 and 32
//! clients; insert+claim+complete of one job), with the ratios the targets name. Asserts
//! nothing.
//!
//! Run: `scripts/bench runner` (it provides Postgres and sets DATABASE_URL), or
//! `DATABASE_URL=postgres://... cargo bench --bench runner`.

// Benchmark code: an unwrap that fails stops the measure with its reason.
#![allow(clippy::unwrap_used)]

mod support;

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::response::IntoResponse;

use support::cpu_split::{self, CpuSnapshot};
use support::{
    BenchDatabase, Service, admin_http, pct, pgbench, pgbench_counted, submit, submit_many, submits_per_second,
};

const THROUGHPUT_RUNS: usize = 5000;
const IN_FLIGHT_RUNS: usize = 8000;
const IDLE_RUNS: usize = 200;
const SUBMIT_WINDOW: Duration = Duration::from_secs(3);

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
    let database = BenchDatabase::create("runner").await;
    let url = database.url.clone();
    let seen = Arc::new(Seen::default());
    let null_url = null_lambda(seen.clone()).await;
    let data = tempfile::tempdir().unwrap();
    let service = Service::spawn(&url, Some(&null_url), data.path(), 8000);
    let api = service.api.clone();
    let http = admin_http();
    support::wait_ready(&http, &api).await;
    let db = database.connect().await;
    println!(
        "lambda-steps runner benchmark: {} cores (load average {} at the start), null Lambda endpoint, one replica, 20 database connections",
        support::cores(),
        support::load_average()
    );

    // Idle: one run at a time, each submitted after the previous one was invoked. The
    // counters first take in the service's migrations (their catalog rows), which its
    // connections send only after 10 s idle (see below).
    tokio::time::sleep(Duration::from_millis(11_000)).await;
    let before = support::db_counters(&db).await;
    for i in 0..IDLE_RUNS {
        submit(&http, &api, "null-0").await;
        while seen.invokes.load(Ordering::SeqCst) <= i {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    let idle = take(&seen);
    support::wait_finished(&db, IDLE_RUNS).await;
    // A backend sends its statistics at a commit a second after its last sending, or
    // once it has been idle for 10 s (PostgreSQL 15's PGSTAT_IDLE_INTERVAL): the service's
    // pooled connections go idle with the last runs' counts unsent, and waiting only a
    // second counted about a third of the rows. The bench's own counting statements are
    // a few dozen, next to thousands.
    tokio::time::sleep(Duration::from_millis(11_000)).await;
    let after = support::db_counters(&db).await;
    let per_run = |a: i64, b: i64| (a - b) as f64 / IDLE_RUNS as f64;

    // Under load: many submitters at once, until every run finished.
    let profile = support::Profile::start(service.pid(), "runner");
    let cpu_before = support::cpu_ms(service.pid());
    let split_before = CpuSnapshot::take(service.pid());
    let machine_before = cpu_split::machine_busy_ms();
    let started = Instant::now();
    submit_many(&http, &api, "null-0", THROUGHPUT_RUNS, 32).await;
    support::wait_finished(&db, IDLE_RUNS + THROUGHPUT_RUNS).await;
    let elapsed = started.elapsed();
    let cpu_per_run = (support::cpu_ms(service.pid()) - cpu_before) / THROUGHPUT_RUNS as f64;
    let runs_cpu = CpuSnapshot::take(service.pid()).since(&split_before, THROUGHPUT_RUNS);
    let runs_machine = (cpu_split::machine_busy_ms() - machine_before) / THROUGHPUT_RUNS as f64;
    profile.stop();
    let loaded = take(&seen);
    let runs_per_second = THROUGHPUT_RUNS as f64 / elapsed.as_secs_f64();

    // Submits alone, as a client sees them (the workers run them meanwhile).
    let submits_1 = submits_per_second(&http, &api, "null-0", 1, SUBMIT_WINDOW).await;
    let submits_32 = submits_per_second(&http, &api, "null-0", 32, SUBMIT_WINDOW).await;
    let submitted: usize = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM runs")
        .fetch_one(&db)
        .await
        .unwrap() as usize;
    support::wait_finished(&db, submitted).await;

    // In flight: the queue is filled through an intake replica with one worker, then the
    // measured replica starts on it, so that what is measured is how many runs one replica
    // holds at once, not how fast this machine's two cores can also submit them.
    service.stop().await;
    let intake = Service::spawn(&url, Some(&null_url), data.path(), 1);
    support::wait_ready(&http, &intake.api).await;
    // Submits alone, with no worker running them meanwhile (the intake's one worker holds
    // a 2 s run): what the API takes in, next to Postgres's plain insert. Those runs are
    // deleted before the in-flight phase.
    let intake_1 = submits_per_second(&http, &intake.api, "null-2001", 1, SUBMIT_WINDOW).await;
    let intake_32 = submits_per_second(&http, &intake.api, "null-2001", 32, SUBMIT_WINDOW).await;
    submit_many(&http, &intake.api, "null-2000", IN_FLIGHT_RUNS, 64).await;
    intake.stop().await;
    sqlx::query("DELETE FROM runs WHERE step->>'function_name' = 'null-2001' AND status = 'queued'")
        .execute(&db)
        .await
        .unwrap();
    let total: usize = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM runs")
        .fetch_one(&db)
        .await
        .unwrap() as usize;
    seen.max_in_flight.store(0, Ordering::SeqCst);
    let mut service = Service::spawn(&url, Some(&null_url), data.path(), 8000);
    let pid = service.pid();

    let (mut peak_rss, mut peak_connections) = (0u64, 0i64);
    loop {
        peak_rss = peak_rss.max(support::rss_mb(pid));
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&db)
        .await
        .unwrap_or(0);
        peak_connections = peak_connections.max(open);
        if support::finished_count(&db).await >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let max_in_flight = seen.max_in_flight.load(Ordering::SeqCst);
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE status <> 'succeeded'")
        .fetch_one(&db)
        .await
        .unwrap();
    let _ = service.child.kill().await;

    // The ceilings, on the same database once the service is gone.
    let insert_1 = pgbench(&url, "pgbench_insert.sql", 1, 5);
    let insert_32 = pgbench(&url, "pgbench_insert.sql", 32, 5);
    let (machine_before, pgbench_before) = (cpu_split::machine_busy_ms(), cpu_split::children_cpu_ms());
    let (job, jobs) = pgbench_counted(&url, "pgbench_job.sql", 20, 10);
    let job_machine = (cpu_split::machine_busy_ms() - machine_before) / jobs as f64;
    let job_pgbench = (cpu_split::children_cpu_ms() - pgbench_before) / jobs as f64;
    db.close().await;
    database.drop().await;

    println!();
    println!("| measure | figure |");
    println!("|---|---|");
    println!("| runs/s end to end through HTTP ({THROUGHPUT_RUNS} runs, 32 submitters) | {runs_per_second:.0} |");
    println!("| the service's CPU per run in those runs, user + system (ms) | {cpu_per_run:.3} |");
    println!(
        "| submits/s at 1 / 32 connections, the workers running them meanwhile | {submits_1:.0} / {submits_32:.0} |"
    );
    println!(
        "| submits/s at 1 / 32 connections into a replica whose worker is busy (the queue grows) | {intake_1:.0} / {intake_32:.0} |"
    );
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
    println!(
        "| Postgres transactions / rows inserted / rows updated per run, one at a time | {:.1} / {:.1} / {:.1} |",
        per_run(after.commits, before.commits),
        per_run(after.inserted, before.inserted),
        per_run(after.updated, before.updated)
    );
    println!("| most runs in flight on one replica, 2 s function ({IN_FLIGHT_RUNS} queued) | {max_in_flight} |");
    println!("| peak RSS of the replica meanwhile (MB) | {peak_rss} |");
    println!("| most database connections of the replica | {peak_connections} |");
    println!("| pgbench plain insert (tps, 1 / 32 clients) | {insert_1:.0} / {insert_32:.0} |");
    println!("| pgbench insert+claim+complete of one job (tps, 20 clients) | {job:.0} |");
    println!(
        "| ratio runs/s / pgbench insert+claim+complete (target >= 1.0) | {:.2} |",
        runs_per_second / job
    );
    println!(
        "| ratio submits/s at 32 / plain insert at 32 (target >= 0.5): workers running them / queue growing | {:.2} / {:.2} |",
        submits_32 / insert_32,
        intake_32 / insert_32
    );
    println!(
        "| ratio submits/s at 32 / at 1 connection (target >= 1.0): workers running them / queue growing | {:.2} / {:.2} |",
        submits_32 / submits_1,
        intake_32 / intake_1
    );
    // A run's Postgres work and its client's alone, against a whole pgbench job, on the
    // whole machine: the most the ratio can be even if the service's own work cost nothing.
    println!(
        "| best ratio these CPU figures allow: a pgbench job / (a run without the service's own CPU) | {:.2} |",
        job_machine / (runs_machine - runs_cpu[0])
    );
    println!("| runs not succeeded | {failed} |");
    println!("| load average at the end | {} |", support::load_average());
    println!();
    println!("CPU per run (ms), by process, from /proc (the client is this benchmark with its null Lambda");
    println!("endpoint), and the whole machine's busy time per run and per pgbench job (/proc/stat), with");
    println!("pgbench's own share (its server backends end with it, so they are counted only in the total):");
    println!();
    println!("| phase | {} | total | machine |", cpu_split::PARTS.join(" | "));
    println!("|---|---|---|---|---|---|---|---|");
    println!("{} {runs_machine:.2} |", cpu_split::row("run end to end", runs_cpu));
    println!(
        "| pgbench insert+claim+complete | | | {:.2} (with the rest) | {job_pgbench:.2} (pgbench) | | | {job_machine:.2} |",
        job_machine - job_pgbench
    );
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
            seen.latencies.lock().push((now - sent) as f64 / 1000.0);
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

fn take(seen: &Seen) -> Vec<f64> {
    std::mem::take(&mut *seen.latencies.lock())
}
