//! The embedded archive: one SQLite file (WAL journal) in the node's data directory, created
//! with its folder on first start. For one node; clusters share a PostgreSQL archive.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::outbox::outbox_impl;
use super::privacy::*;
use super::runtime::DbRuntime;
use super::sql::{archive_impl, select_find, store_report};
use super::webhooks::webhooks_impl;
use super::ArchiveError;

/// A writer waits this long for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts, and the pause between them, of applying the migrations at start.
const MIGRATION_ATTEMPTS: u32 = 5;
const MIGRATION_RETRY: Duration = Duration::from_millis(100);
/// SQLite has one writer at a time; a few connections serve concurrent reads.
const MAX_CONNECTIONS: u32 = 4;

pub struct SqliteArchive {
    pool: SqlitePool,
    rt: DbRuntime,
    find_sql: String,
}

impl SqliteArchive {
    /// `url`: `sqlite://relative/or/absolute/path.db` (or `sqlite:path`).
    pub async fn open(url: &str) -> Result<Self, ArchiveError> {
        let path = url
            .trim_start_matches("sqlite:")
            .trim_start_matches("//")
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        if let Some(dir) = Path::new(&path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                ArchiveError::Other(format!(
                    "creating the archive folder {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT);
        let rt = DbRuntime::start("sqlite")?;
        let pool = rt
            .run(async move {
                let pool = SqlitePoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .connect_with(options)
                    .await?;
                // SQLite takes no migration lock: two processes opening one new file at once
                // race, and the loser's transaction fails. Its retry finds the migration applied.
                let mut attempt = 1;
                loop {
                    match sqlx::migrate!("./migrations/sqlite").run(&pool).await {
                        Ok(()) => return Ok(pool),
                        Err(e) if attempt >= MIGRATION_ATTEMPTS => {
                            return Err(ArchiveError::Other(format!("archive migrations: {e}")))
                        }
                        Err(e) => {
                            tracing::warn!(attempt, error = %e, "Archive migrations failed; retrying.");
                            attempt += 1;
                            tokio::time::sleep(MIGRATION_RETRY).await;
                        }
                    }
                }
            })
            .await?;
        Ok(Self {
            pool,
            rt,
            find_sql: select_find("SELECT value FROM json_each($6)"),
        })
    }
}

privacy_impl!(SqliteArchive);
archive_impl!(SqliteArchive, sqlx::Sqlite, "sqlite");
outbox_impl!(SqliteArchive);
webhooks_impl!(SqliteArchive);
