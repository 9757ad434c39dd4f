//! Prometheus metrics: runs submitted, finished (by status) and rescued, runs in hand,
//! Invoke latency, the lag from a function's print to its line being stored, and the
//! queue's depth read at scrape time, and how often live log readers read the store. One recorder per process, installed by the first
//! service that starts.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Print-to-stored lag of a function's line.
const LINE_LAG: &str = "lambda_steps_function_line_lag_seconds";
/// Its buckets: the engine's target is a quarter of a second, AWS's a few seconds.
const LINE_LAG_BUCKETS: &[f64] = &[0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How long each phase of a run took.
const PHASE: &str = "lambda_steps_run_phase_seconds";
/// Its buckets: a claim takes milliseconds, a package install or a long function minutes.
const PHASE_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(LINE_LAG.into()), LINE_LAG_BUCKETS)
            .expect("the lag buckets are not empty")
            .set_buckets_for_metric(Matcher::Full(PHASE.into()), PHASE_BUCKETS)
            .expect("the phase buckets are not empty")
            .build_recorder();
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
        metrics::describe_histogram!(
            LINE_LAG,
            metrics::Unit::Seconds,
            "Time from a function printing a line (its CloudWatch event time) to the line being stored in the run's log"
        );
        metrics::describe_histogram!(
            PHASE,
            metrics::Unit::Seconds,
            "Time a run spent in each phase (queued, claimed, installing_packages, creating, invoking, returned, cleaned_up), by phase and step type"
        );
        metrics::describe_counter!(
            "lambda_steps_log_reads_total",
            "Statements reading a run's log or status for live readers: by the run's shared feed (once per batch), or by a reader (its backlog when it joins, what it missed when it fell behind)"
        );
        metrics::describe_counter!(
            "lambda_steps_function_log_reads_total",
            "FilterLogEvents queries for a function's lines after its Invoke: `in_process` (the embedded engine of this replica, read without an HTTP call) or `api` (CloudWatch Logs through its API)"
        );
        metrics::describe_counter!(
            "lambda_steps_engine_calls_in_process_total",
            "Requests of this replica's AWS clients to its embedded engine made as calls into the engine, with no socket"
        );
        metrics::describe_gauge!(
            "lambda_steps_queue_depth",
            "Queued runs in the database, read at scrape time"
        );
        handle
    })
}

/// A run left `phase` after `seconds` in it. (No exemplars: the Prometheus text format this
/// exporter writes has none; the trace of a slow phase is found by its run's `trace_id`.)
pub fn phase_took(phase: &'static str, step_type: &'static str, seconds: f64) {
    metrics::histogram!(PHASE, "phase" => phase, "step_type" => step_type).record(seconds);
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

/// A function's line printed at `printed` is stored now.
pub fn function_line_stored(printed: chrono::DateTime<chrono::Utc>) {
    let lag = (chrono::Utc::now() - printed).num_microseconds().unwrap_or(i64::MAX);
    metrics::histogram!(LINE_LAG).record(lag.max(0) as f64 / 1e6);
}

/// A FilterLogEvents query for a function's lines, `via` the in-process engine or the API.
pub fn function_log_read(via: &'static str) {
    metrics::counter!("lambda_steps_function_log_reads_total", "via" => via).increment(1);
}

/// A request of the AWS clients went to this process's engine as a call.
pub fn engine_called_in_process() {
    metrics::counter!("lambda_steps_engine_calls_in_process_total").increment(1);
}

/// A statement read a run's log or status for live readers, `by` a run's feed or a reader.
pub fn log_read(by: &'static str) {
    metrics::counter!("lambda_steps_log_reads_total", "by" => by).increment(1);
}
