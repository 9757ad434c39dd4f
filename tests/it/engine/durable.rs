//! Durable functions on the engine, written with AWS's durable execution SDK for Python and
//! driven through boto3 (tests/boto3_durable.py): DurableConfig, executions by name, a
//! step, a 2 s wait, a callback answered from outside, the control plane, containment of
//! the checkpoint API, a wait that outlives a restart of the engine, and AWS's testing
//! SDK's cloud runner as an independent client.

use crate::support::{TestEngine, data_dir, run_python_check, runtimes_dir};

fn flags(runtimes: &std::path::Path) -> Vec<String> {
    vec!["--runtimes-dir".into(), runtimes.display().to_string()]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_durable_function_steps_waits_and_takes_a_callback_through_boto3() {
    let runtimes = runtimes_dir();
    let dir = data_dir();
    let flags = flags(&runtimes);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let engine = TestEngine::start(dir.path(), &flags).await;
    let [(_, id), (_, secret)] = engine.key_env();
    let said = run_python_check(
        "boto3_durable.py",
        &[engine.url.as_ref(), id.as_ref(), secret.as_ref(), "all".as_ref()],
        "durable all: ok",
    )
    .await;
    eprintln!("{said}");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_started_before_the_engine_restarts_ends_after_it() {
    let runtimes = runtimes_dir();
    let dir = data_dir();
    let flags = flags(&runtimes);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let engine = TestEngine::start(dir.path(), &flags).await;
    let [(_, id), (_, secret)] = engine.key_env();
    let said = run_python_check(
        "boto3_durable.py",
        &[engine.url.as_ref(), id.as_ref(), secret.as_ref(), "start-wait".as_ref()],
        "durable start-wait: ok",
    )
    .await;
    let arn = said
        .lines()
        .find_map(|l| l.strip_prefix("ARN "))
        .expect("the script prints the execution's ARN")
        .to_string();
    engine.stop().await;

    // A new engine on the same data directory: same key, same executions, same timers.
    let engine = TestEngine::start(dir.path(), &flags).await;
    let [(_, id), (_, secret)] = engine.key_env();
    run_python_check(
        "boto3_durable.py",
        &[
            engine.url.as_ref(),
            id.as_ref(),
            secret.as_ref(),
            "finish".as_ref(),
            arn.as_ref(),
        ],
        "durable finish: ok",
    )
    .await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_testing_sdks_cloud_runner_passes_its_own_checks_against_the_engine() {
    let runtimes = runtimes_dir();
    let dir = data_dir();
    let flags = flags(&runtimes);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let engine = TestEngine::start(dir.path(), &flags).await;
    let [(_, id), (_, secret)] = engine.key_env();
    run_python_check(
        "durable_cloud_runner.py",
        &[engine.url.as_ref(), id.as_ref(), secret.as_ref()],
        "durable cloud runner: ok",
    )
    .await;
    engine.stop().await;
}
