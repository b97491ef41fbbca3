//! The worker runtime: supervised apalis workers for sends and inbound
//! messages, the daily apalis-cron schedule, the PostgreSQL job listener,
//! and a sweeper that re-queues held or retried messages when they become
//! due. It sits above `chat` (the inbound worker runs the conversation)
//! and `jobs`, below `app`, so every import points down.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use apalis::layers::retry::RetryPolicy;
use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use chrono::Timelike;
use std::future::Future;
use std::pin::Pin;

use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::domain::clock::{local_to_utc, local_today};
use crate::health::supervise;
use crate::jobs::queue::{FetchMedia, HandleInbound, QueueBackend, SendMessage};
use crate::jobs::send::{Delivery, Mode, deliver};
use crate::services::{JobError, Services};
use crate::store::PRIORITY_INTERACTIVE;

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

/// Longest a fetch may run: its slot, WaSender's answer and a 16 MB
/// download (two minutes at most), and the write.
const MEDIA_JOB_TIMEOUT: Duration = Duration::from_secs(300);

async fn media_job(job: FetchMedia, services: Data<Arc<Services>>) -> Result<(), BoxDynError> {
    let outcome = crate::chat::media::fetch(&services, job).await?;
    if let crate::chat::media::Fetched::RetryAfter(wait) = outcome {
        let next = FetchMedia {
            attempt: job.attempt + 1,
            ..job
        };
        services.queue.push_fetch(next, Some(wait)).await?;
    }
    Ok(())
}

/// Longest an inbound message waits for a burst of webhooks to be stored.
const YIELD_TO_INGEST: Duration = Duration::from_secs(2);
/// Longest an inbound job may run: a full batch whose every message waits
/// its longest for ingest, plus a minute of handling.
const INBOUND_JOB_TIMEOUT: Duration =
    Duration::from_secs(60 + YIELD_TO_INGEST.as_secs() * crate::jobs::ingest::MAX_BATCH as u64);

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
    let report = crate::jobs::plan::plan_and_queue(&services, today, true).await?;
    tracing::info!(date = %report.date, planned = ?report.planned, skipped = report.skipped, already_sent = report.already_sent, "daily reminders planned");
    Ok(())
}

/// Wakes a worker to poll its queue when a job is pushed (`wake`), and
/// every `period` as the fallback for jobs pushed elsewhere or due later.
/// apalis' `IntervalStrategy` replaces its timer when it fires without
/// polling the new one, so no wake-up is armed; when a fetch takes longer
/// than the interval (a busy machine, a locked SQLite) the worker then
/// sleeps until its next heartbeat, 30 s later. This one always leaves its
/// timer and its wake-up armed.
#[derive(Debug)]
struct TickOrWake {
    period: Duration,
    wake: Arc<Notify>,
    /// Created on first use, inside the worker's runtime.
    interval: Option<tokio::time::Interval>,
    notified: Option<Pin<Box<OwnedNotified>>>,
}

impl TickOrWake {
    fn new(period: Duration, wake: Arc<Notify>) -> TickOrWake {
        TickOrWake {
            period,
            wake,
            interval: None,
            notified: None,
        }
    }
}

impl Clone for TickOrWake {
    fn clone(&self) -> Self {
        TickOrWake::new(self.period, self.wake.clone())
    }
}

impl PollStrategy for TickOrWake {
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
        let mut ready = false;
        // Poll until Pending: that registers the waker for the next tick.
        while interval.poll_tick(cx).is_ready() {
            ready = true;
        }
        loop {
            let wake = &self.wake;
            let notified = self
                .notified
                .get_or_insert_with(|| Box::pin(wake.clone().notified_owned()));
            if notified.as_mut().poll(cx).is_ready() {
                ready = true;
                self.notified = None;
            } else {
                break;
            }
        }
        if ready {
            std::task::Poll::Ready(Some(()))
        } else {
            std::task::Poll::Pending
        }
    }
}

/// A unique name per worker start: apalis refuses a name whose last
/// heartbeat is recent, and a restarted worker must not wait for it to age.
fn worker_name(kind: &str, start: u64) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    format!("avisa-{kind}-{host}-{}-{start}", std::process::id())
}

/// One run of an apalis worker: until `stop` is cancelled (it finishes its
/// current jobs first), or until it fails (the supervisor starts another).
macro_rules! run_until_cancelled {
    ($worker:expr, $stop:expr) => {{
        let (worker, stop) = ($worker, $stop.clone());
        async move {
            worker
                .run_until(async move {
                    stop.cancelled().await;
                    Ok::<(), std::io::Error>(())
                })
                .await
                .map_err(|e| e.to_string())
        }
    }};
}

