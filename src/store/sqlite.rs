//! SQLite backend: the default, one file, WAL so CLI commands can run beside
//! `avisa serve`.

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqlitePool};

use super::backend::{Backend, PoolRef, SqlStore};
use super::import::{ImportPlan, sql};
use super::{EncodedTask, Pool, Store, StoreError, StoreResult};
use crate::health::{Health, supervise};
use tokio_util::sync::CancellationToken;

/// Our migrations keep their own bookkeeping table: apalis uses sqlx's
/// default `_sqlx_migrations` for the job queue in the same file.
pub const MIGRATIONS_TABLE: &str = "avisa_migrations";

/// How often the background task moves the write-ahead log into the
/// database file and starts the log over. Often enough that each
/// checkpoint's disk syncs are small (a quarter second of writes).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The checkpoint task stops once every clone of this store is gone.
    _alive: Arc<()>,
    /// The checkpoint task's state (it is supervised: restarted on error).
    health: Arc<Health>,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Sorts and temporary indexes in memory, not in files under /var/tmp.
            .pragma("temp_store", "memory")
            // No connection checkpoints when it commits (that commit would
            // stall 20-30 ms copying the log and syncing the file, with the
            // write lock held); `checkpoint_in_background` does it instead.
            .pragma("wal_autocheckpoint", "0")
            // Disk kept by the log after a checkpoint has reset it.
            .pragma("journal_size_limit", "67108864");
        let checkpoint_options = options.clone();
        let pool = SqlitePoolOptions::new()
            .after_connect(|connection, _| Box::pin(install_busy_handler(connection, retry_soon)))
            .after_release(|connection, _| Box::pin(super::reusable(connection)))
            .max_connections(8)
            // A local file has no connection to lose; the check before each
            // acquire would cost a round trip to SQLite's thread every time.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
        // Fail at start-up, not in the background, if it cannot connect.
        let first = checkpoint_options
            .connect()
            .await
            .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
        let alive = Arc::new(());
        let health = Health::new();
        let mut first = Some(first);
        let (weak, checkpoint_pool) = (Arc::downgrade(&alive), pool.clone());
        tokio::spawn(supervise(
            health.clone(),
            "sqlite_checkpoints",
            CancellationToken::new(),
            move || {
                let (options, pool, alive) = (
                    checkpoint_options.clone(),
                    checkpoint_pool.clone(),
                    weak.clone(),
                );
                let reused = first.take();
                async move {
                    let connection = match reused {
                        Some(connection) => connection,
                        None => options.connect().await.map_err(|e| e.to_string())?,
                    };
                    checkpoint_in_background(connection, pool, alive).await
                }
            },
        ));
        Ok(SqliteStore {
            pool,
            _alive: alive,
            health,
        })
    }

    pub fn sqlite_pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Longest a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Pauses between two tries for a lock another connection holds: the
/// first after 100 µs, doubling up to 1 ms.
const BUSY_FIRST_PAUSE: Duration = Duration::from_micros(100);
const BUSY_LONGEST_PAUSE: Duration = Duration::from_millis(1);

/// Replaces SQLite's default busy handler (`busy_timeout`), which sleeps
/// 1, 2, 5, 10 … up to 100 ms between tries: a write that finds the lock
/// taken for a moment (a worker's transaction, the job queue's fetch) would
/// then wait 25-100 ms after it was free, which is most of a webhook's
/// latency budget. This one never pauses more than 1 ms.
async fn install_busy_handler(
    connection: &mut sqlx::SqliteConnection,
    handler: BusyHandler,
) -> Result<(), sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is this connection's open handle, locked away from its
    // worker thread for this call; the callback has the signature SQLite
    // expects, uses no argument and lives for the whole program.
    let rc =
        unsafe { libsqlite3_sys::sqlite3_busy_handler(db, Some(handler), std::ptr::null_mut()) };
    if rc == libsqlite3_sys::SQLITE_OK {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(format!(
            "sqlite3_busy_handler failed with code {rc}"
        )))
    }
}

/// SQLite's busy callback: non-zero means "try again", zero gives up with
/// SQLITE_BUSY. `tries` counts the calls for this wait, from 0.
type BusyHandler = extern "C" fn(*mut std::ffi::c_void, std::ffi::c_int) -> std::ffi::c_int;

