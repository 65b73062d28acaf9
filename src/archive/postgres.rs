//! The clustered archive: one PostgreSQL database that every node writes finished
//! conversations to and reads them from.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::outbox::outbox_impl;
use super::privacy::*;
use super::runtime::DbRuntime;
use super::sql::{archive_impl, select_find, store_report};
use super::webhooks::webhooks_impl;
use super::ArchiveError;

/// A query waits this long for a connection: a database that is down fails fast, and the
/// archiver retries later.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_CONNECTIONS: u32 = 8;

pub struct PostgresArchive {
    pool: PgPool,
    rt: DbRuntime,
    find_sql: String,
}

impl PostgresArchive {
    /// Connects and applies the migrations; a database that cannot be reached at start fails
    /// the start (a wrong URL shows at once, not as a growing backlog).
    pub async fn open(url: &str) -> Result<Self, ArchiveError> {
        let options = PgConnectOptions::from_str(url)?;
        let rt = DbRuntime::start("postgres")?;
        let pool = rt
            .run(async move {
                let pool = PgPoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await?;
                sqlx::migrate!("./migrations/postgres")
                    .run(&pool)
                    .await
                    .map_err(|e| ArchiveError::Other(format!("archive migrations: {e}")))?;
                Ok(pool)
            })
            .await?;
        Ok(Self {
            pool,
            rt,
            find_sql: select_find("SELECT jsonb_array_elements_text(CAST($6 AS jsonb))"),
        })
    }
}

privacy_impl!(PostgresArchive);
archive_impl!(PostgresArchive, sqlx::Postgres, "postgres");
outbox_impl!(PostgresArchive);
webhooks_impl!(PostgresArchive);