macro_rules! spawn_workers {
    ($set:expr, $services:expr, $stop:expr, $send:expr, $inbound:expr, $media:expr) => {{
        let (services, stop, send) = ($services.clone(), $stop.clone(), $send.clone());
        let mut start = 0;
        $set.spawn(supervise(
            services.health.clone(),
            "send_worker",
            stop.clone(),
            move || {
                start += 1;
                let worker = WorkerBuilder::new(worker_name("send", start))
                    .backend(send.clone().poll_with_strategy(TickOrWake::new(
                        Duration::from_millis(250),
                        services.queue.wakeups.send.clone(),
                    )))
                    .concurrency(4)
                    .timeout(JOB_TIMEOUT)
                    .data(services.clone())
                    .build(send_job);
                run_until_cancelled!(worker, stop)
            },
        ));
        let (services, stop, inbound) = ($services.clone(), $stop.clone(), $inbound.clone());
        let mut start = 0;
        $set.spawn(supervise(
            services.health.clone(),
            "inbound_worker",
            stop.clone(),
            move || {
                start += 1;
                let worker = WorkerBuilder::new(worker_name("inbound", start))
                    .backend(inbound.clone().poll_with_strategy(TickOrWake::new(
                        Duration::from_millis(100),
                        services.queue.wakeups.inbound.clone(),
                    )))
                    // One at a time: a customer's messages are answered in order and
                    // two replies never race on the same conversation state.
                    .concurrency(1)
                    .retry(RetryPolicy::retries(3))
                    .timeout(INBOUND_JOB_TIMEOUT)
                    .data(services.clone())
                    .build(inbound_job);
                run_until_cancelled!(worker, stop)
            },
        ));
        let (services, stop, media) = ($services.clone(), $stop.clone(), $media.clone());
        let mut start = 0;
        $set.spawn(supervise(
            services.health.clone(),
            "media_worker",
            stop.clone(),
            move || {
                start += 1;
                let worker = WorkerBuilder::new(worker_name("media", start))
                    .backend(media.clone().poll_with_strategy(TickOrWake::new(
                        Duration::from_millis(250),
                        services.queue.wakeups.media.clone(),
                    )))
                    // Each fetch holds a file in memory: no more at once
                    // than the process' slots (`Services::media_slots`).
                    .concurrency(crate::chat::media::FETCHES_AT_ONCE)
                    .retry(RetryPolicy::retries(3))
                    .timeout(MEDIA_JOB_TIMEOUT)
                    .data(services.clone())
                    .build(media_job);
                run_until_cancelled!(worker, stop)
            },
        ));
    }};
}

/// Starts every background task, each supervised (restarted after an
/// error, reported by `/healthz`); they stop when `stop` is cancelled.
pub fn spawn_all(
    services: Arc<Services>,
    stop: CancellationToken,
) -> Result<JoinSet<()>, JobError> {
    let mut set = JoinSet::new();
    match &services.queue.backend {
        QueueBackend::Sqlite {
            send,
            inbound,
            media,
        } => {
            spawn_workers!(set, services, stop, send, inbound, media)
        }
        QueueBackend::Postgres {
            send,
            inbound,
            media,
        } => {
            spawn_workers!(set, services, stop, send, inbound, media)
        }
    }
    if let crate::store::Pool::Postgres(pool) = services.store.pool() {
        let (wakeups, stop) = (services.queue.wakeups.clone(), stop.clone());
        set.spawn(supervise(
            services.health.clone(),
            "job_listener",
            stop.clone(),
            move || listen_for_jobs(pool.clone(), wakeups.clone(), stop.clone()),
        ));
    }
    let time = services.config.reminder_time;
    let expr = format!("0 {} {} * * *", time.minute(), time.hour());
    let schedule = cron::Schedule::from_str(&expr)
        .map_err(|e| JobError::Queue(format!("schedule {expr}: {e}")))?;
    let cron_services = services.clone();
    let cron_stop = stop.clone();
    let mut start = 0;
    set.spawn(supervise(
        services.health.clone(),
        "schedule",
        stop.clone(),
        move || {
            start += 1;
            let cron_worker = WorkerBuilder::new(worker_name("cron", start))
                .backend(
                    CronScheduler::new(schedule.clone())
                        .with_timezone(cron_services.config.timezone),
                )
                .retry(RetryPolicy::retries(3))
                .timeout(Duration::from_secs(600))
                .data(cron_services.clone())
                .build(cron_job);
            run_until_cancelled!(cron_worker, cron_stop)
        },
    ));
    let sweep_services = services.clone();
    let sweep_stop = stop.clone();
    set.spawn(supervise(
        services.health.clone(),
        "sweeper",
        stop.clone(),
        move || sweeper(sweep_services.clone(), sweep_stop.clone()),
    ));
    set.spawn(startup_catch_up(services, stop));
    Ok(set)
}

