//! Integration tests: one binary, each test against real parts (the engine over HTTP,
//! real interpreters, aws-sdk-lambda, boto3 and awslambdaric from the test venv).
//! One folder per area; `support/` holds the helpers that start engines, services, fake
//! AWS endpoints and private Postgres clusters.

mod access;
mod aws;
mod clients;
mod console;
mod engine;
mod replay;
mod runner;
mod support;
