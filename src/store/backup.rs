//! `avisa backup FILE`: a consistent copy of the SQLite database, taken while
//! `serve` keeps running. PostgreSQL has `pg_dump` for that.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection};

use super::describe_sqlx;

/// How long the copy waits for a lock (it needs none in WAL mode, except
/// while SQLite recovers a log after a crash).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists: a backup never overwrites a file; choose a new name")]
    Exists(PathBuf),
    #[error("cannot write {file}: folder {folder} does not exist")]
    NoFolder { file: PathBuf, folder: PathBuf },
    #[error("there is no database at {0} to back up (DATABASE_URL)")]
    NoDatabase(PathBuf),
    #[error("backup of {from} into {to} failed: {reason}")]
    Copy {
        from: PathBuf,
        to: PathBuf,
        reason: String,
    },
}

/// What a backup holds, counted in the copy itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupSummary {
    pub bytes: u64,
    pub clients: i64,
    pub subscriptions: i64,
    pub messages: i64,
}

/// Copies the SQLite database at `database` into the new file `target` with
/// `VACUUM INTO`: one read transaction, so the copy is the database as it
/// was at one instant, whatever `serve` writes meanwhile (WAL readers do not
/// block writers). Never overwrites: an existing `target` is an error. The
/// copy is synced to disk and uses a rollback journal, so it is one
/// self-contained file.
pub async fn backup_sqlite(database: &Path, target: &Path) -> Result<BackupSummary, BackupError> {
    if !database.is_file() {
        return Err(BackupError::NoDatabase(database.to_path_buf()));
    }
    // `exists` follows symlinks: a dangling one is refused too.
    if target.exists() || target.symlink_metadata().is_ok() {
        return Err(BackupError::Exists(target.to_path_buf()));
    }
    if let Some(folder) = target.parent().filter(|p| !p.as_os_str().is_empty())
        && !folder.is_dir()
    {
        return Err(BackupError::NoFolder {
            file: target.to_path_buf(),
            folder: folder.to_path_buf(),
        });
    }
    let failed = |reason: String| BackupError::Copy {
        from: database.to_path_buf(),
        to: target.to_path_buf(),
        reason,
    };
    let sql_failed = |e: sqlx::Error| failed(describe_sqlx(&e));

    let mut source = SqliteConnectOptions::new()
        .filename(database)
        .create_if_missing(false)
        .busy_timeout(BUSY_TIMEOUT)
        .connect()
        .await
        .map_err(sql_failed)?;
    let target_text = target
        .to_str()
        .ok_or_else(|| failed("the file name is not valid UTF-8".into()))?;
    // SQLite itself also refuses a target that exists and is not empty.
    let copied = sqlx::query("VACUUM INTO ?")
        .bind(target_text)
        .execute(&mut source)
        .await;
    let _ = source.close().await;
    copied.map_err(sql_failed)?;

    let mut copy = SqliteConnectOptions::new()
        .filename(target)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Delete)
        .connect()
        .await
        .map_err(sql_failed)?;
    let mut counts = [0_i64; 3];
    for (slot, sql) in counts.iter_mut().zip([
        "SELECT COUNT(*) FROM clients",
        "SELECT COUNT(*) FROM subscriptions",
        "SELECT COUNT(*) FROM messages",
    ]) {
        *slot = sqlx::query_scalar(sql)
            .fetch_one(&mut copy)
            .await
            .map_err(sql_failed)?;
    }
    let _ = copy.close().await;

    let file = std::fs::File::open(target).map_err(|e| failed(e.to_string()))?;
    file.sync_all().map_err(|e| failed(e.to_string()))?;
    let bytes = file.metadata().map_err(|e| failed(e.to_string()))?.len();
    let [clients, subscriptions, messages] = counts;
    Ok(BackupSummary {
        bytes,
        clients,
        subscriptions,
        messages,
    })
}
