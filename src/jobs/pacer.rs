//! One send slot at a time per WhatsApp number, spaced by the interval
//! (plus jitter) counted from the previous send's **completion**, with
//! customer replies ahead of bulk reminders and a back-off after a 429.
//!
//! With a pause configured the slot lives in the database (`send_pacing`),
//! so every process sending for the number (`serve` ×N, `avisa remind`)
//! shares one rate and one 429 back-off. With no pause (interval and jitter
//! 0: tests, benchmarks) sends are not spaced and nothing is shared but a
//! 429's wait inside the process.
//!
//! governor paces well but has no notion of priority, of a shared slot, or
//! of "the provider told us to wait 60 s", so this small gate does those.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use tokio::time::Instant;

use crate::store::{PaceClaim, Store, StoreResult};

/// Longest sleep between looks at a slot another process holds: its send
/// may finish at any moment.
const POLL_HELD: Duration = Duration::from_millis(25);
/// How long a holder keeps the slot beyond the provider's timeout before
/// others may assume it died mid-send.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// The database slot of one sending account.
#[derive(Debug)]
struct Shared {
    store: Arc<dyn Store>,
    /// Which WhatsApp number (a hash of the provider's credentials).
    sender: String,
    /// This process, as the slot's holder.
    holder: String,
    lease: Duration,
}

#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    jitter: Duration,
    shared: Option<Shared>,
    /// One send at a time in this process while the slot is shared.
    turn: tokio::sync::Mutex<()>,
    /// Without a shared slot: nobody sends before this (429).
    local_next: Mutex<Instant>,
    interactive_waiting: AtomicUsize,
}

/// Keeps the interactive-waiter count right even if the future is dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The right to send one message. [`Slot::done`] starts the pause; a slot
/// dropped without it (an error on the way) is given back all the same.
#[must_use]
pub struct Slot<'a> {
    pacer: &'a Pacer,
    _turn: Option<tokio::sync::MutexGuard<'a, ()>>,
    shared: bool,
}

