//! The runner end to end: the API, steps, retries, logs, cancellation, replicas, crashes,
//! SIGTERM, and database faults on a private Postgres.

mod api;
mod approvals;
mod cancel;
mod crash;
mod db_fault_points;
mod db_faults;
mod durable_code;
mod durable_step;
mod engine_in_process;
mod feeds;
mod function_log_in_process;
mod handoff;
mod live;
mod live_fallback;
mod live_faults;
mod lock_order;
mod logs;
mod notify;
mod packages;
mod phases;
mod replicas;
mod retries;
mod sigterm;
mod steps;
mod traces;
mod traces_compression;
mod traces_documented;
mod traces_function;
mod traces_handoff;
