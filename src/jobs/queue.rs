//! The apalis job queue, in the same database as the data: apalis-sqlite or
//! apalis-postgres. Jobs carry only ids; the rows are the truth.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::error::JobError;
use crate::store::{EncodedTask, InboundJobs, Pool, SendJobs};

mod media;
pub mod tables;

pub use media::{FETCH_QUEUE, FetchMedia, fetch_media_job};

/// Send outbox message `message_id` if it is still queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    pub message_id: i64,
}

/// Run the conversation once for each stored inbound message, in order:
/// the messages one webhook batch stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "InboundArgs")]
pub struct HandleInbound {
    pub message_ids: Vec<i64>,
}

/// What an inbound job's arguments may hold: a batch, or the one message of
/// a job queued by an earlier version (still in the queue after an upgrade).
#[derive(Deserialize)]
#[serde(untagged)]
enum InboundArgs {
    Batch { message_ids: Vec<i64> },
    One { message_id: i64 },
}

impl From<InboundArgs> for HandleInbound {
    fn from(args: InboundArgs) -> HandleInbound {
        let message_ids = match args {
            InboundArgs::Batch { message_ids } => message_ids,
            InboundArgs::One { message_id } => vec![message_id],
        };
        HandleInbound { message_ids }
    }
}

pub const SEND_QUEUE: &str = "avisa::send_message";
pub const INBOUND_QUEUE: &str = "avisa::handle_inbound";

/// apalis retries a job that returned an error; ours return errors only for
/// database trouble, so a few attempts suffice.
pub const JOB_MAX_ATTEMPTS: usize = 5;

/// apalis priorities: replies and notices are fetched before reminders.
const INTERACTIVE_PRIORITY: usize = 10;
const BULK_PRIORITY: usize = 1;

/// Jobs written per transaction by [`JobQueue::push_sends`].
const PUSH_CHUNK: usize = 1_000;

#[derive(Debug, Clone)]
pub struct JobQueue {
    pub backend: QueueBackend,
    /// Messages with a send job pushed by this process and not yet finished,
    /// so the sweeper does not queue them again.
    in_flight: Arc<Mutex<HashSet<i64>>>,
    /// Wakes this process' workers as soon as a job is pushed, instead of
    /// at their next poll (PostgreSQL also wakes other instances: see
    /// `listen_for_jobs`).
    pub wakeups: Wakeups,
    /// Messages this process has claimed (`sending`) and whose outcome is
    /// not recorded yet: what a shutdown that cannot wait marks `unknown`.
    sending: Arc<Mutex<HashSet<i64>>>,
}

/// Counts one message as being sent by this process for as long as it lives.
#[derive(Debug)]
pub struct Sending {
    set: Arc<Mutex<HashSet<i64>>>,
    id: i64,
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// One wake-up per queue: a push stores a permit, so a wake-up that comes
/// while the worker is busy is not lost.
#[derive(Debug, Clone, Default)]
pub struct Wakeups {
    pub send: Arc<Notify>,
    pub inbound: Arc<Notify>,
    pub media: Arc<Notify>,
}

impl Wakeups {
    /// Wakes the worker of the queue named `queue` (apalis' job type).
    pub fn wake_queue(&self, queue: &str) {
        match queue {
            SEND_QUEUE => self.send.notify_one(),
            INBOUND_QUEUE => self.inbound.notify_one(),
            FETCH_QUEUE => self.media.notify_one(),
            _ => {}
        }
    }
}

#[derive(Clone)]
pub enum QueueBackend {
    Sqlite {
        send: SqliteStorage<SendMessage>,
        inbound: SqliteStorage<HandleInbound>,
        media: SqliteStorage<FetchMedia>,
    },
    Postgres {
        send: PostgresStorage<SendMessage>,
        inbound: PostgresStorage<HandleInbound>,
        media: PostgresStorage<FetchMedia>,
    },
}

impl std::fmt::Debug for QueueBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QueueBackend::Sqlite { .. } => "QueueBackend::Sqlite",
            QueueBackend::Postgres { .. } => "QueueBackend::Postgres",
        })
    }
}

impl JobQueue {
    fn new(backend: QueueBackend) -> JobQueue {
        JobQueue {
            backend,
            in_flight: Arc::default(),
            wakeups: Wakeups::default(),
            sending: Arc::default(),
        }
    }

