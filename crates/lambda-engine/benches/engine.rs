//! Benchmark of the embedded engine against ministack, measured in the same run on the
//! same machine through the same client (aws-sdk-lambda) with the same Python echo
//! handler: cold start, warm invoke p50/p99, and invokes per second at concurrency 1, 8
//! and 64. Prints its figures; asserts nothing.
//!
//! Run: `scripts/bench` (it prepares the venv with ministack, then `cargo bench -p lambda-engine --bench engine`).
//!
//! `scripts/bench network` (`cargo bench -p lambda-engine --bench engine -- network`) measures instead what
//! each `--network` mode costs a cold start: engines with `host`, `none` and `isolated`
//! side by side, their cold starts taken in turn, p50 and p99 of each.

// Benchmark code: an unwrap that fails stops the measure with its reason.
#![allow(clippy::unwrap_used)]

#[path = "support/echo.rs"]
mod echo;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use lambda_engine::{Engine, EngineSettings};

const WARM_INVOKES: usize = 2000;
const COLD_STARTS: usize = 5;
const THROUGHPUT_WINDOW: Duration = Duration::from_secs(4);

struct Figures {
    cold_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    per_second: Vec<(usize, f64)>,
}

/// Cold starts per network mode in `network` mode.
const NETWORK_COLD_STARTS: usize = 40;

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "network") {
        return network_cold_starts().await;
    }
    let data = tempfile::tempdir().unwrap();
    let engine = Engine::start(EngineSettings::from_args([
        "--data-dir",
        &data.path().display().to_string(),
    ]))
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let engine_url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let engine_key = (
        engine.key().access_key_id.clone(),
        engine.key().secret_access_key.expose().to_string(),
    );
    tokio::spawn(engine.serve(listener, shutdown.clone()));

    let ministack_port = free_port();
    let mut ministack = tokio::process::Command::new(venv().join("bin/ministack"))
        .env("GATEWAY_PORT", ministack_port.to_string())
        .env("BIND_HOST", "127.0.0.1")
        .env("LAMBDA_EXECUTOR", "local")
        .env("LOG_LEVEL", "ERROR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ministack starts (scripts/bench installs it)");
    let ministack_url = format!("http://127.0.0.1:{ministack_port}");
    wait_for(&ministack_url).await;

    println!(
        "lambda-steps engine benchmark: Python echo handler, aws-sdk-lambda client, {} cores",
        num_cpus()
    );
    // The engine answers only its own key; ministack takes any.
    let key = engine_key.clone();
    let ours = measure("lambda-steps", &client(&engine_url, key)).await;
    let theirs = measure("ministack", &client(&ministack_url, ("test".into(), "test".into()))).await;
    let _ = ministack.kill().await;
    shutdown.cancel();

    println!();
    println!("| measure | lambda-steps | ministack | ratio (ministack / lambda-steps) |");
    println!("|---|---|---|---|");
    row("cold start (ms, median of 5)", ours.cold_ms, theirs.cold_ms, false);
    row("warm invoke p50 (ms)", ours.p50_ms, theirs.p50_ms, false);
    row("warm invoke p99 (ms)", ours.p99_ms, theirs.p99_ms, false);
    for ((c, a), (_, b)) in ours.per_second.iter().zip(&theirs.per_second) {
        row(&format!("invokes/s at concurrency {c}"), *a, *b, true);
    }
}

/// Cold starts under each network mode, taken in turn so that the machine's load falls on
/// all alike.
async fn network_cold_starts() {
    let modes = ["host", "none", "isolated"];
    let data = tempfile::tempdir().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut clients = Vec::new();
    for mode in modes {
        let dir = data.path().join(mode);
        let engine = Engine::start(EngineSettings::from_args([
            "--data-dir",
            &dir.display().to_string(),
            "--network",
            mode,
        ]))
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let key = (
            engine.key().access_key_id.clone(),
            engine.key().secret_access_key.expose().to_string(),
        );
        clients.push(client(&format!("http://{}", listener.local_addr().unwrap()), key));
        tokio::spawn(engine.serve(listener, shutdown.clone()));
    }
    let mut colds = vec![Vec::new(); modes.len()];
    for i in 0..NETWORK_COLD_STARTS {
        for (client, samples) in clients.iter().zip(colds.iter_mut()) {
            let name = format!("bench-network-{i}");
            create(client, &name).await;
            let started = Instant::now();
            invoke(client, &name).await;
            samples.push(ms(started.elapsed()));
        }
    }
    shutdown.cancel();
    println!(
        "lambda-steps cold start by --network mode: Python echo handler, {NETWORK_COLD_STARTS} each, {} cores, engine as {}",
        num_cpus(),
        // SAFETY: geteuid has no preconditions.
        match unsafe { libc::geteuid() } {
            0 => "root".to_string(),
            uid => format!("uid {uid} (not root)"),
        }
    );
    println!();
    println!("| --network | cold start p50 (ms) | p99 (ms) | p50 over host (ms) |");
    println!("|---|---|---|---|");
    let host_p50 = percentile(&mut colds[0].clone(), 0.5);
    for (mode, samples) in modes.iter().zip(colds.iter_mut()) {
        let p50 = percentile(samples, 0.5);
        let p99 = percentile(samples, 0.99);
        println!("| {mode} | {p50:.1} | {p99:.1} | {:+.1} |", p50 - host_p50);
    }
}