/// The pool's busy handler: waits up to `BUSY_TIMEOUT`.
extern "C" fn retry_soon(_: *mut std::ffi::c_void, tries: std::ffi::c_int) -> std::ffi::c_int {
    let tries = u32::try_from(tries).unwrap_or(u32::MAX);
    // After the doubling steps every pause is the longest one.
    if BUSY_LONGEST_PAUSE * tries >= BUSY_TIMEOUT {
        return 0;
    }
    let pause = BUSY_FIRST_PAUSE * 2u32.saturating_pow(tries.min(4));
    std::thread::sleep(pause.min(BUSY_LONGEST_PAUSE));
    1
}

/// Longest the checkpoint connection's RESTART waits, first for the write
/// lock, then (holding it) for readers to leave the log.
const RESTART_PATIENCE_TRIES: std::ffi::c_int = 10;

/// The checkpoint connection's busy handler: 10 pauses of 100 µs, then
/// the restart is left for the next round.
extern "C" fn give_up_soon(_: *mut std::ffi::c_void, tries: std::ffi::c_int) -> std::ffi::c_int {
    if tries >= RESTART_PATIENCE_TRIES {
        return 0;
    }
    std::thread::sleep(BUSY_FIRST_PAUSE);
    1
}

/// Every `CHECKPOINT_EVERY`, on its own connection, copies the write-ahead
/// log into the database file and starts the log over.
///
/// Two PASSIVE checkpoints do the copying without taking any lock a writer
/// needs: the first copies the last quarter second, the second what was
/// committed meanwhile. Then a RESTART copies the last few frames with the
/// write lock held (about 1-5 ms) so the next commit writes the log from its
/// start again. Without the restart, under steady webhooks the log never
/// drains, grows by tens of MB a second, and on ext4 every append to the
/// growing file waited behind the checkpoint's disk sync (stalls of
/// 20-80 ms; with the restart it overwrites blocks it already has). When a
/// writer or readers keep the restart waiting longer than 1 ms it gives up
/// until the next round.
///
/// Ends with `Ok` once the store is gone, with the error when a checkpoint
/// fails (the supervisor then starts it again on a new connection).
async fn checkpoint_in_background(
    mut connection: sqlx::SqliteConnection,
    pool: SqlitePool,
    alive: Weak<()>,
) -> Result<(), String> {
    if let Err(e) = install_busy_handler(&mut connection, give_up_soon).await {
        tracing::warn!(error = %e, "SQLite checkpoint connection: busy handler not installed");
    }
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.strong_count() == 0 || pool.is_closed() {
            break;
        }
        for step in [
            "PRAGMA wal_checkpoint(PASSIVE)",
            "PRAGMA wal_checkpoint(PASSIVE)",
            "PRAGMA wal_checkpoint(RESTART)",
        ] {
            // (busy, frames in the log, frames copied); busy = 1 when a
            // RESTART gave up.
            let outcome: Result<(i64, i64, i64), _> =
                sqlx::query_as(step).fetch_one(&mut connection).await;
            match outcome {
                Ok((busy, log, copied)) => {
                    tracing::trace!(step, busy, log, copied, "SQLite checkpoint");
                }
                Err(e) => {
                    let _ = connection.close().await;
                    return Err(format!("SQLite checkpoint failed: {e}"));
                }
            }
        }
    }
    let _ = connection.close().await;
    Ok(())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        <sqlx::Sqlite as Backend>::NAME
    }

    fn pool(&self) -> Pool {
        Pool::Sqlite(self.pool.clone())
    }

    fn background_tasks(&self) -> Vec<crate::health::TaskReport> {
        self.health.report()
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
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

impl SqlStore for SqliteStore {
    fn pool_ref(&self) -> PoolRef<'_> {
        PoolRef::Sqlite(&self.pool)
    }
}