    /// Marks message `id` as being sent by this process until the guard drops.
    pub fn sending(&self, id: i64) -> Sending {
        self.sending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id);
        Sending {
            set: self.sending.clone(),
            id,
        }
    }

    /// Messages whose send this process has started and not recorded.
    pub fn sending_now(&self) -> Vec<i64> {
        let set = self.sending.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<i64> = set.iter().copied().collect();
        ids.sort_unstable();
        ids
    }

    pub fn is_in_flight(&self, message_id: i64) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&message_id)
    }

    /// Called when a send job ends, whatever its outcome.
    pub fn finished(&self, message_id: i64) {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&message_id);
    }

    /// Creates the queue tables (apalis' own migrations) and the storages.
    pub async fn setup(pool: &Pool) -> Result<JobQueue, JobError> {
        match pool {
            Pool::Sqlite(pool) => {
                // apalis' setup turns `synchronous` off on the connection it
                // uses; give it a throwaway connection, not one of ours.
                let options = (*pool.connect_options()).clone();
                let setup_pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .map_err(|e| JobError::Queue(e.to_string()))?;
                SqliteStorage::setup(&setup_pool)
                    .await
                    .map_err(|e| JobError::Queue(e.to_string()))?;
                setup_pool.close().await;
                let send = SqliteStorage::new(pool)
                    .with_config(apalis_sqlite::Config::default().queue(SEND_QUEUE));
                let inbound = SqliteStorage::new(pool)
                    .with_config(apalis_sqlite::Config::default().queue(INBOUND_QUEUE));
                let media = SqliteStorage::new(pool)
                    .with_config(apalis_sqlite::Config::default().queue(FETCH_QUEUE));
                Ok(JobQueue::new(QueueBackend::Sqlite {
                    send,
                    inbound,
                    media,
                }))
            }
            Pool::Postgres(pool) => {
                PostgresStorage::setup(pool)
                    .await
                    .map_err(|e| JobError::Queue(e.to_string()))?;
                let send = PostgresStorage::new(pool)
                    .with_config(apalis_postgres::Config::default().queue(SEND_QUEUE));
                let inbound = PostgresStorage::new(pool)
                    .with_config(apalis_postgres::Config::default().queue(INBOUND_QUEUE));
                let media = PostgresStorage::new(pool)
                    .with_config(apalis_postgres::Config::default().queue(FETCH_QUEUE));
                Ok(JobQueue::new(QueueBackend::Postgres {
                    send,
                    inbound,
                    media,
                }))
            }
        }
    }

    /// Queues a send. `interactive` jobs are fetched before bulk ones.
    pub async fn push_send(
        &self,
        message_id: i64,
        interactive: bool,
        delay: Option<Duration>,
    ) -> Result<(), JobError> {
        let mut builder = TaskBuilder::new(SendMessage { message_id })
            .max_attempts(JOB_MAX_ATTEMPTS)
            .priority(if interactive {
                INTERACTIVE_PRIORITY
            } else {
                BULK_PRIORITY
            });
        if let Some(delay) = delay {
            builder = builder.run_after(delay);
        }
        let task = builder.build();
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(message_id);
        let result = match &self.backend {
            QueueBackend::Sqlite { send, .. } => {
                send.clone().push_task(task).await.map_err(queue_error)
            }
            QueueBackend::Postgres { send, .. } => {
                send.clone().push_task(task).await.map_err(queue_error)
            }
        };
        match &result {
            Ok(()) if delay.is_none() => self.wakeups.send.notify_one(),
            Ok(()) => {}
            Err(_) => self.finished(message_id),
        }
        result
    }

    /// Send jobs the store wrote (in the transaction that queued their
    /// messages) are live: the sweeper leaves their messages alone, and the
    /// send worker is woken.
    pub fn pushed_in_store(&self, message_ids: &[i64]) {
        if message_ids.is_empty() {
            return;
        }
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(message_ids.iter().copied());
        self.wakeups.send.notify_one();
    }

    /// Queues inbound messages whose job was lost, to be handled in order.
    pub async fn push_inbound(&self, message_ids: &[i64]) -> Result<(), JobError> {
        let task = TaskBuilder::new(HandleInbound {
            message_ids: message_ids.to_vec(),
        })
        .max_attempts(JOB_MAX_ATTEMPTS)
        .build();
        let result = match &self.backend {
            QueueBackend::Sqlite { inbound, .. } => {
                inbound.clone().push_task(task).await.map_err(queue_error)
            }
            QueueBackend::Postgres { inbound, .. } => {
                inbound.clone().push_task(task).await.map_err(queue_error)
            }
        };
        if result.is_ok() {
            self.wakeups.inbound.notify_one();
        }
        result
    }

    /// Queues bulk sends for many messages at once: one transaction per
    /// chunk instead of one per job (what planning a day pushes).
    pub async fn push_sends(&self, message_ids: &[i64]) -> Result<(), JobError> {
        for chunk in message_ids.chunks(PUSH_CHUNK) {
            let tasks: Vec<_> = chunk
                .iter()
                .map(|id| {
                    TaskBuilder::new(SendMessage { message_id: *id })
                        .max_attempts(JOB_MAX_ATTEMPTS)
                        .priority(BULK_PRIORITY)
                        .build()
                })
                .collect();
            {
                let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
                in_flight.extend(chunk.iter().copied());
            }
            let tasks = futures::stream::iter(tasks);
            let result = match &self.backend {
                QueueBackend::Sqlite { send, .. } => {
                    send.clone().push_all(tasks).await.map_err(queue_error)
                }
                QueueBackend::Postgres { send, .. } => {
                    send.clone().push_all(tasks).await.map_err(queue_error)
                }
            };
            if result.is_err() {
                for id in chunk {
                    self.finished(*id);
                }
            }
            result?;
            self.wakeups.send.notify_one();
        }
        Ok(())
    }
}

