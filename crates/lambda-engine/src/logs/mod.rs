//! The engine's CloudWatch Logs: what functions print, kept as CloudWatch keeps it (a group
//! per function, a stream per execution environment, events with their print and ingestion
//! times) and served through the CloudWatch Logs API on the engine's own endpoint.
//! Storage (`store`, `stream`, `read`) is apart from the protocol (`api`).

pub mod api;
pub mod local;
pub mod pattern;
pub mod read;
mod requests;
mod sink;
pub mod store;
pub mod stream;

pub use sink::LogSink;
pub use store::{LogStore, now_ms};
