//! Prometheus metrics: runs submitted, finished (by status) and rescued, runs in hand,
//! Invoke latency, and the queue's depth read at scrape time. One recorder per process,
//! installed by the first service that starts.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding program's): then this
        // one still renders what this service records through it, which is nothing.
        let _ = metrics::set_global_recorder(recorder);
        metrics::describe_counter!("lambda_steps_runs_submitted_total", "Runs queued, by step type");
        metrics::describe_counter!(
            "lambda_steps_runs_finished_total",
            "Runs finished by this replica, by status"
        );
        metrics::describe_counter!(
            "lambda_steps_runs_rescued_total",
            "Runs a rescuer took back from a stopped worker, by what became of them"
        );
        metrics::describe_gauge!("lambda_steps_runs_in_hand", "Runs this replica is working on");
        metrics::describe_histogram!(
            "lambda_steps_invoke_seconds",
            "Time from sending an Invoke to Lambda's answer"
        );
        metrics::describe_gauge!(
            "lambda_steps_queue_depth",
            "Queued runs in the database, read at scrape time"
        );
        handle
    })
}

pub fn run_submitted(step_type: &'static str) {
    metrics::counter!("lambda_steps_runs_submitted_total", "step_type" => step_type).increment(1);
}

pub fn run_finished(status: &'static str) {
    metrics::counter!("lambda_steps_runs_finished_total", "status" => status).increment(1);
}

pub fn run_rescued(outcome: &'static str) {
    metrics::counter!("lambda_steps_runs_rescued_total", "outcome" => outcome).increment(1);
}

pub fn runs_in_hand(count: usize) {
    metrics::gauge!("lambda_steps_runs_in_hand").set(count as f64);
}

pub fn invoke_answered(seconds: f64) {
    metrics::histogram!("lambda_steps_invoke_seconds").record(seconds);
}

pub fn queue_depth(depth: i64) {
    metrics::gauge!("lambda_steps_queue_depth").set(depth as f64);
}
