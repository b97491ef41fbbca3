//! The fetch-media job: bring an inbound message's file into the database
//! (`jobs::fetch_media`). Pushed by the handling job in its transaction
//! (`apply_inbound`), and again, later, by itself after a transient failure.

use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskSink};
use serde::{Deserialize, Serialize};

use super::{JOB_MAX_ATTEMPTS, JobQueue, QueueBackend, queue_error};
use crate::jobs::error::JobError;
use crate::store::PendingJob;

pub const FETCH_QUEUE: &str = "avisa::fetch_media";

/// Fetch inbound message `message_id`'s file if it is still pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchMedia {
    pub message_id: i64,
    /// A receipt: staff are told (with the file, or saying it could not
    /// be fetched) by this job, once it is done.
    #[serde(default)]
    pub notify: bool,
    /// Fetches tried so far (transient failures are retried with backoff).
    #[serde(default)]
    pub attempt: u32,
}

/// The first fetch, as the handling job writes it beside the message's
/// changes (same transaction).
pub fn fetch_media_job(message_id: i64, notify: bool) -> PendingJob {
    let job = FetchMedia {
        message_id,
        notify,
        attempt: 0,
    };
    // Serializing integers and a flag cannot fail; the default (empty
    // arguments) is unreachable.
    let args = serde_json::to_vec(&job).unwrap_or_default();
    PendingJob {
        queue: FETCH_QUEUE,
        task: TaskBuilder::new(args)
            .max_attempts(JOB_MAX_ATTEMPTS)
            .idempotency_key(format!("media-{message_id}"))
            .build(),
    }
}

impl JobQueue {
    /// Queues a fetch, after `delay` (a retry's backoff) or now.
    pub async fn push_fetch(
        &self,
        job: FetchMedia,
        delay: Option<Duration>,
    ) -> Result<(), JobError> {
        let mut builder = TaskBuilder::new(job).max_attempts(JOB_MAX_ATTEMPTS);
        if let Some(delay) = delay {
            builder = builder.run_after(delay);
        }
        let task = builder.build();
        let result = match &self.backend {
            QueueBackend::Sqlite { media, .. } => {
                media.clone().push_task(task).await.map_err(queue_error)
            }
            QueueBackend::Postgres { media, .. } => {
                media.clone().push_task(task).await.map_err(queue_error)
            }
        };
        if result.is_ok() && delay.is_none() {
            self.wakeups.media.notify_one();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_the_store_writes_is_what_the_worker_decodes() {
        let pending = fetch_media_job(42, true);
        assert_eq!(pending.queue, FETCH_QUEUE);
        let job: FetchMedia = serde_json::from_slice(&pending.task.args).unwrap();
        assert_eq!(
            job,
            FetchMedia {
                message_id: 42,
                notify: true,
                attempt: 0
            }
        );
        assert_eq!(pending.task.idempotency_key(), Some("media-42"));
        let old: FetchMedia = serde_json::from_str(r#"{"message_id": 7}"#).unwrap();
        assert!(!old.notify && old.attempt == 0);
    }
}
