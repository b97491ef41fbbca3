//! PostgreSQL backend, for hosted and multi-instance deployments.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use super::backend::{Backend, PoolRef, SqlStore};
use super::import::{ImportPlan, sql};
use super::{EncodedTask, Pool, Store, StoreError, StoreResult, describe_sqlx};

pub const MIGRATIONS_TABLE: &str = "avisa_migrations";

/// How long start-up keeps trying to reach the server (sqlx retries a
/// refused connection meanwhile, for a server that is still starting).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the pool could not connect, naming the server (never the password).
/// sqlx retries refused connections until its deadline and then says only
/// `pool timed out…`; one more direct attempt finds the cause.
async fn open_error(options: &PgConnectOptions, error: sqlx::Error) -> String {
    let cause = match error {
        sqlx::Error::PoolTimedOut => {
            match tokio::time::timeout(CONNECT_PROBE_TIMEOUT, PgConnection::connect_with(options))
                .await
            {
                Ok(Err(probe)) => connect_cause(&probe),
                Err(_) => format!(
                    "no answer within {} s (a firewall, or the wrong host?)",
                    (CONNECT_TIMEOUT + CONNECT_PROBE_TIMEOUT).as_secs()
                ),
                Ok(Ok(connection)) => {
                    let _ = connection.close().await;
                    format!(
                        "no connection within {} s \
                         (the server is slow or refusing new connections)",
                        CONNECT_TIMEOUT.as_secs()
                    )
                }
            }
        }
        other => connect_cause(&other),
    };
    format!("PostgreSQL at {}: {cause}", server_name(options))
}

const CONNECT_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// `host:port (database D, user U)`, or the socket folder.
fn server_name(options: &PgConnectOptions) -> String {
    let place = match options.get_socket() {
        Some(socket) => format!("socket {} port {}", socket.display(), options.get_port()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    let database = options.get_database().unwrap_or(options.get_username());
    format!(
        "{place} (database {database}, user {})",
        options.get_username()
    )
}

/// One failed connection attempt in a sentence.
fn connect_cause(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "connection refused (is PostgreSQL running and listening on that address?)".into()
            }
            std::io::ErrorKind::TimedOut => "the connection timed out".into(),
            _ => io.to_string(),
        },
        sqlx::Error::Tls(tls) => format!("TLS: {tls}"),
        other => describe_sqlx(other),
    }
}

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn open(url: &str) -> StoreResult<PostgresStore> {
        // The URL's own parse errors never quote it (it may hold a password).
        let options: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| {
            StoreError::Open(format!("invalid PostgreSQL URL: {}", describe_sqlx(&e)))
        })?;
        match PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(CONNECT_TIMEOUT)
            .after_release(|connection, _| Box::pin(super::reusable(connection)))
            .connect_with(options.clone())
            .await
        {
            Ok(pool) => Ok(PostgresStore { pool }),
            Err(error) => Err(StoreError::Open(open_error(&options, error).await)),
        }
    }

    pub fn pg_pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn backend_name(&self) -> &'static str {
        <sqlx::Postgres as Backend>::NAME
    }

    fn pool(&self) -> Pool {
        Pool::Postgres(self.pool.clone())
    }

    fn background_tasks(&self) -> Vec<crate::health::TaskReport> {
        Vec::new()
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.run(&self.pool).await?;
        super::clients::fill_folded_names(self).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

impl SqlStore for PostgresStore {
    fn pool_ref(&self) -> PoolRef<'_> {
        PoolRef::Postgres(&self.pool)
    }
}

#[async_trait::async_trait]
impl Backend for sqlx::Postgres {
    const NAME: &'static str = "postgres";
    const IMPORT: ImportPlan = ImportPlan {
        key: "BIGINT PRIMARY KEY",
        setup: &[],
        after_match: &[
            "ANALYZE import_rows",
            "ANALYZE import_clients",
            "ANALYZE import_services",
        ],
        before_write: &[],
        begin: "BEGIN",
        write: &sql::WRITE,
    };

    async fn begin_write(
        pool: &sqlx::Pool<Self>,
    ) -> Result<sqlx::Transaction<'static, Self>, sqlx::Error> {
        pool.begin().await
    }

    async fn push_jobs(
        tx: &mut sqlx::Transaction<'static, Self>,
        queue: &str,
        tasks: Vec<EncodedTask>,
    ) -> StoreResult<()> {
        crate::jobs::queue::tables::push_postgres(tx, queue, tasks)
            .await
            .map_err(|e| StoreError::Jobs(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_is_named_without_the_password() {
        let options: PgConnectOptions = "postgres://ana:s3cret@db.example.com:6543/avisa"
            .parse()
            .unwrap();
        assert_eq!(
            server_name(&options),
            "db.example.com:6543 (database avisa, user ana)"
        );
        let refused = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert!(connect_cause(&refused).starts_with("connection refused"));
    }
}
