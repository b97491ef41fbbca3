//! Running the queue: apalis workers for sends and inbound messages, the
//! daily apalis-cron schedule, and a sweeper that re-queues held or retried
//! messages when they become due.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use apalis::layers::retry::RetryPolicy;
use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use chrono::Timelike;
use tokio::task::JoinSet;
use tokio_util_shutdown::Shutdown;

use super::queue::{HandleInbound, QueueBackend, SendMessage};
use super::send::{Delivery, Mode, deliver};
use super::{JobError, Services};
use crate::domain::clock::{local_to_utc, local_today};
use crate::store::PRIORITY_INTERACTIVE;

pub mod tokio_util_shutdown {
    //! A cloneable "stop now" signal for background loops.
    use tokio::sync::watch;

    #[derive(Debug, Clone)]
    pub struct Shutdown(watch::Receiver<bool>);

    #[derive(Debug)]
    pub struct Trigger(watch::Sender<bool>);

    pub fn channel() -> (Trigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (Trigger(tx), Shutdown(rx))
    }

    impl Trigger {
        pub fn fire(&self) {
            let _ = self.0.send(true);
        }
    }

    impl Shutdown {
        pub async fn wait(&mut self) {
            while !*self.0.borrow() {
                if self.0.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// How long one job may run: pacing (a few slots) plus one provider call.
const JOB_TIMEOUT: Duration = Duration::from_secs(180);

async fn send_job(job: SendMessage, services: Data<Arc<Services>>) -> Result<(), BoxDynError> {
    let outcome = deliver(&services, job.message_id, Mode::Worker).await;
    services.queue.finished(job.message_id);
    if let Delivery::RetryAt(at) = outcome? {
        let wait = (at - services.clock.now()).to_std().unwrap_or_default();
        services
            .queue
            .push_send(job.message_id, false, Some(wait))
            .await?;
    }
    Ok(())
}

/// Longest an inbound message waits for a burst of webhooks to be stored.
const YIELD_TO_INGEST: Duration = Duration::from_secs(2);
/// Longest an inbound job may run: a full batch whose every message waits
/// its longest for ingest, plus a minute of handling.
const INBOUND_JOB_TIMEOUT: Duration =
    Duration::from_secs(60 + YIELD_TO_INGEST.as_secs() * super::ingest::MAX_BATCH as u64);

async fn inbound_job(job: HandleInbound, services: Data<Arc<Services>>) -> Result<(), BoxDynError> {
    // A failed message does not hold up the rest of its batch: each is
    // handled, and the job fails (and is retried) if any did. A retry
    // skips the messages already handled (their row says so).
    let mut first_error = None;
    for message_id in job.message_ids {
        yield_to_ingest(&services).await;
        if let Err(e) = crate::chat::handle_inbound(&services, message_id).await {
            tracing::warn!(message_id, error = %e, "inbound message not handled; the job will retry");
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Storing webhooks comes first: handling writes to the same database, and
/// under a burst each of its commits holds up a batch of webhooks. A reply
/// is only delayed (at most `YIELD_TO_INGEST`), never skipped.
async fn yield_to_ingest(services: &Services) {
    let until = tokio::time::Instant::now() + YIELD_TO_INGEST;
    while services.ingest.is_busy() && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn cron_job(
    _tick: Tick<chrono_tz::Tz>,
    services: Data<Arc<Services>>,
) -> Result<(), BoxDynError> {
    let today = local_today(services.clock.as_ref(), services.config.timezone);
    let report = super::plan::plan_and_queue(&services, today, true).await?;
    tracing::info!(date = %report.date, planned = ?report.planned, skipped = report.skipped, already_sent = report.already_sent, "daily reminders planned");
    Ok(())
}

/// Wakes a worker to poll its queue every `period`. apalis'
/// `IntervalStrategy` replaces its timer when it fires without polling the
/// new one, so no wake-up is armed; when a fetch takes longer than the
/// interval (a busy machine, a locked SQLite) the worker then sleeps until
/// its next heartbeat, 30 s later, and replies wait that long. This one
/// always leaves its timer armed.
#[derive(Debug)]
struct EveryTick {
    period: Duration,
    /// Created on first use, inside the worker's runtime.
    interval: Option<tokio::time::Interval>,
}

impl EveryTick {
    fn new(period: Duration) -> EveryTick {
        EveryTick {
            period,
            interval: None,
        }
    }
}

impl Clone for EveryTick {
    fn clone(&self) -> Self {
        EveryTick::new(self.period)
    }
}

impl PollStrategy for EveryTick {
    fn poll_drive(
        &mut self,
        cx: &mut std::task::Context<'_>,
        _: &PollSnapshot,
    ) -> std::task::Poll<Option<()>> {
        let period = self.period;
        let interval = self.interval.get_or_insert_with(|| {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        });
        let mut ticked = false;
        // Poll until Pending: that registers the waker for the next tick.
        while interval.poll_tick(cx).is_ready() {
            ticked = true;
        }
        if ticked {
            std::task::Poll::Ready(Some(()))
        } else {
            std::task::Poll::Pending
        }
    }
}

fn worker_name(kind: &str) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    format!("avisa-{kind}-{host}-{}", std::process::id())
}

macro_rules! spawn_workers {
    ($set:expr, $services:expr, $shutdown:expr, $send:expr, $inbound:expr) => {{
        let send_worker = WorkerBuilder::new(worker_name("send"))
            .backend($send.clone().poll_with_strategy(EveryTick::new(Duration::from_millis(250))))
            .concurrency(4)
            .retry(RetryPolicy::retries(3))
            .timeout(JOB_TIMEOUT)
            .data($services.clone())
            .build(send_job);
        let inbound_worker = WorkerBuilder::new(worker_name("inbound"))
            .backend($inbound.clone().poll_with_strategy(EveryTick::new(Duration::from_millis(100))))
            // One at a time: a customer's messages are answered in order and
            // two replies never race on the same conversation state.
            .concurrency(1)
            .retry(RetryPolicy::retries(3))
            .timeout(INBOUND_JOB_TIMEOUT)
            .data($services.clone())
            .build(inbound_job);
        let mut s1 = $shutdown.clone();
        $set.spawn(async move {
            let stop = async move {
                s1.wait().await;
                Ok::<(), std::io::Error>(())
            };
            if let Err(e) = send_worker.run_until(stop).await {
                tracing::error!(error = %e, "send worker stopped");
            }
        });
        let mut s2 = $shutdown.clone();
        $set.spawn(async move {
            let stop = async move {
                s2.wait().await;
                Ok::<(), std::io::Error>(())
            };
            if let Err(e) = inbound_worker.run_until(stop).await {
                tracing::error!(error = %e, "inbound worker stopped");
            }
        });
    }};
}

/// Starts every background task; they stop when `shutdown` fires.
pub fn spawn_all(services: Arc<Services>, shutdown: Shutdown) -> Result<JoinSet<()>, JobError> {
    let mut set = JoinSet::new();
    match &services.queue.backend {
        QueueBackend::Sqlite { send, inbound } => {
            spawn_workers!(set, services, shutdown, send, inbound)
        }
        QueueBackend::Postgres { send, inbound } => {
            spawn_workers!(set, services, shutdown, send, inbound)
        }
    }
    let time = services.config.reminder_time;
    let expr = format!("0 {} {} * * *", time.minute(), time.hour());
    let schedule = cron::Schedule::from_str(&expr)
        .map_err(|e| JobError::Queue(format!("schedule {expr}: {e}")))?;
    let cron_worker = WorkerBuilder::new(worker_name("cron"))
        .backend(CronScheduler::new(schedule).with_timezone(services.config.timezone))
        .retry(RetryPolicy::retries(3))
        .timeout(Duration::from_secs(600))
        .data(services.clone())
        .build(cron_job);
    let mut s3 = shutdown.clone();
    set.spawn(async move {
        let stop = async move {
            s3.wait().await;
            Ok::<(), std::io::Error>(())
        };
        if let Err(e) = cron_worker.run_until(stop).await {
            tracing::error!(error = %e, "schedule stopped");
        }
    });
    set.spawn(sweeper(services.clone(), shutdown.clone()));
    set.spawn(startup_catch_up(services, shutdown));
    Ok(set)
}

/// Plans today once at start-up if today's run time has already passed, so
/// a restart or a missed day never skips reminders.
async fn startup_catch_up(services: Arc<Services>, _shutdown: Shutdown) {
    let tz = services.config.timezone;
    let today = local_today(services.clock.as_ref(), tz);
    let run_at = local_to_utc(tz, today, services.config.reminder_time);
    if services.clock.now() < run_at {
        return;
    }
    match super::plan::plan_and_queue(&services, today, true).await {
        Ok(report) => {
            tracing::info!(date = %report.date, planned = ?report.planned, "start-up catch-up planned")
        }
        Err(e) => tracing::error!(error = %e, "start-up catch-up failed"),
    }
}

/// Messages that were held (quiet hours, pause, session down) or whose
/// job was lost in a restart get a new send job once deliverable. Messages
/// with a live job in this process are left alone.
pub async fn sweep_once(services: &Services) -> Result<usize, JobError> {
    let queued = services.store.queued_messages(10_000).await?;
    metrics::gauge!("avisa_queue_depth").set(queued.len() as f64);
    let now = services.clock.now();
    let mut pushed = 0;
    for message in queued {
        if message.next_attempt_at.is_some_and(|at| at > now)
            || services.queue.is_in_flight(message.id)
        {
            continue;
        }
        if let Some(row) = services.store.message(message.id).await?
            && super::send::hold_reason(services, &row, Mode::Worker)
                .await?
                .is_some()
        {
            continue;
        }
        services
            .queue
            .push_send(message.id, message.priority == PRIORITY_INTERACTIVE, None)
            .await?;
        pushed += 1;
    }
    Ok(pushed)
}

async fn sweeper(services: Arc<Services>, mut shutdown: Shutdown) {
    // A crash mid-send leaves rows in `sending`; never resend them blindly.
    let cutoff = services.clock.now() - chrono::Duration::minutes(5);
    if let Ok(n) = services
        .store
        .fail_interrupted_sends(cutoff, services.clock.now())
        .await
        && n > 0
    {
        tracing::warn!(count = n, "messages interrupted mid-send marked failed");
    }
    loop {
        if let Err(e) = sweep_once(&services).await {
            tracing::warn!(error = %e, "outbox sweep failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(15)) => {}
            _ = shutdown.wait() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Wake, Waker};

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_tick_stays_armed_after_it_fires() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let snapshot = PollSnapshot::default();
        let mut strategy = EveryTick::new(Duration::from_millis(100));
        // The first tick is immediate; nothing else wakes the worker after it.
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_ready());
        tokio::time::advance(Duration::from_millis(150)).await;
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken for the next tick");
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_ready());
        // Fired and re-armed in the same call: the wake-up still comes.
        tokio::time::advance(Duration::from_millis(150)).await;
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }
}
