//! SQLite backend: the default, one file, WAL so CLI commands can run beside
//! `avisa serve`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::queries::{
    client_search, folded_name, impl_store, message_columns, service_row, subscription_view,
};
use super::{EncodedTask, Pool, StoreError, StoreResult};

/// Our migrations keep their own bookkeeping table: apalis uses sqlx's
/// default `_sqlx_migrations` for the job queue in the same file.
pub const MIGRATIONS_TABLE: &str = "avisa_migrations";

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
        Ok(SqliteStore { pool })
    }

    pub fn sqlite_pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Takes the write lock up front: a deferred transaction that reads and
    /// then writes fails at once with SQLITE_BUSY when another connection
    /// wrote in between, instead of waiting for the busy timeout.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Writes apalis tasks inside our transaction, exactly as
    /// `SqliteStorage`'s own push does inside its.
    async fn push_jobs(
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        queue: &str,
        tasks: Vec<EncodedTask>,
    ) -> StoreResult<()> {
        apalis_sqlite::queries::push_tasks(&mut **tx, queue, &tasks)
            .await
            .map_err(|e| StoreError::Jobs(e.to_string()))
    }

    fn pool_handle(&self) -> Pool {
        Pool::Sqlite(self.pool.clone())
    }

    async fn run_migrations(&self) -> StoreResult<()> {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.run(&self.pool).await?;
        Ok(())
    }
}

impl_store!(SqliteStore, sqlx::Sqlite, "sqlite");
