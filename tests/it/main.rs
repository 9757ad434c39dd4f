//! Integration tests: one binary, each test against real parts (the engine over HTTP,
//! real interpreters, aws-sdk-lambda, boto3 and awslambdaric from the test venv).

mod access;
mod assume_role;
mod cli;
mod conformance;
mod db_fault_points;
mod db_faults;
mod default_chain;
mod engine_api;
mod engine_limits;
mod engine_logs;
mod engine_node;
mod engine_python;
mod engine_ruby;
mod fake_lambda;
mod first_minute;
mod full_logs;
mod generated_client;
mod hostile_input;
mod iam_policy;
mod lock_order;
mod moto;
mod pg_cluster;
mod readme;
mod rundeck;
mod runner_api;
mod runner_cancel;
mod runner_crash;
mod runner_logs;
mod runner_replicas;
mod runner_retries;
mod runner_sigterm;
mod runner_steps;
mod service;
mod support;