impl Slot<'_> {
    /// The send finished (whatever its outcome): the next one waits the
    /// interval plus jitter from now.
    pub async fn done(mut self) -> StoreResult<()> {
        self.release(true).await
    }

    /// Nothing was sent (the message was taken meanwhile): no pause.
    pub async fn unused(mut self) -> StoreResult<()> {
        self.release(false).await
    }

    async fn release(&mut self, sent: bool) -> StoreResult<()> {
        if !std::mem::take(&mut self.shared) {
            return Ok(());
        }
        let Some(shared) = &self.pacer.shared else {
            return Ok(());
        };
        let gap = if sent {
            self.pacer.interval + self.pacer.random_jitter()
        } else {
            Duration::ZERO
        };
        shared
            .store
            .pace_release(&shared.sender, &shared.holder, unix_ms() + millis(gap))
            .await
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.shared {
            return;
        }
        if let Some(shared) = &self.pacer.shared {
            let (store, sender, holder) = (
                shared.store.clone(),
                shared.sender.clone(),
                shared.holder.clone(),
            );
            let next = unix_ms() + millis(self.pacer.interval);
            tokio::spawn(async move {
                if let Err(e) = store.pace_release(&sender, &holder, next).await {
                    tracing::warn!(error = %e, "send slot not given back; it frees itself when its lease ends");
                }
            });
        }
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Pacer {
    /// A pacer for this process only (no database): for tests and tools.
    pub fn local(interval: Duration, jitter: Duration) -> Pacer {
        Pacer {
            interval,
            jitter,
            shared: None,
            turn: tokio::sync::Mutex::new(()),
            local_next: Mutex::new(Instant::now()),
            interactive_waiting: AtomicUsize::new(0),
        }
    }

    /// The pacer of sending account `sender`: with a pause configured, its
    /// slot is shared through `store` by every process; `send_timeout`
    /// bounds how long a send may hold it.
    pub fn new(
        interval: Duration,
        jitter: Duration,
        store: Arc<dyn Store>,
        sender: String,
        send_timeout: Duration,
    ) -> Pacer {
        let mut pacer = Pacer::local(interval, jitter);
        if !interval.is_zero() || !jitter.is_zero() {
            pacer.shared = Some(Shared {
                store,
                sender,
                holder: ulid::Ulid::generate().to_string(),
                lease: send_timeout + LEASE_MARGIN,
            });
        }
        pacer
    }

    /// Waits for the send slot. Interactive senders (replies to a
    /// customer, staff) are served before bulk ones in this process.
    pub async fn acquire(&self, interactive: bool) -> StoreResult<Slot<'_>> {
        let _waiting = interactive.then(|| {
            self.interactive_waiting.fetch_add(1, Ordering::SeqCst);
            Waiting(&self.interactive_waiting)
        });
        let Some(shared) = &self.shared else {
            self.wait_local(interactive).await;
            return Ok(Slot {
                pacer: self,
                _turn: None,
                shared: false,
            });
        };
        let turn = loop {
            self.yield_to_interactive(interactive).await;
            let turn = self.turn.lock().await;
            if interactive || self.interactive_waiting.load(Ordering::SeqCst) == 0 {
                break turn;
            }
        };
        loop {
            let now = unix_ms();
            match shared
                .store
                .pace_claim(&shared.sender, &shared.holder, now, millis(shared.lease))
                .await?
            {
                PaceClaim::Granted => {
                    return Ok(Slot {
                        pacer: self,
                        _turn: Some(turn),
                        shared: true,
                    });
                }
                PaceClaim::Wait {
                    until_ms,
                    in_flight,
                } => {
                    let pause = Duration::from_millis(u64::try_from(until_ms - now).unwrap_or(0));
                    // The holder's completion starts the next pause, so a slot in
                    // use is looked at again soon.
                    let wait = if in_flight && pause.is_zero() {
                        POLL_HELD
                    } else {
                        pause
                    };
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
            }
        }
    }

    async fn yield_to_interactive(&self, interactive: bool) {
        while !interactive && self.interactive_waiting.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Without a shared slot: spacing by start times within this process.
    async fn wait_local(&self, interactive: bool) {
        loop {
            let wait = {
                let mut next = self.local_next.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                if !interactive && self.interactive_waiting.load(Ordering::SeqCst) > 0 {
                    Some(Duration::from_millis(20).max(next.saturating_duration_since(now)))
                } else if *next <= now {
                    *next = now + self.interval + self.random_jitter();
                    None
                } else {
                    Some(*next - now)
                }
            };
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Nobody sends before `delay` has passed (the provider said 429): in
    /// this process at once, and in every process sharing the slot.
    pub async fn defer(&self, delay: Duration) {
        {
            let mut next = self.local_next.lock().unwrap_or_else(|e| e.into_inner());
            let until = Instant::now() + delay;
            if *next < until {
                *next = until;
            }
        }
        if let Some(shared) = &self.shared
            && let Err(e) = shared
                .store
                .pace_defer(&shared.sender, unix_ms() + millis(delay))
                .await
        {
            tracing::warn!(error = %e, "429 back-off not shared with other processes");
        }
    }

    fn random_jitter(&self) -> Duration {
        if self.jitter.is_zero() {
            return Duration::ZERO;
        }
        let max = u64::try_from(self.jitter.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_by_the_interval() {
        let pacer = Pacer::local(Duration::from_secs(5), Duration::ZERO);
        let start = Instant::now();
        for _ in 0..3 {
            drop(pacer.acquire(false).await.unwrap());
        }
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_stays_within_bounds() {
        let pacer = Pacer::local(Duration::from_secs(5), Duration::from_secs(2));
        let start = Instant::now();
        drop(pacer.acquire(false).await.unwrap());
        drop(pacer.acquire(false).await.unwrap());
        let gap = start.elapsed();
        assert!(
            gap >= Duration::from_secs(5) && gap <= Duration::from_secs(7),
            "{gap:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn interactive_goes_first() {
        let pacer = Arc::new(Pacer::local(Duration::from_secs(5), Duration::ZERO));
        drop(pacer.acquire(false).await.unwrap()); // uses the free slot
        let order = Arc::new(Mutex::new(Vec::new()));
        let bulk = {
            let (p, o) = (pacer.clone(), order.clone());
            tokio::spawn(async move {
                drop(p.acquire(false).await.unwrap());
                o.lock().unwrap().push("bulk");
            })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        let reply = {
            let (p, o) = (pacer.clone(), order.clone());
            tokio::spawn(async move {
                drop(p.acquire(true).await.unwrap());
                o.lock().unwrap().push("reply");
            })
        };
        bulk.await.unwrap();
        reply.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["reply", "bulk"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_delays_everyone() {
        let pacer = Pacer::local(Duration::ZERO, Duration::ZERO);
        let start = Instant::now();
        pacer.defer(Duration::from_secs(60)).await;
        drop(pacer.acquire(true).await.unwrap());
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }
}