/// apalis-postgres notifies `apalis::job::insert` for every job inserted
/// to run now, from any instance: wake the matching local worker, so a
/// reply queued by another instance goes out without waiting for a poll.
async fn listen_for_jobs(
    pool: sqlx::PgPool,
    wakeups: crate::jobs::queue::Wakeups,
    stop: CancellationToken,
) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Inserted {
        job_type: String,
    }
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .map_err(|e| e.to_string())?;
    listener
        .listen("apalis::job::insert")
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let notification = tokio::select! {
            n = listener.recv() => n.map_err(|e| e.to_string())?,
            _ = stop.cancelled() => return Ok(()),
        };
        if let Ok(inserted) = serde_json::from_str::<Inserted>(notification.payload()) {
            wakeups.wake_queue(&inserted.job_type);
        }
    }
}

/// Plans today once at start-up if today's run time has already passed, so
/// a restart or a missed day never skips reminders.
async fn startup_catch_up(services: Arc<Services>, _stop: CancellationToken) {
    let tz = services.config.timezone;
    let today = local_today(services.clock.as_ref(), tz);
    let run_at = local_to_utc(tz, today, services.config.reminder_time);
    if services.clock.now() < run_at {
        return;
    }
    match crate::jobs::plan::plan_and_queue(&services, today, true).await {
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
            && crate::jobs::send::hold_reason(services, &row, Mode::Worker)
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

/// An inbound message still `received` this long after it was stored has
/// lost its job (it gave up while the database was away): queue it again.
/// Handling is idempotent, so a message whose job is merely slow is safe.
const INBOUND_STALE_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

pub async fn requeue_stale_inbound(services: &Services) -> Result<usize, JobError> {
    let before = services.clock.now() - INBOUND_STALE_AFTER;
    let stale = services
        .store
        .stale_inbound(before, crate::jobs::ingest::MAX_BATCH as i64)
        .await?;
    if !stale.is_empty() {
        tracing::warn!(
            count = stale.len(),
            "inbound messages whose job was lost queued again"
        );
        services.queue.push_inbound(&stale).await?;
    }
    Ok(stale.len())
}

/// How long a row may stay `sending` before it counts as interrupted: a
/// send in flight has finished (or timed out) well within this.
const INTERRUPTED_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Re-queues held and orphaned messages every 15 s. A database error ends
/// the round with an error, so the supervisor reports it and starts again.
async fn sweeper(services: Arc<Services>, stop: CancellationToken) -> Result<(), String> {
    loop {
        // A crash mid-send leaves rows in `sending`: whether WhatsApp got
        // them is unknown, so they are never resent automatically.
        let now = services.clock.now();
        let n = services
            .store
            .mark_interrupted_sends_unknown(now - INTERRUPTED_AFTER, now)
            .await
            .map_err(|e| e.to_string())?;
        if n > 0 {
            tracing::warn!(
                count = n,
                "messages interrupted mid-send marked unknown (not resent)"
            );
        }
        sweep_once(&services).await.map_err(|e| e.to_string())?;
        requeue_stale_inbound(&services)
            .await
            .map_err(|e| e.to_string())?;
        crate::chat::media::requeue_lost(&services)
            .await
            .map_err(|e| e.to_string())?;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(15)) => {}
            _ = stop.cancelled() => return Ok(()),
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
    async fn a_push_wakes_the_worker_at_once() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let snapshot = PollSnapshot::default();
        let wake = Arc::new(Notify::new());
        let mut strategy = TickOrWake::new(Duration::from_secs(60), wake.clone());
        assert!(
            strategy.poll_drive(&mut cx, &snapshot).is_ready(),
            "first tick"
        );
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_pending());
        wake.notify_one();
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken by the push");
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_ready());
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_pending());
        // A push while the worker is busy (not polling) is kept for later.
        wake.notify_one();
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_ready());
    }

    #[tokio::test(start_paused = true)]
    async fn every_tick_stays_armed_after_it_fires() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let snapshot = PollSnapshot::default();
        let mut strategy = TickOrWake::new(Duration::from_millis(100), Arc::new(Notify::new()));
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
