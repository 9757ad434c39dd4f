//! Integration tests: one binary, each test against real parts (the engine over HTTP,
//! real interpreters, aws-sdk-lambda, boto3 and awslambdaric from the test venv).
//! One folder per area; `support/` holds the helpers that start engines, services, fake
//! AWS endpoints and private Postgres clusters.

// Test code: an unwrap that fails is the test failing, with the value in its message
// (clippy.toml allows it in `#[test]`s; this covers the helpers beside them).
#![allow(clippy::unwrap_used)]

mod access;
mod aws;
mod clients;
mod console;
mod engine;
mod replay;
mod runner;
mod support;
