//! Webhook ingest with group commit. Each request hands its inbound message
//! to one writer task and waits; the writer takes everything that has
//! arrived meanwhile (up to `MAX_BATCH`) and stores the rows together with
//! one job to handle them in one transaction, then answers every waiting
//! request. Under load many webhooks share one commit instead of each
//! paying for two and fighting over SQLite's single write lock; when idle a
//! batch is one message and nothing waits for company.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::error::JobError;
use super::queue::INBOUND_JOBS;
use crate::domain::Clock;
use crate::health::{Health, supervise};
use crate::store::{NewInbound, Store};

/// Most messages written in one transaction (and handled by one job).
pub(crate) const MAX_BATCH: usize = 256;
/// Longest wait for more messages when the previous batch was bigger.
const LINGER: std::time::Duration = std::time::Duration::from_millis(1);
/// Requests that may wait for the writer before senders wait to hand over.
const CHANNEL_CAPACITY: usize = 4_096;

type Outcome = Result<Option<i64>, String>;

struct Pending {
    message: NewInbound,
    done: oneshot::Sender<Outcome>,
}

/// Handle to the ingest writer; cheap to clone. The writer stops when the
/// last handle is dropped.
#[derive(Debug, Clone)]
pub struct Ingest {
    sender: mpsc::Sender<Pending>,
    /// Webhooks handed over and not yet answered.
    waiting: Arc<AtomicUsize>,
}

/// Webhooks waiting at once from which ingest counts as a burst.
const BURST: usize = 8;

impl Ingest {
    /// Spawns the writer on the current tokio runtime, supervised: a panic
    /// fails the batch in hand (those webhooks get 503 and are redelivered)
    /// and the writer starts again on the same channel. `wake` is told when
    /// new messages are stored (the inbound worker's wake-up).
    pub fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        health: Arc<Health>,
        wake: Arc<Notify>,
    ) -> Ingest {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        tokio::spawn(supervise(
            health,
            "ingest_writer",
            CancellationToken::new(),
            move || {
                let (receiver, store, clock, wake) =
                    (receiver.clone(), store.clone(), clock.clone(), wake.clone());
                async move {
                    let mut receiver = receiver.lock().await;
                    writer(&mut receiver, store, clock, wake).await;
                    Ok(())
                }
            },
        ));
        Ingest {
            sender,
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// True while a burst of webhooks is being stored: other writers (the
    /// inbound worker) may step aside so the webhooks' commits go first.
    pub fn is_busy(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) >= BURST
    }

    /// Stores `message` (deduplicated by WhatsApp id) and a job to handle it;
    /// returns once they are committed. `None`: seen before.
    pub async fn submit(&self, message: NewInbound) -> Result<Option<i64>, JobError> {
        let _waiting = Waiting::count(&self.waiting);
        let (done, outcome) = oneshot::channel();
        self.sender
            .send(Pending { message, done })
            .await
            .map_err(|_| JobError::Ingest("the writer has stopped".into()))?;
        outcome
            .await
            .map_err(|_| JobError::Ingest("the writer dropped the message".into()))?
            .map_err(JobError::Ingest)
    }
}

/// Counts one waiting webhook for as long as it lives (also when the
/// request is dropped mid-wait).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(counter: &'a AtomicUsize) -> Waiting<'a> {
        counter.fetch_add(1, Ordering::Relaxed);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Stores batches until every sender is gone.
async fn writer(
    receiver: &mut mpsc::Receiver<Pending>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut previous = 0;
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Answering a big batch releases many clients at once; the first of
        // their next requests would otherwise be written alone, at nearly the
        // cost of the whole batch. Under load, wait briefly for company.
        if batch.len() < previous {
            let deadline = tokio::time::Instant::now() + LINGER;
            while batch.len() < previous {
                let room = MAX_BATCH - batch.len();
                match tokio::time::timeout_at(deadline, receiver.recv_many(&mut batch, room)).await
                {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
        previous = batch.len();
        let (messages, waiting): (Vec<NewInbound>, Vec<oneshot::Sender<Outcome>>) =
            batch.drain(..).map(|p| (p.message, p.done)).unzip();
        metrics::histogram!("avisa_ingest_batch_size").record(messages.len() as f64);
        let outcomes = write(store.as_ref(), &messages, clock.now()).await;
        if outcomes.iter().any(|o| matches!(o, Ok(Some(_)))) {
            wake.notify_one();
        }
        for (done, outcome) in waiting.into_iter().zip(outcomes) {
            // The request may have gone (client hung up); the row stays.
            let _ = done.send(outcome);
        }
    }
}

/// One outcome per message, in order.
async fn write(store: &dyn Store, messages: &[NewInbound], now: DateTime<Utc>) -> Vec<Outcome> {
    match store
        .insert_inbound_batch(messages, &INBOUND_JOBS, now)
        .await
    {
        Ok(ids) => ids.into_iter().map(Ok).collect(),
        Err(e) if messages.len() == 1 => vec![Err(e.to_string())],
        Err(e) => {
            // One bad row must not fail its neighbours: retry them alone.
            tracing::warn!(error = %e, size = messages.len(), "inbound batch failed; storing one by one");
            let mut outcomes = Vec::with_capacity(messages.len());
            for message in messages {
                outcomes.push(
                    store
                        .insert_inbound_batch(std::slice::from_ref(message), &INBOUND_JOBS, now)
                        .await
                        .map(|ids| ids.into_iter().next().flatten())
                        .map_err(|e| e.to_string()),
                );
            }
            outcomes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_while_a_burst_of_webhooks_waits() {
        let (sender, _receiver) = mpsc::channel(1);
        let ingest = Ingest {
            sender,
            waiting: Arc::new(AtomicUsize::new(0)),
        };
        let mut waiting: Vec<Waiting<'_>> = (0..BURST - 1)
            .map(|_| Waiting::count(&ingest.waiting))
            .collect();
        assert!(!ingest.is_busy());
        waiting.push(Waiting::count(&ingest.waiting));
        assert!(ingest.is_busy());
        // A request dropped mid-wait (client gone) stops counting too.
        waiting.pop();
        assert!(!ingest.is_busy());
        drop(waiting);
        assert_eq!(ingest.waiting.load(Ordering::Relaxed), 0);
    }
}
