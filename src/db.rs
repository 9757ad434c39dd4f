//! The database: which one (DATABASE_URL, or a local server), created if missing, migrated.

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
    if !Postgres::database_exists(&url).await.context("reaching Postgres")? {
        Postgres::create_database(&url).await.context("creating the database")?;
        tracing::info!("created the database");
    }
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect(&url)
        .await
        .context("connecting to Postgres")?;
    migrate(&pool).await?;
    Ok(pool)
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
