//! The only place with SQL: small functions over a pool or transaction.
//!
//! Every statement is a `sqlx::query!` / `query_as!` / `query_scalar!`, checked at compile
//! time against the committed `.sqlx/` query data (refreshed with `cargo sqlx prepare --
//! --all-targets` against a migrated database; `scripts/test` fails when it is stale), and
//! covered by the integration tests against a real Postgres. Every table's rules also live
//! in CHECK constraints. Enums stored as text (`RunStatus`, `LogLevel`) are read back with
//! `AS "col: Type"` overrides, so an unknown value is an error, never a guess. JSON columns
//! a run or step holds are read as text (`step::text AS "step!"`) and parsed row by row
//! with [`json_column`], so one bad value spoils only its own row. Parameters the macros
//! cannot type-check (arrays of nullable jsonb, text arrays of `&str`) are passed `as _`.

pub mod callbacks;
pub mod fault;
pub mod keys;
pub mod logs;
pub mod projects;
pub mod queue;
pub mod replays;
pub mod runs;
pub mod settings;
pub mod steps;
pub mod tokens;

/// The channel that wakes workers: `submit`, or `cancel:{run id}`.
pub const RUNS_CHANNEL: &str = "lambda_steps_runs";
/// The channel that wakes log readers: comma-separated run ids whose log or status moved.
pub const LOGS_CHANNEL: &str = "lambda_steps_logs";
/// Most run ids in one notification on `LOGS_CHANNEL`; more are sent as several. A
/// payload must stay under 8,000 bytes, and 200 ids (36 bytes and a comma each) take
/// 7,399: every id arrives whole, so no reader of a run is left to its polling fallback.
pub const RUN_IDS_PER_NOTIFICATION: i64 = 200;

/// The database answers a trivial statement (readiness).
pub async fn ping(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query!("SELECT 1 AS one").fetch_one(db).await?;
    Ok(())
}

/// The server process of this connection, as notifications it sends name it.
pub async fn backend_pid(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<i32> {
    sqlx::query_scalar!(r#"SELECT pg_backend_pid() AS "pid!""#)
        .fetch_one(db)
        .await
}

/// A JSON column read as text and parsed here, one row at a time: a value this service
/// cannot read back (stored before the edge refused such values, or put there by hand)
/// then spoils only its own row, never the statement that read a batch of them. Such a
/// value comes back as a string saying why.
pub fn json_column(text: &str, what: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "a stored {what} cannot be read");
        serde_json::Value::String(format!("the stored {what} cannot be read: {e}"))
    })
}
