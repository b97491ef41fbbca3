//! Fixed clock, dates, phones and subscription rows for the store suites.

use avisa::domain::{Money, Phone, Region};
use avisa::store::NewSubscription;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// The suites' "now": 2026-11-25 14:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn phone(s: &str) -> Phone {
    Phone::parse(s, Region::default()).unwrap()
}

pub fn row(name: &str, tel: &str, service: &str, end: NaiveDate, cents: i64) -> NewSubscription {
    NewSubscription {
        name: name.into(),
        phone: phone(tel),
        email: None,
        service: service.into(),
        end_date: end,
        price: Money::from_cents(cents),
    }
}