#[async_trait::async_trait]
impl Backend for sqlx::Sqlite {
    const NAME: &'static str = "sqlite";
    // The import's staging tables go to a temporary file (not memory: a
    // million rows would be a hundred MB of it). Page caches of 8 MB while
    // staging and matching (SQLite's sorts take as much memory as the main
    // cache), 48 MB for the write: it touches every page of the tables and
    // indexes it grows, and each one read again from the file is time with
    // the write lock held. New clients are numbered before the write.
    const IMPORT: ImportPlan = ImportPlan {
        key: "INTEGER PRIMARY KEY",
        setup: &[
            "PRAGMA temp_store = FILE",
            "PRAGMA temp.cache_size = -8192",
            "PRAGMA cache_size = -8192",
        ],
        after_match: &sql::NUMBER_NEW_CLIENTS,
        before_write: &["PRAGMA cache_size = -49152"],
        begin: "BEGIN IMMEDIATE",
        write: &sql::WRITE_NUMBERED,
    };

    /// Takes the write lock up front (see [`Backend::begin_write`]).
    async fn begin_write(
        pool: &sqlx::Pool<Self>,
    ) -> Result<sqlx::Transaction<'static, Self>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn push_jobs(
        tx: &mut sqlx::Transaction<'static, Self>,
        queue: &str,
        tasks: Vec<EncodedTask>,
    ) -> StoreResult<()> {
        crate::jobs::queue::tables::push_sqlite(tx, queue, tasks)
            .await
            .map_err(|e| StoreError::Jobs(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_handler_retries_until_the_timeout() {
        assert_eq!(retry_soon(std::ptr::null_mut(), 0), 1);
        assert_eq!(retry_soon(std::ptr::null_mut(), 3), 1);
        let last_try = (BUSY_TIMEOUT.as_millis() / BUSY_LONGEST_PAUSE.as_millis()) as i32;
        assert_eq!(retry_soon(std::ptr::null_mut(), last_try - 1), 1);
        assert_eq!(retry_soon(std::ptr::null_mut(), last_try), 0);
    }

    #[tokio::test]
    async fn the_log_is_checkpointed_in_the_background_not_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("avisa.db");
        let store = SqliteStore::open(&path).await.unwrap();
        store.migrate().await.unwrap();
        let pool = store.sqlite_pool();
        let mut connection = pool.acquire().await.unwrap();
        let auto: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        assert_eq!(auto, 0, "commits must not checkpoint");
        let busy_handler_installed: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        // sqlite3_busy_handler clears the busy_timeout setting.
        assert_eq!(busy_handler_installed, 0);
        drop(connection);

        let before = std::fs::metadata(&path).unwrap().len();
        sqlx::query("CREATE TABLE filler (data BLOB)")
            .execute(pool)
            .await
            .unwrap();
        // 8 MB: more than the 1,000-page log an automatic checkpoint allows.
        fill_8_mb(pool).await;
        grows_past(&path, before + 8_000_000).await;
        pool.close().await;
    }

    #[tokio::test]
    async fn the_log_starts_over_instead_of_growing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("avisa.db");
        let log = dir.path().join("avisa.db-wal");
        let store = SqliteStore::open(&path).await.unwrap();
        let pool = store.sqlite_pool();
        sqlx::query("CREATE TABLE filler (data BLOB)")
            .execute(pool)
            .await
            .unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        fill_8_mb(pool).await;
        grows_past(&path, before + 8_000_000).await;
        // A round later the restart has run too (it follows the copy).
        tokio::time::sleep(CHECKPOINT_EVERY * 2).await;
        let first = std::fs::metadata(&log).unwrap().len();
        assert!(first > 8_000_000, "the log held the first 8 MB: {first}");

        let before = std::fs::metadata(&path).unwrap().len();
        fill_8_mb(pool).await;
        grows_past(&path, before + 8_000_000).await;
        let second = std::fs::metadata(&log).unwrap().len();
        // Appended after the first 8 MB, the log would be over 16 MB.
        assert!(
            second < first + 2_000_000,
            "the second 8 MB were appended, not written over the first: {first} → {second} bytes"
        );
        pool.close().await;
    }

    async fn fill_8_mb(pool: &SqlitePool) {
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 80) \
             INSERT INTO filler SELECT randomblob(100000) FROM n",
        )
        .execute(pool)
        .await
        .unwrap();
    }

    /// Waits (10 rounds at most) until the checkpoints have copied the log
    /// into the database file, so that it is over `size` bytes.
    async fn grows_past(path: &Path, size: u64) {
        let deadline = std::time::Instant::now() + CHECKPOINT_EVERY * 10;
        loop {
            let now = std::fs::metadata(path).unwrap().len();
            if now > size {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the database file did not grow past {size} bytes: {now}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
