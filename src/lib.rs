//! lambda-steps: runs AWS Lambda workflow steps, with an embedded Docker-free Lambda engine.

pub mod config;
pub mod engine;