/// The send job as the store writes it beside each reply or notice it
/// queues while handling an inbound message (same transaction).
pub const SEND_JOBS: SendJobs = SendJobs {
    queue: SEND_QUEUE,
    task: encoded_send_task,
};

fn encoded_send_task(message_id: i64) -> EncodedTask {
    // Serializing an integer field cannot fail; the default (empty
    // arguments) is unreachable.
    let args = serde_json::to_vec(&SendMessage { message_id }).unwrap_or_default();
    TaskBuilder::new(args)
        .max_attempts(JOB_MAX_ATTEMPTS)
        .priority(INTERACTIVE_PRIORITY)
        .build()
}

/// The inbound job as the store writes it beside a batch of message rows,
/// in the same transaction (webhook ingest): arguments in apalis' default
/// codec (JSON), keyed by the first id so it is queued only once.
pub const INBOUND_JOBS: InboundJobs = InboundJobs {
    queue: INBOUND_QUEUE,
    task: encoded_inbound_task,
};

fn encoded_inbound_task(message_ids: &[i64]) -> EncodedTask {
    let job = HandleInbound {
        message_ids: message_ids.to_vec(),
    };
    // Serializing a list of integers cannot fail; the default (empty
    // arguments) is unreachable.
    let args = serde_json::to_vec(&job).unwrap_or_default();
    let first = message_ids.first().copied().unwrap_or_default();
    TaskBuilder::new(args)
        .max_attempts(JOB_MAX_ATTEMPTS)
        .idempotency_key(format!("inbound-{first}"))
        .build()
}

fn queue_error(e: impl std::fmt::Display) -> JobError {
    JobError::Queue(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_inbound_task_is_what_the_worker_decodes() {
        let task = encoded_inbound_task(&[42, 43, 45]);
        let job: HandleInbound = serde_json::from_slice(&task.args).unwrap();
        assert_eq!(
            job,
            HandleInbound {
                message_ids: vec![42, 43, 45]
            }
        );
        assert_eq!(task.max_attempts(), Some(JOB_MAX_ATTEMPTS));
        assert_eq!(task.idempotency_key(), Some("inbound-42"));
    }

    #[test]
    fn a_one_message_job_from_an_earlier_version_still_decodes() {
        let job: HandleInbound = serde_json::from_str(r#"{"message_id": 7}"#).unwrap();
        assert_eq!(job.message_ids, vec![7]);
        assert!(serde_json::from_str::<HandleInbound>(r#"{"id": 7}"#).is_err());
    }
}