fn row(name: &str, ours: f64, theirs: f64, higher_is_better: bool) {
    let ratio = if higher_is_better { ours / theirs } else { theirs / ours };
    println!("| {name} | {ours:.2} | {theirs:.2} | {ratio:.1}x |");
}

async fn measure(label: &str, client: &Client) -> Figures {
    let tag = std::process::id();
    let mut colds = Vec::new();
    for i in 0..COLD_STARTS {
        let name = format!("bench-cold-{tag}-{i}");
        create(client, &name).await;
        let started = Instant::now();
        invoke(client, &name).await;
        colds.push(ms(started.elapsed()));
    }
    let name = format!("bench-echo-{tag}");
    create(client, &name).await;
    for _ in 0..50 {
        invoke(client, &name).await;
    }
    let mut warm = Vec::with_capacity(WARM_INVOKES);
    for _ in 0..WARM_INVOKES {
        let started = Instant::now();
        invoke(client, &name).await;
        warm.push(ms(started.elapsed()));
    }
    let mut per_second = Vec::new();
    for concurrency in [1, 8, 64] {
        run_for(client, &name, concurrency, Duration::from_secs(1)).await;
        let count = run_for(client, &name, concurrency, THROUGHPUT_WINDOW).await;
        per_second.push((concurrency, count as f64 / THROUGHPUT_WINDOW.as_secs_f64()));
    }
    let figures = Figures {
        cold_ms: percentile(&mut colds, 0.5),
        p50_ms: percentile(&mut warm, 0.5),
        p99_ms: percentile(&mut warm, 0.99),
        per_second,
    };
    println!(
        "{label}: cold {:.1} ms, warm p50 {:.3} ms, p99 {:.3} ms, per second {:?}",
        figures.cold_ms, figures.p50_ms, figures.p99_ms, figures.per_second
    );
    figures
}

/// Invokes in `concurrency` loops for `window`; returns how many completed.
async fn run_for(client: &Client, name: &str, concurrency: usize, window: Duration) -> usize {
    let deadline = Instant::now() + window;
    let loops: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, name) = (client.clone(), name.to_string());
            tokio::spawn(async move {
                let mut done = 0;
                while Instant::now() < deadline {
                    invoke(&client, &name).await;
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

async fn create(client: &Client, name: &str) {
    echo::create_echo(client, name).await;
    let _ = client.get_function_configuration().function_name(name).send().await;
}

async fn invoke(client: &Client, name: &str) {
    let out = client
        .invoke()
        .function_name(name)
        .payload(Blob::new(r#"{"hello":"world"}"#))
        .send()
        .await
        .expect("invoke");
    assert!(out.function_error().is_none(), "function error {:?}", out.payload());
}

/// A client of `url` signing with `key` (access key id, secret).
fn client(url: &str, (id, secret): (String, String)) -> Client {
    Client::from_conf(
        aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(id, secret, None, None, "bench"))
            .endpoint_url(url)
            .build(),
    )
}

async fn wait_for(url: &str) {
    let address = url.trim_start_matches("http://").to_string();
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(&address).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not come up");
}

/// Where scripts/deps.sh puts the venv (scripts/bench sets LAMBDA_STEPS_TEST_VENV).
fn venv() -> PathBuf {
    std::env::var_os("LAMBDA_STEPS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[((samples.len() as f64 - 1.0) * q).round() as usize]
}
