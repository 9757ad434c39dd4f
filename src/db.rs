//! The database: which one (DATABASE_URL, or a local server), created if missing, migrated.
//! Replicas started together race through both: the one whose CREATE DATABASE loses uses
//! the database the winner made, and sqlx's migrator applies the migrations under a
//! Postgres advisory lock, so the others wait and then find them applied.

use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

/// Local servers tried when no DATABASE_URL is set: the Debian socket, then TCP.
const LOCAL_CANDIDATES: &[&str] = &[
    "postgres://%2Fvar%2Frun%2Fpostgresql/lambda_steps",
    "postgres://postgres@127.0.0.1:5432/lambda_steps",
];

/// Connects, creating the database when it is missing, and applies the migrations.
/// `acquire_timeout` bounds how long a statement waits for a connection while the
/// database is away (the pool keeps reconnecting meanwhile): a request then gets a 503,
/// and the queue's own writes try again (see store/fault.rs).
pub async fn connect(
    database_url: Option<&str>,
    max_connections: u32,
    acquire_timeout: Duration,
) -> anyhow::Result<PgPool> {
    let url = match database_url {
        Some(url) => url.to_string(),
        None => find_local().await?,
    };
    create_if_missing(&url).await?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect(&url)
        .await
        .context("connecting to Postgres")?;
    migrate(&pool).await?;
    Ok(pool)
}

async fn create_if_missing(url: &str) -> anyhow::Result<()> {
    if Postgres::database_exists(url).await.context("reaching Postgres")? {
        return Ok(());
    }
    match Postgres::create_database(url).await {
        Ok(()) => tracing::info!("created the database"),
        Err(e) if created_meanwhile(&e) => tracing::info!("another replica created the database first; using it"),
        Err(e) => return Err(e).context("creating the database"),
    }
    Ok(())
}

/// Whether CREATE DATABASE failed because the same name was created at the same time:
/// `duplicate_database` when the other creation had committed before this one looked,
/// a unique violation on `pg_database`'s name index when both were under way at once.
fn created_meanwhile(error: &sqlx::Error) -> bool {
    const DUPLICATE_DATABASE: &str = "42P04";
    const UNIQUE_VIOLATION: &str = "23505";
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == DUPLICATE_DATABASE || code == UNIQUE_VIOLATION)
}

/// Applies the migrations in `migrations/` (forward-only).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!().run(pool).await.context("applying migrations")
}

async fn find_local() -> anyhow::Result<String> {
    for candidate in LOCAL_CANDIDATES {
        if Postgres::database_exists(candidate).await.is_ok() {
            return Ok(candidate.to_string());
        }
    }
    anyhow::bail!(
        "no DATABASE_URL and no local Postgres answers (tried {}): start one, or run scripts/start, which does",
        LOCAL_CANDIDATES.join(", ")
    )
}
