//! Integration tests: one binary, each test against real parts (the engine over HTTP,
//! real interpreters, aws-sdk-lambda, boto3 and awslambdaric from the test venv).

mod access;
mod assume_role;
mod conformance;
mod default_chain;
mod engine_api;
mod engine_limits;
mod engine_logs;
mod engine_node;
mod engine_python;
mod engine_ruby;
mod full_logs;
mod hostile_input;
mod iam_policy;
mod moto;
mod readme;
mod runner_api;
mod runner_cancel;
mod runner_crash;
mod runner_logs;
mod runner_replicas;
mod runner_retries;
mod runner_steps;
mod service;
mod support;
