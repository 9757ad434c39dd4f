//! The only place with SQL: small functions over a pool or transaction.
//!
//! Queries are checked at run time (`sqlx::query_as`) and covered by the integration
//! tests against a real Postgres; every table's rules also live in CHECK constraints.

pub mod fault;
pub mod keys;
pub mod logs;
pub mod projects;
pub mod queue;
pub mod runs;
pub mod settings;
pub mod steps;
pub mod tokens;

/// The channel that wakes workers: `submit`, or `cancel:{run id}`.
pub const RUNS_CHANNEL: &str = "lambda_steps_runs";
/// The channel that wakes log readers: comma-separated run ids whose log or status moved.
pub const LOGS_CHANNEL: &str = "lambda_steps_logs";
