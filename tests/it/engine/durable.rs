//! Durable functions on the engine, written with AWS's durable execution SDK for Python and
//! driven through boto3 (tests/boto3_durable.py): DurableConfig, executions by name, a
//! step, a 2 s wait, a callback answered from outside, the control plane, containment of
//! the checkpoint API, a wait that outlives a restart of the engine, and AWS's testing
//! SDK's cloud runner as an independent client.

use crate::support::{TestEngine, data_dir};

#[tokio::test(flavor = "multi_thread")]
async fn a_durable_function_steps_waits_and_takes_a_callback_through_boto3() {
    let dir = data_dir();
    let engine = TestEngine::start_durable(dir.path()).await;
    let said = engine.run_python("boto3_durable.py", &["all"], "durable all: ok").await;
    eprintln!("{said}");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_started_before_the_engine_restarts_ends_after_it() {
    let dir = data_dir();
    let engine = TestEngine::start_durable(dir.path()).await;
    let said = engine
        .run_python("boto3_durable.py", &["start-wait"], "durable start-wait: ok")
        .await;
    let arn = said
        .lines()
        .find_map(|l| l.strip_prefix("ARN "))
        .expect("the script prints the execution's ARN")
        .to_string();
    engine.stop().await;

    // A new engine on the same data directory: same key, same executions, same timers.
    let engine = TestEngine::start_durable(dir.path()).await;
    engine
        .run_python("boto3_durable.py", &["finish", &arn], "durable finish: ok")
        .await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_testing_sdks_cloud_runner_passes_its_own_checks_against_the_engine() {
    let dir = data_dir();
    let engine = TestEngine::start_durable(dir.path()).await;
    engine
        .run_python("durable_cloud_runner.py", &[], "durable cloud runner: ok")
        .await;
    engine.stop().await;
}
