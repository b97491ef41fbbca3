//! apalis' job tables, written inside a transaction of ours so that a row
//! and its job commit together. The only place that knows their layout.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::store::EncodedTask;
use crate::store::backend::power_of_two_chunks;

/// Why tasks could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    Sqlite(#[from] sqlx::Error),
    #[error("{0}")]
    Postgres(#[from] apalis_postgres::Error),
}

/// The columns of apalis-sqlite's `Jobs` table that a new task fills.
const SQLITE_INSERT: &str = "INSERT INTO Jobs \
     (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata, \
      idempotency_key) ";
const SQLITE_ON_CONFLICT: &str = " ON CONFLICT (job_type, idempotency_key) DO NOTHING";

/// Writes `tasks` into queue `queue`: the same rows as
/// `apalis_sqlite::queries::push_tasks`, which runs one INSERT (one round
/// trip to SQLite's worker thread) per task; here many share a statement.
pub async fn push_sqlite(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    queue: &str,
    tasks: Vec<EncodedTask>,
) -> Result<(), PushError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    for chunk in power_of_two_chunks(&tasks) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(SQLITE_INSERT);
        insert.push_values(chunk, |mut row, task| {
            let id = task
                .task_id()
                .map(|id| id.to_string())
                .unwrap_or_else(|| ulid::Ulid::generate().to_string());
            // Defaults as apalis' own push: now, 25 attempts, priority 0.
            let run_at = task.run_at().unwrap_or(now) as i64;
            let max_attempts = task.max_attempts().unwrap_or(25) as i64;
            let priority = task.priority().unwrap_or_default() as i64;
            let metadata = serde_json::to_string(task.metadata()).unwrap_or_default();
            row.push_bind(task.args.clone())
                .push_bind(id)
                .push_bind(queue.to_string())
                .push("'Pending'")
                .push("0")
                .push_bind(max_attempts)
                .push_bind(run_at)
                .push_bind(priority)
                .push_bind(metadata)
                .push_bind(task.idempotency_key().map(str::to_string));
        });
        insert.push(SQLITE_ON_CONFLICT);
        insert.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Writes `tasks` into queue `queue` exactly as `PostgresStorage`'s own
/// push does inside its transaction.
pub async fn push_postgres(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    queue: &str,
    tasks: Vec<EncodedTask>,
) -> Result<(), PushError> {
    Ok(apalis_postgres::queries::push_tasks(&mut **tx, queue, tasks).await?)
}
