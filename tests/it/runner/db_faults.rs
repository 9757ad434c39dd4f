//! Database faults under load never turn a known outcome into a wrong one. Two replicas
//! on a Postgres of the test's own take submits, invoke and finish while the database is
//! restarted (`pg_ctl restart -m fast`) or away for five seconds: every accepted run
//! ends, each invoked at most once, the ones Lambda answered `succeeded`, the ones not
//! sent run after the fault; no submit gets a 500 (a 503 with Retry-After is fine); and
//! `/readyz` answers 503 within a second while the database is away, 200 after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::fake_lambda::{FakeLambda, check_outcomes, wait_all_ended};
use crate::support::pg_cluster::PgCluster;
use crate::support::service::{ADMIN_TOKEN, TestService, authorized};

/// What the submitters saw.
#[derive(Debug, Default)]
struct Submits {
    accepted: usize,
    unavailable: usize,
    /// Anything but 202 and a well-formed 503.
    wrong: Vec<String>,
}

/// What the readiness probe saw: (status, how long the answer took).
type Probes = Vec<(u16, Duration)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_under_load_changes_no_outcome() {
    let report = under_load(|cluster| {
        Box::pin(async move {
            cluster.restart().await;
        })
    })
    .await;
    eprintln!("restart: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_five_second_outage_under_load_changes_no_outcome() {
    let report = under_load(|cluster| {
        Box::pin(async move {
            cluster.stop().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            cluster.start_again().await;
        })
    })
    .await;
    eprintln!("5 s outage: {report:?}");
    assert!(
        report.submits.unavailable > 0,
        "submits during a 5 s outage wait at most --db-acquire-timeout-ms, then get 503: {report:#?}"
    );
    assert!(
        report.probes_503 > 0,
        "/readyz said 503 while the database was away: {report:#?}"
    );
}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug in the test's output
struct Report {
    submits: Submits,
    outcomes: crate::support::fake_lambda::Outcomes,
    probes_503: usize,
    /// The slowest answer of /readyz.
    slowest_probe: Duration,
    fault_took: Duration,
}

/// What the test does to the database while the load runs.
type FaultFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Two replicas under a steady load of submits; `fault` strikes after 1.5 s, the load
/// goes on 2.5 s after it; then every run is checked against what Lambda saw.
async fn under_load(fault: impl FnOnce(Arc<PgCluster>) -> FaultFuture) -> Report {
    let cluster = Arc::new(PgCluster::start().await);
    let (lambda_url, lambda) = FakeLambda::start(100..1500).await;
    let url = cluster.url("lambda_steps");
    let connect = || lambda_steps::db::connect(Some(&url), 20, Duration::from_millis(3000));
    let (first_db, second_db) = (connect().await.unwrap(), connect().await.unwrap());
    let flags = ["--aws-endpoint-url", lambda_url.as_str(), "--lease-seconds", "2"];
    let replicas = [
        TestService::start(first_db.clone(), &flags).await,
        TestService::start(second_db, &flags).await,
    ];
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();

    let stop = CancellationToken::new();
    let submitters: Vec<_> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| tokio::spawn(submit_until(url.clone(), i as i64, stop.clone())))
        .collect();
    let probe = tokio::spawn(probe_readiness(urls[0].clone(), stop.clone()));

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fault_started = Instant::now();
    fault(cluster.clone()).await;
    let fault_took = fault_started.elapsed();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.cancel();

    let mut submits = Submits::default();
    for submitter in submitters {
        let seen = submitter.await.unwrap();
        submits.accepted += seen.accepted;
        submits.unavailable += seen.unavailable;
        submits.wrong.extend(seen.wrong);
    }
    let probes = probe.await.unwrap();

    wait_all_ended(&first_db, Duration::from_secs(60)).await;
    let outcomes = check_outcomes(&first_db, &lambda).await;
    assert!(
        submits.wrong.is_empty(),
        "submits answered other than 202 or 503: {:#?}",
        submits.wrong
    );
    assert!(
        outcomes.other.is_empty(),
        "runs that ended wrongly: {:#?}",
        outcomes.other
    );
    assert_eq!(
        outcomes.outcome_unknown, 0,
        "no replica died and every Invoke was answered, so no outcome is unknown"
    );
    assert!(
        outcomes.succeeded >= submits.accepted,
        "every accepted run succeeded: {outcomes:?} of {submits:?}"
    );
    assert!(lambda.invoked_count() >= submits.accepted);
    assert!(
        probes.iter().all(|(_, took)| *took < Duration::from_millis(1500)),
        "/readyz always answered within a second or so: {probes:?}"
    );
    assert_eq!(
        probes.last().map(|p| p.0),
        Some(200),
        "ready again after the fault: {probes:?}"
    );
    for replica in replicas {
        replica.stop().await;
    }
    first_db.close().await;
    Report {
        probes_503: probes.iter().filter(|(s, _)| *s == 503).count(),
        slowest_probe: probes.iter().map(|(_, took)| *took).max().unwrap_or_default(),
        submits,
        outcomes,
        fault_took,
    }
}

/// Submits runs one after another until `stop`; event `n`s are `lane` modulo 2.
async fn submit_until(url: String, lane: i64, stop: CancellationToken) -> Submits {
    let http = authorized(ADMIN_TOKEN);
    let mut seen = Submits::default();
    let mut n = lane;
    while !stop.is_cancelled() {
        let step = json!({"type": "lambda_invoke", "function_name": "answer", "payload": {"n": n}});
        n += 2;
        let sent = http
            .post(format!("{url}/v1/projects/default/runs"))
            .timeout(Duration::from_secs(10))
            .json(&json!({"step": step}))
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                seen.wrong.push(format!("no answer: {e}"));
                continue;
            }
        };
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").cloned();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        match status {
            202 => seen.accepted += 1,
            503 if retry_after.is_some() && body["error"]["code"] == "unavailable" => seen.unavailable += 1,
            _ => seen.wrong.push(format!("{status} {retry_after:?} {body}")),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    seen
}

/// Asks `/readyz` every 200 ms until `stop`, as an orchestrator's probe would.
async fn probe_readiness(url: String, stop: CancellationToken) -> Probes {
    let http = reqwest::Client::new();
    let mut probes = Vec::new();
    loop {
        let asked = Instant::now();
        let status = match http
            .get(format!("{url}/readyz"))
            .timeout(Duration::from_secs(3))
            .send()
            .await
        {
            Ok(response) => {
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                if status == 503 {
                    assert!(body["reason"].is_string(), "a 503 from /readyz says why: {body}");
                }
                status
            }
            Err(_) => 0,
        };
        probes.push((status, asked.elapsed()));
        if stop.is_cancelled() {
            return probes;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
