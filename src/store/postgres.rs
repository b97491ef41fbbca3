//! PostgreSQL backend, for hosted and multi-instance deployments.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use super::import::impl_import;
use super::queries::{
    client_search, folded_name, impl_store, message_columns, service_row, subscription_view,
};
use super::{EncodedTask, Pool, StoreError, StoreResult};

pub const MIGRATIONS_TABLE: &str = "avisa_migrations";

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn open(url: &str) -> StoreResult<PostgresStore> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .after_release(|connection, _| Box::pin(super::reusable(connection)))
            .connect(url)
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        Ok(PostgresStore { pool })
    }

    pub fn pg_pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Writes apalis tasks inside our transaction, exactly as
    /// `PostgresStorage`'s own push does inside its.
    async fn push_jobs(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        queue: &str,
        tasks: Vec<EncodedTask>,
    ) -> StoreResult<()> {
        apalis_postgres::queries::push_tasks(&mut **tx, queue, tasks)
            .await
            .map_err(|e| StoreError::Jobs(e.to_string()))
    }

    fn pool_handle(&self) -> Pool {
        Pool::Postgres(self.pool.clone())
    }

    async fn run_migrations(&self) -> StoreResult<()> {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.run(&self.pool).await?;
        Ok(())
    }
}

impl_store!(PostgresStore, sqlx::Postgres, "postgres");
impl_import!(
    PostgresStore,
    sqlx::Postgres,
    "BIGINT PRIMARY KEY",
    "BEGIN",
    setup: [],
    after_match: [[
        "ANALYZE import_rows",
        "ANALYZE import_clients",
        "ANALYZE import_services"
    ]],
    before_write: [],
    write: super::import::sql::WRITE,
);
