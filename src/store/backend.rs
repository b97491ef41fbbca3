//! What differs between SQLite and PostgreSQL, and the one way area modules
//! reach the pool. Everything else is one SQL text for both backends, kept
//! as `const`s in the area modules (`settings.rs`, …) where rustfmt and
//! clippy see it.

use async_trait::async_trait;

use super::{EncodedTask, StoreResult};

/// The backend differences: each is a method here instead of a hook the
/// shared SQL expects a store type to happen to have.
#[async_trait]
pub trait Backend: sqlx::Database {
    const NAME: &'static str;

    /// A transaction that will write. SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes
    /// fails at once with SQLITE_BUSY when another connection wrote in
    /// between, instead of waiting for the busy timeout.
    async fn begin_write(
        pool: &sqlx::Pool<Self>,
    ) -> Result<sqlx::Transaction<'static, Self>, sqlx::Error>;

    /// Writes apalis tasks inside our transaction, so a row and its job
    /// commit together (the job tables' layout is `jobs::queue`'s business).
    async fn push_jobs(
        tx: &mut sqlx::Transaction<'static, Self>,
        queue: &str,
        tasks: Vec<EncodedTask>,
    ) -> StoreResult<()>;
}

/// The pool of a store, borrowed: area implementations match on it (through
/// `on_pool!`) and run the same code with each concrete driver.
#[derive(Debug, Clone, Copy)]
pub enum PoolRef<'a> {
    Sqlite(&'a sqlx::SqlitePool),
    Postgres(&'a sqlx::PgPool),
}

/// A store over one of the two pools. The area traits (`SettingsStore`, …)
/// are implemented once for every `SqlStore`.
pub trait SqlStore: Send + Sync {
    fn pool_ref(&self) -> PoolRef<'_>;
}

/// Runs `$body` with `$pool` bound to the concrete pool (`&SqlitePool` or
/// `&PgPool`): the body is compiled once per backend, so `sqlx` types,
/// binds and `Backend` calls resolve statically.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $crate::store::backend::SqlStore::pool_ref($store) {
            $crate::store::backend::PoolRef::Sqlite($pool) => $body,
            $crate::store::backend::PoolRef::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;
