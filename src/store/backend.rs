//! What differs between SQLite and PostgreSQL, and the one way area modules
//! reach the pool. Everything else is one SQL text for both backends, kept
//! as `const`s in the area modules (`settings.rs`, …) where rustfmt and
//! clippy see it.

use async_trait::async_trait;

use super::import::ImportPlan;
use super::{EncodedTask, StoreError, StoreResult};

/// The backend differences: each is a method here instead of a hook the
/// shared SQL expects a store type to happen to have.
#[async_trait]
pub trait Backend: sqlx::Database {
    const NAME: &'static str;
    /// How an import stages and writes its rows here (see `import.rs`).
    const IMPORT: ImportPlan;

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

/// [`Backend::begin_write`] on a concrete pool: inside `on_pool!` the
/// backend is inferred from `pool`.
pub async fn begin_write<B: Backend>(
    pool: &sqlx::Pool<B>,
) -> Result<sqlx::Transaction<'static, B>, sqlx::Error> {
    B::begin_write(pool).await
}

/// [`Backend::push_jobs`] on a concrete transaction.
pub async fn push_jobs<B: Backend>(
    tx: &mut sqlx::Transaction<'static, B>,
    queue: &str,
    tasks: Vec<EncodedTask>,
) -> StoreResult<()> {
    B::push_jobs(tx, queue, tasks).await
}

/// A query builder for the backend of `pool` (inside `on_pool!` the
/// backend has no name to write `QueryBuilder::<DB>` with).
pub fn query_builder<B: Backend>(_pool: &sqlx::Pool<B>, init: &str) -> sqlx::QueryBuilder<B>
where
    <B as sqlx::Database>::Arguments: Default,
{
    sqlx::QueryBuilder::new(init)
}

/// [`query_builder`] for the backend of a pooled connection.
pub fn query_builder_for<B: Backend>(
    _connection: &sqlx::pool::PoolConnection<B>,
    init: &str,
) -> sqlx::QueryBuilder<B>
where
    <B as sqlx::Database>::Arguments: Default,
{
    sqlx::QueryBuilder::new(init)
}

/// A unique index violation as `Duplicate(field)`; other errors unchanged.
pub(crate) fn unique_as(field: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(field),
        _ => StoreError::Database(e),
    }
}

/// Splits `items` into runs of 64, 32, … 1 rows. A multi-row INSERT's text
/// depends on its row count and a new text is parsed and planned again
/// (a 64-row INSERT costs milliseconds to prepare); with these sizes a
/// connection's statement cache holds every shape after the first batches.
pub fn power_of_two_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    power_of_two_chunks_of(items, 64)
}

/// [`power_of_two_chunks`] of at most `largest` (a power of two) rows.
pub fn power_of_two_chunks_of<T>(mut items: &[T], largest: usize) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let size = if items.len() >= largest {
            largest
        } else {
            1 << items.len().ilog2()
        };
        let (chunk, rest) = items.split_at(size);
        items = rest;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::power_of_two_chunks;

    fn sizes(n: usize) -> Vec<usize> {
        let items: Vec<usize> = (0..n).collect();
        power_of_two_chunks(&items).map(<[usize]>::len).collect()
    }

    #[test]
    fn chunks_are_powers_of_two_of_at_most_64_in_order() {
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), vec![1]);
        assert_eq!(sizes(37), vec![32, 4, 1]);
        assert_eq!(sizes(64), vec![64]);
        assert_eq!(sizes(200), vec![64, 64, 64, 8]);
        for n in 0..300 {
            let items: Vec<usize> = (0..n).collect();
            let joined: Vec<usize> = power_of_two_chunks(&items).flatten().copied().collect();
            assert_eq!(joined, items, "n = {n}");
            assert!(sizes(n).iter().all(|s| s.is_power_of_two() && *s <= 64));
        }
    }
}
