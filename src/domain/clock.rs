//! "Now" is injected so tests choose the day and the hour.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stays where a test puts it.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl FixedClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        FixedClock(Arc::new(Mutex::new(now)))
    }

    /// A clock at `date` `time` in the zone `tz`.
    pub fn at_local(tz: Tz, date: NaiveDate, time: NaiveTime) -> Self {
        Self::new(local_to_utc(tz, date, time))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        // A poisoned lock only means another test thread panicked; the value is still usable.
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *guard += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A clock that starts at a chosen instant and then runs at real speed:
/// tests pick "today" and still see retries and back-off come due.
#[derive(Debug, Clone)]
pub struct OffsetClock {
    offset: chrono::Duration,
}

impl OffsetClock {
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        OffsetClock {
            offset: start - Utc::now(),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}

/// The calendar date in the business time zone.
pub fn local_today(clock: &dyn Clock, tz: Tz) -> NaiveDate {
    clock.now().with_timezone(&tz).date_naive()
}

/// A local wall-clock moment as UTC; on a DST gap the earliest valid instant.
pub fn local_to_utc(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        chrono::LocalResult::None => {
            let later = naive + chrono::Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_the_business_date_not_utc() {
        let tz: Tz = "America/Guayaquil".parse().unwrap();
        // 02:00 UTC on the 26th is still the 25th in Ecuador (UTC-5).
        let clock = FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap());
        assert_eq!(
            local_today(&clock, tz),
            NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
        );
        clock.advance(chrono::Duration::hours(4));
        assert_eq!(
            local_today(&clock, tz),
            NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
        );
    }
}
