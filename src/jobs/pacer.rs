//! One send slot per interval (plus jitter) for the whole process, with
//! customer replies ahead of bulk reminders and a shared back-off after a 429.
//!
//! governor paces well but has no notion of priority or of "the provider
//! told us to wait 60 s", so this small gate does both.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    jitter: Duration,
    next_slot: Mutex<Instant>,
    interactive_waiting: AtomicUsize,
}

/// Keeps the interactive-waiter count right even if the future is dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pacer {
    pub fn new(interval: Duration, jitter: Duration) -> Pacer {
        Pacer {
            interval,
            jitter,
            next_slot: Mutex::new(Instant::now()),
            interactive_waiting: AtomicUsize::new(0),
        }
    }

    /// Waits for the next send slot. Interactive senders (replies to a
    /// customer, staff) are served before bulk ones.
    pub async fn acquire(&self, interactive: bool) {
        let _waiting = interactive.then(|| {
            self.interactive_waiting.fetch_add(1, Ordering::SeqCst);
            Waiting(&self.interactive_waiting)
        });
        loop {
            let wait = {
                let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
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

    /// Nobody sends before `delay` has passed (the provider said 429).
    pub fn defer(&self, delay: Duration) {
        let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + delay;
        if *next < until {
            *next = until;
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
        let pacer = Pacer::new(Duration::from_secs(5), Duration::ZERO);
        let start = Instant::now();
        for _ in 0..3 {
            pacer.acquire(false).await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_stays_within_bounds() {
        let pacer = Pacer::new(Duration::from_secs(5), Duration::from_secs(2));
        let start = Instant::now();
        pacer.acquire(false).await;
        pacer.acquire(false).await;
        let gap = start.elapsed();
        assert!(
            gap >= Duration::from_secs(5) && gap <= Duration::from_secs(7),
            "{gap:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn interactive_goes_first() {
        let pacer = Arc::new(Pacer::new(Duration::from_secs(5), Duration::ZERO));
        pacer.acquire(false).await; // uses the free slot
        let order = Arc::new(Mutex::new(Vec::new()));
        let bulk = {
            let (p, o) = (pacer.clone(), order.clone());
            tokio::spawn(async move {
                p.acquire(false).await;
                o.lock().unwrap().push("bulk");
            })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        let reply = {
            let (p, o) = (pacer.clone(), order.clone());
            tokio::spawn(async move {
                p.acquire(true).await;
                o.lock().unwrap().push("reply");
            })
        };
        bulk.await.unwrap();
        reply.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["reply", "bulk"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_delays_everyone() {
        let pacer = Pacer::new(Duration::ZERO, Duration::ZERO);
        let start = Instant::now();
        pacer.defer(Duration::from_secs(60));
        pacer.acquire(true).await;
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }
}
