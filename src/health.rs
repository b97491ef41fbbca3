//! Background tasks that must never die silently. Each one runs under
//! [`supervise`]: an error (or a panic) is logged, counted in
//! `avisa_worker_restarts_total{task}`, and the task starts again after a
//! back-off, for as long as the process runs. [`Health`] remembers each
//! task's state for `/healthz`, which answers 503 while one is restarting.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// First wait before a failed task starts again; doubles up to `MAX_BACKOFF`.
const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between restarts: work resumes within this long of the
/// database coming back.
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// A task that ran this long before failing starts again with the shortest
/// back-off (it was healthy; this is a new problem).
const HEALTHY_RUN: Duration = Duration::from_secs(60);
/// How long after a failure a restarted task still counts as recovering:
/// a task that fails on every start must not look healthy between failures.
pub const SETTLE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Running,
    Restarting,
    Stopped,
}

#[derive(Debug, Clone)]
struct TaskState {
    status: TaskStatus,
    restarts: u64,
    last_error: Option<String>,
    last_failure: Option<Instant>,
}

/// One task as `/healthz` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskReport {
    pub name: String,
    pub status: TaskStatus,
    /// False while restarting, or within `SETTLE` of its last failure.
    pub healthy: bool,
    pub restarts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The state of every supervised task of one process; cheap to share.
#[derive(Debug, Default)]
pub struct Health {
    tasks: Mutex<BTreeMap<String, TaskState>>,
}

impl Health {
    pub fn new() -> Arc<Health> {
        Arc::new(Health::default())
    }

    fn update(&self, name: &str, change: impl FnOnce(&mut TaskState)) {
        // A poisoned lock only means a panic elsewhere mid-update; the map
        // itself is still a valid map.
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let state = tasks.entry(name.to_string()).or_insert(TaskState {
            status: TaskStatus::Running,
            restarts: 0,
            last_error: None,
            last_failure: None,
        });
        change(state);
    }

    fn running(&self, name: &str) {
        self.update(name, |s| s.status = TaskStatus::Running);
    }

    fn failed(&self, name: &str, error: &str) {
        self.update(name, |s| {
            s.status = TaskStatus::Restarting;
            s.restarts += 1;
            s.last_error = Some(error.to_string());
            s.last_failure = Some(Instant::now());
        });
    }

    fn stopped(&self, name: &str) {
        self.update(name, |s| s.status = TaskStatus::Stopped);
    }

    /// Every task, by name.
    pub fn report(&self) -> Vec<TaskReport> {
        let now = Instant::now();
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks
            .iter()
            .map(|(name, s)| TaskReport {
                name: name.clone(),
                status: s.status,
                healthy: s.status != TaskStatus::Restarting
                    && s.last_failure
                        .is_none_or(|at| now.duration_since(at) >= SETTLE),
                restarts: s.restarts,
                last_error: s.last_error.clone(),
            })
            .collect()
    }

    /// True when no task is restarting or just recovered.
    pub fn all_healthy(&self) -> bool {
        self.report().iter().all(|t| t.healthy)
    }
}

/// Runs `run()` until `stop` is cancelled, starting it again whenever it
/// fails or panics. `Ok(())` means the task is finished for good (its
/// work is over, e.g. the channel it serves closed). `run` must itself
/// finish once `stop` is cancelled (workers finish their current job
/// first, so this never aborts one).
pub async fn supervise<F, Fut>(health: Arc<Health>, name: &str, stop: CancellationToken, mut run: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut backoff = MIN_BACKOFF;
    loop {
        health.running(name);
        let started = Instant::now();
        let outcome = std::panic::AssertUnwindSafe(run()).catch_unwind().await;
        if stop.is_cancelled() || matches!(outcome, Ok(Ok(()))) {
            health.stopped(name);
            return;
        }
        let error = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(panic) => panic_text(panic.as_ref()),
        };
        if started.elapsed() >= HEALTHY_RUN {
            backoff = MIN_BACKOFF;
        }
        tracing::error!(task = name, error = %error, retry_in_ms = backoff.as_millis() as u64, "background task failed; restarting");
        metrics::counter!("avisa_worker_restarts_total", "task" => name.to_string()).increment(1);
        health.failed(name, &error);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.cancelled() => {
                health.stopped(name);
                return;
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("panicked: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_failing_task_is_restarted_with_backoff_until_it_holds() {
        let health = Health::new();
        let stop = CancellationToken::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let task = {
            let (health, stop, runs) = (health.clone(), stop.clone(), runs.clone());
            tokio::spawn(async move {
                supervise(health, "send", stop.clone(), || {
                    let n = runs.fetch_add(1, Ordering::SeqCst);
                    let stop = stop.clone();
                    async move {
                        match n {
                            0 => Err("pool timed out".to_string()),
                            1 => panic!("boom"),
                            _ => {
                                stop.cancelled().await;
                                Ok(())
                            }
                        }
                    }
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let report = health.report();
        assert_eq!(report[0].status, TaskStatus::Restarting);
        assert!(!health.all_healthy());
        assert_eq!(report[0].last_error.as_deref(), Some("pool timed out"));
        // 250 ms, then 500 ms after the panic.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(
            health.report()[0].last_error.as_deref(),
            Some("panicked: boom")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(health.report()[0].status, TaskStatus::Running);
        assert!(
            !health.all_healthy(),
            "still settling after its last failure"
        );
        tokio::time::sleep(SETTLE).await;
        assert!(health.all_healthy());
        assert_eq!(health.report()[0].restarts, 2);
        stop.cancel();
        task.await.unwrap();
        assert_eq!(health.report()[0].status, TaskStatus::Stopped);
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_finishes_is_not_started_again() {
        let health = Health::new();
        let runs = AtomicUsize::new(0);
        supervise(health.clone(), "ingest", CancellationToken::new(), || {
            runs.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(health.report()[0].status, TaskStatus::Stopped);
        assert!(health.all_healthy());
    }
}
